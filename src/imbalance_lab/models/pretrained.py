"""Pretrained weights: a torchvision weights name read from torch's hub cache, or a local file.

``--pretrained IMAGENET1K_V1`` (or ``ResNet18_Weights.IMAGENET1K_V1``, or ``DEFAULT``)
names torchvision weights of the chosen model. They are read from
``torch.hub.get_dir()/checkpoints/<file name of the weights' URL>``, the file
torchvision itself caches, and downloaded there only when it is missing and the network
allows it. ``--pretrained PATH`` reads a state dict saved with ``torch.save`` (an
imbalance-lab model file works too). Either way the file is read with
``weights_only=True``: a weights file is data, never code.

Layers the model builds fresh (the classification head, a replaced stem) are skipped by
name; every other key must match in name and shape, or the load is refused naming the
first key that does not.
"""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from imbalance_lab.errors import ConfigError, ModelFileError, closest
from imbalance_lab.io import safe_torch_load

WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".tar")


def looks_like_path(value: str) -> bool:
    return (
        os.sep in value or "/" in value or value.lower().endswith(WEIGHT_SUFFIXES)
        or Path(value).expanduser().exists()
    )  # fmt: skip


def resolve_weights(model_name: str, value: str):
    """A torchvision ``WeightsEnum`` member of ``model_name``, or the Path of a local file."""
    if looks_like_path(value):
        path = Path(value).expanduser()
        if not path.is_file():
            raise ConfigError(f"--pretrained: weights file not found: {path}")
        return path
    from torchvision.models import get_model_weights, get_weight

    enum = get_model_weights(model_name)
    names = list(enum.__members__)  # includes the alias DEFAULT
    takes = f"{model_name} takes {enum.__name__}: {', '.join(names)}"
    if "." in value:
        try:
            weights = get_weight(value)
        except (ValueError, KeyError, AttributeError, TypeError):
            raise ConfigError(
                f"--pretrained {value!r}: torchvision has no such weights; {takes}"
            ) from None
        if not isinstance(weights, enum):
            raise ConfigError(f"--pretrained {value} are weights of another model; {takes}")
        return weights
    member = value
    if member not in names:
        raise ConfigError(
            f"--pretrained {value!r}: no such weights for {model_name}{closest(member, names)}; "
            f"choose from {', '.join(names)} (or give a file path)"
        )
    return enum[member]


def cache_path(weights) -> Path:
    """Where torchvision caches ``weights``: the hub's checkpoints folder, the URL's file name."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def fetch(url: str, path: Path, *, download: bool = True) -> Path:
    """``path``, downloading ``url`` there if it is missing; offline: one line saying where to put it."""
    if path.is_file():
        return path
    reason = "downloads are off"
    if download:
        match = torch.hub.HASH_REGEX.search(path.name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(
                url, str(path), hash_prefix=match.group(1) if match else None, progress=False
            )
            return path
        except urllib.error.URLError as exc:
            reason = f"no network: {exc.reason}"
        except (OSError, RuntimeError) as exc:  # a refused folder, a hash that does not match
            reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
    raise ConfigError(
        f"--pretrained: {path.name} is not in torch's hub cache and cannot be downloaded "
        f"({reason}); download {url} and save it as {path}"
    )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file, unwrapped from {"state_dict": ...} or {"model": ...}."""
    obj = safe_torch_load(path, kind="weights file")
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise ModelFileError(f"{path} does not hold a state dict (layer names -> tensors)")
    if obj and all(k.startswith("module.") for k in obj):  # saved from DataParallel/DDP
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def _fresh(key: str, fresh: tuple[str, ...]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in fresh)


def load_weights(
    model: nn.Module, state: dict[str, torch.Tensor], *, fresh: tuple[str, ...] = (),
    source: str, model_name: str,
) -> None:  # fmt: skip
    """Load ``state`` into ``model`` except the layers named in ``fresh``; a misfit names its key."""
    own = {k: v for k, v in model.state_dict().items() if not _fresh(k, fresh)}
    given = {k: v for k, v in state.items() if not _fresh(k, fresh)}
    where = f"{source} does not fit {model_name}"
    for key, tensor in own.items():
        if key not in given:
            raise ModelFileError(f"{where}: missing key {key!r} (weights of another architecture?)")
        if given[key].shape != tensor.shape:
            raise ModelFileError(
                f"{where}: {key!r} has shape {tuple(given[key].shape)} in the file, "
                f"{tuple(tensor.shape)} in the model"
            )
    for key in given:
        if key not in own:
            raise ModelFileError(
                f"{where}: unexpected key {key!r} (weights of another architecture?)"
            )
    missing, unexpected = model.load_state_dict(given, strict=False)
    assert not unexpected and all(_fresh(k, fresh) for k in missing), (missing, unexpected)


def load_pretrained(
    model: nn.Module, model_name: str, value: str, *, fresh: tuple[str, ...] = (),
    download: bool = True,
):  # fmt: skip
    """Load ``--pretrained value`` into ``model``; returns the resolved weights (enum or Path)."""
    weights = resolve_weights(model_name, value)
    path = (
        weights
        if isinstance(weights, Path)
        else fetch(weights.url, cache_path(weights), download=download)
    )
    load_weights(model, read_state_dict(path), fresh=fresh, source=str(path), model_name=model_name)
    return weights
