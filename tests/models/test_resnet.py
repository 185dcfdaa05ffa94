"""CIFAR ResNet-20 and ResNet-32 (He et al. 2016, Sec. 4.2)."""

import pytest
import torch

from imbalance_lab.models import create_model


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("name", "exact", "paper"),
    [("resnet20", 269_722, 0.27e6), ("resnet32", 464_154, 0.46e6)],
)
def test_parameter_counts_match_the_paper(name, exact, paper):
    model = create_model(name, num_classes=10)
    assert count(model) == exact  # 3-channel input, 10 classes, option-A shortcuts
    assert abs(exact - paper) / paper < 0.02


@pytest.mark.parametrize(("name", "blocks"), [("resnet20", 9), ("resnet32", 15)])
def test_three_stages_of_16_32_64_channels(name, blocks):
    model = create_model(name, num_classes=10)
    widths = [block.conv2.out_channels for block in model.blocks]
    n = blocks // 3
    assert widths == [16] * n + [32] * n + [64] * n
    assert [block.stride for block in model.blocks].count(2) == 2


@pytest.mark.parametrize("name", ["resnet20", "resnet32"])
@pytest.mark.parametrize(
    ("num_classes", "channels", "size"), [(2, 3, 32), (10, 3, 32), (10, 1, 28)]
)
def test_output_shapes(name, num_classes, channels, size):
    model = create_model(name, num_classes=num_classes, in_channels=channels, image_size=size)
    assert model(torch.randn(4, channels, size, size)).shape == (4, num_classes)


def test_option_a_shortcut_pads_channels_with_zeros():
    block = create_model("resnet20", num_classes=10).blocks[3]  # the first 32-channel block
    x = torch.randn(2, 16, 8, 8)
    out = block.shortcut(x)
    assert out.shape == (2, 32, 4, 4)
    assert torch.equal(out[:, 8:24], x[:, :, ::2, ::2])
    assert not out[:, :8].any() and not out[:, 24:].any()


def counted_by_hand(depth: int, width: int, num_classes: int, in_channels: int = 3) -> int:
    """He et al.'s CIFAR ResNet with option-A shortcuts: convs and BN (weight, bias) only."""
    n = (depth - 2) // 6
    total = 9 * in_channels * width + 2 * width  # stem conv + BN
    channels = width
    for c in (width, 2 * width, 4 * width):
        for _ in range(n):
            total += 9 * channels * c + 9 * c * c + 4 * c  # two 3x3 convs, two BNs
            channels = c
    return total + channels * num_classes + num_classes  # linear head


@pytest.mark.parametrize("width", [16, 64])
def test_width_scales_every_stage(width):
    model = create_model("resnet32", num_classes=10, width=width)
    assert count(model) == counted_by_hand(32, width, 10)
    assert [b.conv2.out_channels for b in model.blocks][::5] == [width, 2 * width, 4 * width]
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_cosine_head_replaces_only_the_last_layer():
    torch.manual_seed(0)
    plain = create_model("resnet32", num_classes=10)
    torch.manual_seed(0)
    cosine = create_model("resnet32", num_classes=10, head="cosine")
    assert count(cosine) == count(plain) - 10  # no bias
    assert type(cosine.head).__name__ == "CosineClassifier"
    x = torch.randn(3, 3, 32, 32)
    assert cosine.features(x).shape == (3, 64)


def test_the_default_head_is_the_plain_linear_one():
    torch.manual_seed(0)
    default = create_model("resnet32", num_classes=10)
    torch.manual_seed(0)
    linear = create_model("resnet32", num_classes=10, head="linear", width=16)
    for (k, a), (_, b) in zip(
        default.state_dict().items(), linear.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), k
    assert isinstance(default.head, torch.nn.Linear)


def test_auto_head_follows_the_runs_loss_and_the_spec_records_what_was_built():
    ldam = create_model("resnet32", num_classes=10, loss="ldam", width=8)
    assert type(ldam.head).__name__ == "CosineClassifier"
    assert ldam.model_spec.params == {"head": "cosine", "width": 8}
    plain = create_model("resnet32", num_classes=10, loss="logit-adjusted")
    assert isinstance(plain.head, torch.nn.Linear)
    assert plain.model_spec.params == {"head": "linear", "width": 16}
    assert isinstance(create_model("resnet32", num_classes=10).head, torch.nn.Linear)
