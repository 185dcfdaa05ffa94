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
