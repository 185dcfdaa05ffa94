"""What a model expects as input, and how to rebuild it: one record every consumer reads.

A model is trained on normalised float images; predict, export and a resumed run
must feed it exactly the same. So the normalisation travels with the model, as an
:class:`InputSpec` inside a :class:`ModelSpec` that the model factory attaches to the
module it builds (``model.model_spec``) and that the model file stores. Nobody else
holds a mean or a std.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace

import torch
from torch import nn

# The article's Normalize((0.5,)*3, (0.5,)*3): pixels in [0, 255] -> [-1, 1]. The models of
# this project (article ConvNet, CIFAR ResNets) are trained with it.
ARTICLE_MEAN, ARTICLE_STD = 0.5, 0.5
# The ImageNet statistics every torchvision classification weight uses (weights.transforms()).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class InputSpec:
    """The input a model was built for: uint8 (N, channels, size, size), normalised per channel."""

    channels: int  # colour channels: 3 (RGB) or 1 (grey)
    size: int  # height = width in pixels
    mean: tuple[float, ...]  # per-channel mean of pixels scaled to [0, 1]
    std: tuple[float, ...]  # per-channel standard deviation, same scale

    def __post_init__(self):
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ValueError(f"mean and std need {self.channels} values: {self.mean}, {self.std}")

    @classmethod
    def uniform(cls, channels: int, size: int, mean: float, std: float) -> InputSpec:
        return cls(channels, size, (float(mean),) * channels, (float(std),) * channels)

    @classmethod
    def for_channels(cls, channels: int, size: int, mean, std) -> InputSpec:
        """RGB statistics fitted to ``channels``: grey images get the mean of the three."""
        mean, std = tuple(map(float, mean)), tuple(map(float, std))
        if channels != len(mean):
            mean, std = (sum(mean) / len(mean),) * channels, (sum(std) / len(std),) * channels
        return cls(channels, size, mean, std)

    def scale_shift(self, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(255 * std, mean / std), shaped (1, C, 1, 1): x_norm = x_uint8 / scale - shift."""
        return _scale_shift(self.mean, self.std, str(torch.device(device or "cpu")))

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) -> the float input the model was trained on, on images' device.

        Divide, then subtract: the order the trainer always used, so a 0.5/0.5 model gives
        bit for bit the inputs it gave before this record existed.
        """
        scale, shift = self.scale_shift(images.device)
        return images.to(torch.float32, copy=True).div_(scale).sub_(shift)

    def to_dict(self) -> dict:
        return {"channels": self.channels, "size": self.size,
                "mean": list(self.mean), "std": list(self.std)}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict) -> InputSpec:
        return cls(int(d["channels"]), int(d["size"]), tuple(d["mean"]), tuple(d["std"]))


@dataclass(frozen=True)
class ModelSpec:
    """How a model was built and what it expects: enough to rebuild it and feed it."""

    name: str  # a registry name, "package.module:factory", or the class of an object
    source: str  # "registry", "factory" (a user's function) or "object" (a module passed in)
    input: InputSpec
    params: dict = field(default_factory=dict)  # keyword arguments that rebuild the architecture
    head: str | None = None  # dotted path of the classification layer, when known
    pretrained: str | None = None  # the weights it started from (a record, never reloaded)
    notes: tuple[str, ...] = ()  # what the user should know about how it was built (not saved)

    def to_meta(self) -> dict:
        return {"model": self.name, "model_source": self.source, "model_params": dict(self.params),
                "input": self.input.to_dict(), "head": self.head,
                "pretrained": self.pretrained}  # fmt: skip

    def with_input(self, **changes) -> ModelSpec:
        return replace(self, input=replace(self.input, **changes))


def attach_spec(model: nn.Module, spec: ModelSpec) -> nn.Module:
    # A plain attribute: not a parameter or buffer, so state_dict stays the weights alone;
    # copy.deepcopy (AveragedModel) and .to() keep it.
    model.model_spec = spec
    return model


def spec_of(model: nn.Module, channels: int = 3, size: int = 32) -> ModelSpec:
    """The model's spec; a module built elsewhere gets the article's 0.5/0.5 (what the trainer
    always fed such modules) unless it carries an ``input_spec`` (an InputSpec, or a dict with
    ``mean`` and ``std``)."""
    spec = getattr(model, "model_spec", None)
    if isinstance(spec, ModelSpec):
        return spec
    own = getattr(model, "input_spec", None)
    if isinstance(own, InputSpec):
        inp = own
    elif isinstance(own, dict) and "mean" in own and "std" in own:
        inp = InputSpec.for_channels(channels, size, own["mean"], own["std"])
    else:
        inp = InputSpec.uniform(channels, size, ARTICLE_MEAN, ARTICLE_STD)
    cls = type(model)
    return ModelSpec(f"{cls.__module__}.{cls.__qualname__}", "object", inp,
                     head=conventional_head(model))  # fmt: skip


def conventional_head(model: nn.Module) -> str | None:
    """The classification layer of a module written the usual way (timm: head, torchvision: fc)."""
    for name in ("head", "fc", "classifier"):
        if isinstance(getattr(model, name, None), nn.Module):
            return name
    return None


@functools.cache
def _scale_shift(mean, std, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    # Made once per (spec, device): normalising runs for every batch.
    mean_t = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    return std_t * 255.0, mean_t / std_t
