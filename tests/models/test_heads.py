"""The cosine classifier of Cao et al. 2019 and the head choice."""

import math

import pytest
import torch
import torch.nn.functional as F

from imbalance_lab.errors import ConfigError
from imbalance_lab.models import CosineClassifier, create_model, resolve_head
from imbalance_lab.models.heads import make_head
from imbalance_lab.strategies import create_loss

CIFAR10_LT = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]


def test_cosine_head_gives_the_cosine_between_features_and_each_class_vector():
    torch.manual_seed(0)
    head = CosineClassifier(6, 4)
    x = torch.randn(5, 6) * 10
    expected = torch.stack(
        [F.cosine_similarity(x, w[None].expand(5, 6), dim=1) for w in head.weight], dim=1
    )
    assert torch.allclose(head(x), expected, atol=1e-6)
    assert head(x).abs().max() <= 1 + 1e-6
    # Rescaling the features or a class vector changes nothing: only directions count.
    assert torch.allclose(head(3 * x), head(x), atol=1e-6)
    assert not any(name == "bias" for name, _ in head.named_parameters())


def test_cosine_head_starts_with_unit_class_vectors_and_learns():
    head = CosineClassifier(8, 3)
    assert torch.allclose(head.weight.norm(dim=1), torch.ones(3))
    x = torch.randn(4, 8)
    head(x).sum().backward()
    assert head.weight.grad.abs().sum() > 0


def test_untrained_resnet32_with_cosine_head_keeps_ldam_near_cross_entropy():
    # Cao et al.'s model: logits are cosines, so s = 30 and margins <= 0.5 give a bounded
    # loss: CE(s (z - Delta)) <= log C + s (2 + max_m) for any input. With a plain linear
    # head the same untrained network gives an LDAM loss in the hundreds (issue #16: ~148).
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 3, 32, 32, generator=g), torch.randint(0, 10, (32,), generator=g)
    ldam = create_loss("ldam", class_counts=CIFAR10_LT)
    ce = create_loss("weighted-ce", class_counts=CIFAR10_LT)
    values = {}
    for head in ("cosine", "linear"):
        torch.manual_seed(0)
        model = create_model("resnet32", num_classes=10, head=head)
        with torch.no_grad():
            z = model(x)
        values[head] = (z, ldam(z, y).item(), ce(z, y).item())
    z, ldam_cos, ce_cos = values["cosine"]
    assert z.abs().max() <= 1 + 1e-6
    assert ldam_cos <= math.log(10) + 30 * (2 + 0.5)
    # Measured on real CIFAR images (report): cosine 15.4 vs CE 2.3; linear 157 vs CE 5.3.
    assert ldam_cos < values["linear"][1] / 4
    assert ce_cos == pytest.approx(math.log(10), abs=0.2)  # cosines near 0 at the start


@pytest.mark.parametrize(
    ("head", "loss", "resolved"),
    [("auto", "ldam", "cosine"), ("auto", "logit-adjusted", "linear"), ("auto", "focal", "linear"),
     ("linear", "ldam", "linear"), ("cosine", "weighted-ce", "cosine")],
)  # fmt: skip
def test_auto_head_is_cosine_only_for_ldam(head, loss, resolved):
    assert resolve_head(head, loss) == resolved


def test_bad_head_names_get_one_line_errors():
    with pytest.raises(
        ConfigError, match="--head must be one of auto, linear, cosine; got 'cosin'"
    ):
        resolve_head("cosin", "ldam")
    with pytest.raises(ConfigError, match="resolve it with resolve_head"):
        make_head("auto", 64, 10)
    with pytest.raises(ConfigError, match="--head must be one of auto, linear, cosine; got 'lin'"):
        create_model("resnet32", num_classes=10, head="lin")
