"""Standard torchvision backbones: the head, the stem, and normalisation from the weights."""

import pytest
import torch
from torch import nn
from torchvision.models import get_model_weights

from imbalance_lab.errors import ConfigError
from imbalance_lab.models import create_model, model_names
from imbalance_lab.models.backbones import BACKBONES, default_input_size

# Building these takes seconds on 2 cores (28M and 24M weights initialised).
HEAVY = {"convnext_tiny", "resnet50"}
NAMES = [pytest.param(b.name, marks=pytest.mark.slow) if b.name in HEAVY else b.name
         for b in BACKBONES]  # fmt: skip


def test_the_backbones_users_reach_for_first_are_registered():
    for name in ("resnet18", "resnet50", "mobilenet_v3_small", "mobilenet_v3_large",
                 "efficientnet_b0", "convnext_tiny"):  # fmt: skip
        assert name in model_names()
    assert model_names()[0] == "article-convnet"  # the default is still listed first


def _final_map(model: nn.Module, size: int, channels: int = 3) -> tuple[int, int]:
    """Height and width of the feature map the global pool reads."""
    seen = {}

    def record(module, args, out):
        seen["x"] = args[0].shape

    model.avgpool.register_forward_hook(record)
    with torch.no_grad():
        model.eval()(torch.zeros(1, channels, size, size))
    return tuple(seen["x"][2:])


@pytest.mark.parametrize("name", NAMES)
def test_head_normalisation_and_small_stem(name):
    model = create_model(name, num_classes=3, image_size=32)
    spec = model.model_spec
    last_linear = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    assert spec.head == last_linear
    assert model.get_submodule(spec.head).out_features == 3
    # Normalisation from the model's torchvision weights, not a constant of ours.
    transforms = get_model_weights(name).DEFAULT.transforms()
    assert spec.input.mean == tuple(transforms.mean) == (0.485, 0.456, 0.406)
    assert spec.input.std == tuple(transforms.std) == (0.229, 0.224, 0.225)
    assert spec.input.size == 32 and spec.params == {"stem": "small"}
    # Below 64 px the small stem: 8x downsampling in all, a 4x4 map for 32 px (ImageNet: 1x1).
    assert _final_map(model, 32) == (4, 4)
    assert default_input_size(name) == 224


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small"])
def test_auto_stem_is_imagenet_from_64_px_and_settable(name):
    big = create_model(name, num_classes=2, image_size=64)
    assert big.model_spec.params == {"stem": "imagenet"} and _final_map(big, 64) == (2, 2)
    forced = create_model(name, num_classes=2, image_size=64, stem="small")
    assert _final_map(forced, 64) == (8, 8)


def test_resnet_small_stem_is_a_3x3_stride_1_conv_without_max_pool():
    model = create_model("resnet18", num_classes=2, in_channels=1, image_size=28)
    assert (model.conv1.in_channels, model.conv1.kernel_size, model.conv1.stride) == (
        1,
        (3, 3),
        (1, 1),
    )
    assert isinstance(model.maxpool, nn.Identity)


def test_imagenet_stem_on_tiny_images_is_refused_in_one_line():
    with pytest.raises(
        ConfigError, match=r"needs images of at least 32x32, got 28x28; use --stem small$"
    ):
        create_model("convnext_tiny", num_classes=2, image_size=28, stem="imagenet")


def test_unknown_stem_is_refused():
    with pytest.raises(
        ConfigError, match="--stem must be one of auto, imagenet, small; got 'tiny'"
    ):
        create_model("resnet18", num_classes=2, stem="tiny")
