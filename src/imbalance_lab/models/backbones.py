"""Standard torchvision backbones, with the head replaced for the task's classes.

One row per backbone in :data:`BACKBONES`, one function builds them all. Normalisation
comes from the model's torchvision weights (``weights.transforms()``: the ImageNet
statistics), never from a trainer constant.

**The small-image stem.** ImageNet stems shrink an image 4x before the first block
(ResNet: 7x7 stride-2 conv, then a stride-2 max-pool; MobileNetV3/EfficientNet: a
stride-2 conv, then a stride-2 block; ConvNeXt: a 4x4 stride-4 "patchify" conv), so a
32 px image reaches the first block at 8 px. ``stem="small"`` removes that 4x, the usual
CIFAR adaptation (He et al. 2016, Sec. 4.2, start CIFAR nets with a 3x3 stride-1 conv):

- ResNet: conv1 becomes a 3x3 stride-1 conv and the max-pool goes;
- MobileNetV3, EfficientNet: the stem conv and the first stride-2 block get stride 1
  (their kernels are unchanged, so pretrained weights still load in full);
- ConvNeXt: the 4x4 stride-4 patchify conv becomes a 3x3 stride-1 conv.

Every backbone then downsamples 8x in all, ending on a 4x4 map for 32 px input.
``stem="auto"`` (the default) picks the small stem below 64 px. A replaced stem conv (and
the stem conv of a grey, 1-channel input) has no pretrained counterpart: it starts from
the family's own initialisation, every other layer is loaded, and the model's notes say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from torch import nn

from imbalance_lab.errors import ConfigError
from imbalance_lab.models.pretrained import load_pretrained
from imbalance_lab.models.registry import MODELS
from imbalance_lab.models.spec import IMAGENET_MEAN, IMAGENET_STD, InputSpec, ModelSpec, attach_spec
from imbalance_lab.params import Param, optional, text

SMALL_IMAGE = 64  # below this size, "auto" picks the small-image stem
IMAGENET_STEM_MIN = 32  # the ImageNet stems downsample 32x in all

STEM = Param(
    "stem", "auto",
    "first layers of a torchvision backbone: imagenet (4x early downsampling), small "
    "(none: for images under 64 px), or auto (small below 64 px)",
    "model", choices=("auto", "imagenet", "small"), example="imagenet",
)  # fmt: skip
PRETRAINED = Param(
    "pretrained", None,
    "start a torchvision backbone from weights: a torchvision weights name such as "
    "IMAGENET1K_V1 (read from torch's hub cache), or a state-dict file",
    "model", parse=optional(text), example="IMAGENET1K_V1", metavar="NAME|PATH",
)  # fmt: skip


@dataclass(frozen=True)
class Backbone:
    name: str  # the torchvision builder, and the name users type
    summary: str  # one line for `imbalance-lab models`
    stem: str  # dotted path of the first conv
    small: str  # how the small stem is made: "resnet", "strided" or "patchify" (see above)
    head: str  # dotted path of the classification layer that is replaced


BACKBONES = (
    Backbone("resnet18", "ResNet-18 (He et al. 2016), torchvision, ImageNet weights available: "
             "11.2M weights", "conv1", "resnet", "fc"),
    Backbone("resnet50", "ResNet-50 (He et al. 2016), torchvision, ImageNet weights available: "
             "23.5M weights", "conv1", "resnet", "fc"),
    Backbone("mobilenet_v3_small", "MobileNetV3-Small (Howard et al. 2019), torchvision, "
             "ImageNet weights available: 1.5M weights", "features.0.0", "strided", "classifier.3"),
    Backbone("mobilenet_v3_large", "MobileNetV3-Large (Howard et al. 2019), torchvision, "
             "ImageNet weights available: 4.2M weights", "features.0.0", "strided", "classifier.3"),
    Backbone("efficientnet_b0", "EfficientNet-B0 (Tan & Le 2019), torchvision, ImageNet weights "
             "available: 4.0M weights", "features.0.0", "strided", "classifier.1"),
    Backbone("convnext_tiny", "ConvNeXt-T (Liu et al. 2022), torchvision, ImageNet weights "
             "available: 27.8M weights", "features.0.0", "patchify", "classifier.2"),
)  # fmt: skip


def resolve_stem(stem: str, image_size: int) -> str:
    if stem == "auto":
        return "small" if image_size < SMALL_IMAGE else "imagenet"
    if stem not in ("imagenet", "small"):
        raise ConfigError(f"--stem must be one of auto, imagenet, small; got {stem!r}")
    return stem


def default_input_size(name: str) -> int:
    """The image size the model's torchvision weights were trained at (their centre crop)."""
    return _transforms(name).crop_size[0]


def build_backbone(
    bb: Backbone, *, num_classes: int, in_channels: int, image_size: int, faithful: bool = False,
    stem: str = "auto", pretrained: str | None = None, download: bool = True,
) -> nn.Module:  # fmt: skip
    """torchvision's ``bb.name`` for ``num_classes``, its stem fitted to the images, and a spec."""
    from torchvision.models import get_model

    stem = resolve_stem(stem, image_size)
    if stem == "imagenet" and image_size < IMAGENET_STEM_MIN:
        raise ConfigError(
            f"{bb.name} with the imagenet stem needs images of at least {IMAGENET_STEM_MIN}x"
            f"{IMAGENET_STEM_MIN}, got {image_size}x{image_size}; use --stem small"
        )
    model = get_model(bb.name, weights=None, num_classes=num_classes)
    fresh = [bb.head]  # built for this task: never loaded from pretrained weights
    if stem == "small":
        fresh += _SMALL_STEMS[bb.small](model, bb, in_channels)
    elif in_channels != 3:
        fresh.append(_replace_conv(model, bb, in_channels=in_channels))
    notes, weights = [], None
    if pretrained is not None:
        weights = load_pretrained(model, bb.name, pretrained, fresh=tuple(fresh), download=download)
        stems = [p for p in fresh if p != bb.head]
        notes.append(
            f"{bb.name}: loaded {pretrained} except the head"
            + (f" and the new stem conv {stems[0]} (random init)" if stems else "")
        )
    t = _transforms(bb.name, weights)
    mean, std = (t.mean, t.std) if t is not None else (IMAGENET_MEAN, IMAGENET_STD)
    spec = ModelSpec(
        bb.name, "registry", InputSpec.for_channels(in_channels, image_size, mean, std),
        params={"stem": stem}, head=bb.head, pretrained=pretrained, notes=tuple(notes),
    )  # fmt: skip
    return attach_spec(model, spec)


def _transforms(name: str, weights=None):
    """The preprocessing of the chosen weights, else of the model's default ones (None: none)."""
    from torchvision.models import WeightsEnum, get_model_weights

    if not isinstance(weights, WeightsEnum):
        try:
            weights = get_model_weights(name).DEFAULT
        except (ValueError, KeyError, AttributeError):
            return None
    return weights.transforms()


def _replace_conv(model: nn.Module, bb: Backbone, **changes) -> str:
    """Swap the stem conv for one with ``changes`` (in_channels, kernel_size, stride, padding)."""
    parent_path, _, attr = bb.stem.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    old: nn.Conv2d = getattr(parent, attr)
    args = dict(in_channels=old.in_channels, out_channels=old.out_channels,
                kernel_size=old.kernel_size, stride=old.stride, padding=old.padding,
                bias=old.bias is not None)  # fmt: skip
    conv = nn.Conv2d(**{**args, **changes})
    # The family's own init (torchvision: Kaiming fan-out for ResNet, MobileNet, EfficientNet
    # convs; truncated normal, std 0.02, for ConvNeXt).
    if bb.small == "patchify":
        nn.init.trunc_normal_(conv.weight, std=0.02)
    else:
        nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    setattr(parent, attr, conv)
    return bb.stem


def _resnet_small(model: nn.Module, bb: Backbone, in_channels: int) -> list[str]:
    model.maxpool = nn.Identity()
    return [_replace_conv(model, bb, in_channels=in_channels, kernel_size=3, stride=1, padding=1)]


def _strided_small(model: nn.Module, bb: Backbone, in_channels: int) -> list[str]:
    # The stem conv and the first stride-2 block (its depthwise conv): their "same" padding
    # keeps the size at stride 1, and their weights keep their shapes.
    strided = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.stride == (2, 2)]
    for conv in strided[:2]:
        conv.stride = (1, 1)
    return [_replace_conv(model, bb, in_channels=in_channels)] if in_channels != 3 else []


def _patchify_small(model: nn.Module, bb: Backbone, in_channels: int) -> list[str]:
    return [_replace_conv(model, bb, in_channels=in_channels, kernel_size=3, stride=1, padding=1)]


_SMALL_STEMS = {"resnet": _resnet_small, "strided": _strided_small, "patchify": _patchify_small}

for _bb in BACKBONES:
    MODELS.add(_bb.name, partial(build_backbone, _bb), _bb.summary, params=(STEM, PRETRAINED))


def backbone(name: str) -> Backbone:
    return next(b for b in BACKBONES if b.name == name)
