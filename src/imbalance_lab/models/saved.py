"""The model file (``model.pt``): weights plus metadata, read back without running code from it.

A model file is a dict saved with ``torch.save`` and read with ``weights_only=True``::

    format      "imbalance-lab-model"
    version     2
    state_dict  layer name -> tensor
    meta        model          a registry name, a "package.module:factory", or (a model
                               passed to fit() as an object) its class, for messages only
                model_source   "registry", "factory" or "object"
                model_params   keyword arguments that rebuild the architecture ({"stem": "small"})
                input          the InputSpec: channels, size, mean, std
                head           dotted path of the classification layer, or null
                pretrained     the weights training started from (a record; never reloaded)
                classes        class names, in output order
                input_shape    [C, H, W]; normalize {"mean", "std"}: version 1's copy of input
                faithful, tta, config; threshold or tau (+ prior, interval) when a point
                               was chosen
                ensemble       K when the file holds the K fold models of --calibration cv:K
                               (models/ensemble.py), their weights under members.<k>.

Version 1 files (before models carried a spec) hold a registry name and input_shape +
normalize; they are read as version 2 with source "registry" and no params.

The file is data, never code. Loading one never imports or calls anything it names: a
registry name is looked up in the registry; a factory is imported only when the user
names it again (``--model package.module:factory``, or ``factory=`` in Python) or says
they trust the file (``--trust-factory``); a model passed as an object is rebuilt only
from a factory or a module the user supplies.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import torch
from torch import nn

from imbalance_lab.errors import ModelFileError
from imbalance_lab.io import atomic_write_bytes, safe_torch_load, torch_bytes
from imbalance_lab.models.ensemble import Ensemble
from imbalance_lab.models.factory import is_factory_reference
from imbalance_lab.models.pretrained import load_weights
from imbalance_lab.models.registry import MODELS, create_model
from imbalance_lab.models.spec import InputSpec, ModelSpec, attach_spec, spec_of

MODEL_FORMAT = "imbalance-lab-model"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
_NOT_PARAMS = {
    "name",
    "num_classes",
    "in_channels",
    "image_size",
    "faithful",
    "pretrained",
    "download",
}


def model_meta(
    model: nn.Module, *, classes, image_shape: tuple[int, int, int], faithful: bool = False,
    tta: str = "none", config: dict | None = None,
) -> dict:  # fmt: skip
    """The metadata of a model file for ``model`` (the trainer adds an operating point)."""
    c, h, w = image_shape
    spec = spec_of(model, c, h)
    return {
        **spec.to_meta(), "classes": list(classes), "input_shape": [c, h, w],
        "normalize": {"mean": list(spec.input.mean), "std": list(spec.input.std)},
        "faithful": faithful, "tta": tta, "config": config or {},
    }  # fmt: skip


def save_model(path: Path, model: nn.Module, meta: dict) -> None:
    """Weights plus JSON-able metadata (see the module docstring), written atomically.

    What the architecture is (model, model_source, model_params, head, pretrained) is read
    off the model itself, so a file never names another architecture than its weights'
    (a module passed to fit() is recorded as an object, not under the config's model name).
    The input spec is the caller's: it is what the model was actually fed.
    """
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    meta = _with_spec(meta)
    inp = InputSpec.from_dict(meta["input"])
    own = spec_of(model, inp.channels, inp.size).to_meta()
    meta = {**meta, **{k: v for k, v in own.items() if k != "input"}}
    atomic_write_bytes(
        path,
        torch_bytes(
            {"format": MODEL_FORMAT, "version": FORMAT_VERSION, "state_dict": state, "meta": meta}
        ),
    )


def load_model_file(path: str | os.PathLike) -> dict:
    """Read a model file safely, its meta in the current version's shape; refuse anything else."""
    obj = safe_torch_load(path)
    if not isinstance(obj, dict) or obj.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{path} is not an imbalance-lab model file")
    if obj.get("version") not in READABLE_VERSIONS:
        raise ModelFileError(
            f"{path} has model format version {obj.get('version')}; this tool reads "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    if not isinstance(obj.get("meta"), dict) or not isinstance(obj.get("state_dict"), dict):
        raise ModelFileError(f"{path} is not an imbalance-lab model file (no meta or weights)")
    obj["meta"] = _with_spec(obj["meta"])
    return obj


def _with_spec(meta: dict) -> dict:
    """``meta`` in version 2's shape: version 1 files (and metadata written the version-1 way)
    have no spec; it is read off their input_shape and normalize."""
    if "input" in meta:
        return meta
    try:
        c, h, _ = meta["input_shape"]
        inp = InputSpec(c, h, tuple(meta["normalize"]["mean"]), tuple(meta["normalize"]["std"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"model metadata without a usable input shape ({exc})") from None
    return {"model_source": "registry", "model_params": {}, "input": inp.to_dict(), "head": None,
            "pretrained": None, **meta}  # fmt: skip


def load_saved_model(
    path: str | os.PathLike, *, factory: str | None = None, trust_factory: bool = False,
    model: nn.Module | None = None,
) -> tuple[nn.Module, dict]:  # fmt: skip
    """(model in eval mode, metadata) from a model file.

    ``factory`` is what the user named (``--model``): a registry name or a
    ``package.module:factory`` to rebuild the architecture with. A file whose model comes
    from a factory is refused unless the user named one or passed ``trust_factory``; a
    file holding the weights of a model passed as an object needs ``factory`` or ``model``
    (a module of the same architecture to load the weights into).
    """
    obj = load_model_file(path)
    meta = obj["meta"]
    try:
        inp = InputSpec.from_dict(meta["input"])
        classes = list(meta["classes"])
        recorded, source = str(meta["model"]), str(meta.get("model_source", "registry"))
        # Only architecture settings: nothing in the file may choose what the loader does.
        params = {
            k: v for k, v in dict(meta.get("model_params") or {}).items() if k not in _NOT_PARAMS
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path} does not hold a usable model: {str(exc)[:200]}") from None
    members = _ensemble_size(path, meta)
    if model is None:
        name = factory or _trusted_name(path, recorded, source, trust_factory)

        def build() -> nn.Module:
            return create_model(
                name, num_classes=len(classes), in_channels=inp.channels, image_size=inp.size,
                faithful=bool(meta.get("faithful", False)), **params,
            )  # fmt: skip

        model = build() if members is None else Ensemble([build() for _ in range(members)])
    elif members is not None and not isinstance(model, Ensemble):
        model = Ensemble([model, *(copy.deepcopy(model) for _ in range(members - 1))])
    load_weights(model, obj["state_dict"], source=str(path), model_name=recorded)
    spec = ModelSpec(recorded, source, inp, params, meta.get("head"), meta.get("pretrained"))
    return attach_spec(model.eval(), spec), meta


def _ensemble_size(path, meta: dict) -> int | None:
    """K of an ensemble file, checked as data; None for one model."""
    members = meta.get("ensemble")
    if members is None:
        return None
    if not isinstance(members, int) or isinstance(members, bool) or not 1 <= members <= 64:
        raise ModelFileError(f"{path}: 'ensemble' must be a number of members, got {members!r}")
    return members


def _trusted_name(path, recorded: str, source: str, trust_factory: bool) -> str:
    """The name to rebuild with, when the user named none; never an untrusted factory."""
    # Whatever the file claims its source is, a name with a colon would be imported.
    if is_factory_reference(recorded) or source == "factory":
        if trust_factory:
            return recorded
        raise ModelFileError(
            f"{path} was built by the factory {recorded!r}, code that loading it would import "
            f"and run; if you trust it, name it yourself (--model {recorded}) or pass --trust-factory"
        )
    if source == "object" or recorded not in MODELS:
        raise ModelFileError(
            f"{path} holds the weights of {recorded}, a model passed to fit() as an object; "
            "name a factory that builds it: --model package.module:function "
            "(in Python: load_saved_model(path, model=YourNet(...)))"
        )
    return recorded


def prepare_images(images: torch.Tensor, meta: dict) -> torch.Tensor:
    """uint8 (N, C, H, W) -> the normalised float input the model was trained on."""
    return InputSpec.from_dict(meta["input"]).normalize(images)
