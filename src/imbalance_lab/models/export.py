"""Export a saved model for services that do not run Python: ONNX or TorchScript.

The exported graph takes raw images, uint8 (N, C, H, W) at the model's input size, and
returns class probabilities (N, classes): the normalisation and the softmax are inside
it, so a service only decodes and resizes. The operating point chosen on the
calibration split travels in the file's metadata (ONNX ``metadata_props``, TorchScript
``_extra_files``) under the key ``imbalance_lab``, as JSON: the classes, the input it
expects, and the threshold (binary: predict ``positive_class`` when its probability is
>= the threshold) or tau with the training prior (multi-class logit adjustment:
argmax_c(log p_c - tau * log prior_c), Menon et al. 2021).

Test-time augmentation is not in the graph: averaging over views stays a Python-side
option of ``imbalance-lab predict``. A model trained with ``--tta`` exports its plain
single-view probabilities, and the metadata says so.

ONNX export uses torch's ``torch.export``-based exporter (it needs ``onnx`` and
``onnxscript``: ``pip install 'imbalance-lab[export]'``). TorchScript is deprecated
upstream (``torch.jit.trace`` warns); it is kept for C++/LibTorch services.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from imbalance_lab.errors import ConfigError
from imbalance_lab.io import atomic_write_bytes
from imbalance_lab.models.saved import load_saved_model
from imbalance_lab.models.spec import InputSpec

FORMATS = ("onnx", "torchscript")
SUFFIXES = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}
METADATA_KEY = (
    "imbalance_lab"  # ONNX metadata_props key; TorchScript extra file "imbalance_lab.json"
)
EXPORT_VERSION = 1


class ProbabilityModel(nn.Module):
    """uint8 images in, class probabilities out: the model with its input spec and softmax."""

    def __init__(self, model: nn.Module, spec: InputSpec, faithful: bool = False):
        super().__init__()
        self.model = model
        self.faithful = faithful  # the article's faithful net already ends in a softmax
        scale, shift = spec.scale_shift()
        self.register_buffer("scale", scale)
        self.register_buffer("shift", shift)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # The same arithmetic as InputSpec.normalize (divide, then subtract).
        out = self.model(images.to(torch.float32).div(self.scale).sub(self.shift)).float()
        return out if self.faithful else out.softmax(dim=1)


def export_metadata(meta: dict) -> dict:
    """What a service needs besides the graph, from a model file's metadata."""
    classes = list(meta["classes"])
    inp = meta["input"]
    point = None
    if "threshold" in meta and len(classes) == 2:
        t = float(meta["threshold"])
        point = {"kind": "threshold", "value": t, "positive_class": classes[1],
                 "rule": f"{classes[1]} when p({classes[1]}) >= {t:.6g}, else {classes[0]}"}  # fmt: skip
    elif "tau" in meta:
        point = {"kind": "tau", "value": float(meta["tau"]), "prior": list(meta["prior"]),
                 "rule": "argmax over classes of log p - tau * log prior"}  # fmt: skip
    if point is not None and isinstance(meta.get("interval"), dict):
        point["interval"] = meta["interval"]  # how sure the calibration is of the point
    return {
        "format": "imbalance-lab-export", "version": EXPORT_VERSION, "model": meta["model"],
        "classes": classes,
        "input": {"dtype": "uint8", "layout": "NCHW", "channels": inp["channels"],
                  "height": inp["size"], "width": inp["size"],
                  "normalization": "inside the graph", "mean": inp["mean"], "std": inp["std"]},
        "output": "class probabilities, one row per image, columns in the order of classes",
        "operating_point": point,
        "tta": f"none in the graph (the model was scored with tta={meta.get('tta', 'none')}; "
               "test-time augmentation is a Python-side option of imbalance-lab predict)",
    }  # fmt: skip


def default_path(model_path: str | os.PathLike, fmt: str) -> Path:
    return Path(model_path).with_suffix(SUFFIXES[fmt])


def export_model(
    model_path: str | os.PathLike, out: str | os.PathLike | None = None, *, fmt: str = "onnx",
    factory: str | None = None, trust_factory: bool = False,
) -> Path:  # fmt: skip
    """Write ``model_path`` as ``fmt`` to ``out`` (default: beside it, model.onnx); returns the path.

    ``factory`` / ``trust_factory`` as for :func:`imbalance_lab.models.saved.load_saved_model`.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if fmt == "onnx":
        require_onnx()
    model, meta = load_saved_model(model_path, factory=factory, trust_factory=trust_factory)
    spec = InputSpec.from_dict(meta["input"])
    wrapped = ProbabilityModel(model, spec, bool(meta.get("faithful", False))).eval()
    wrapped.requires_grad_(False)  # a service gets plain tensors, not autograd graphs
    # Batch 2, not 1: an exporter may specialise a dimension of size 1 into a constant.
    example = torch.randint(0, 256, (2, spec.channels, spec.size, spec.size), dtype=torch.uint8)
    info = json.dumps(export_metadata(meta))
    out = Path(out) if out is not None else default_path(model_path, fmt)
    data = (_onnx_bytes if fmt == "onnx" else _torchscript_bytes)(wrapped, example, info)
    atomic_write_bytes(out, data)
    return out


def require_onnx() -> None:
    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            f"--format onnx needs {' and '.join(missing)}: pip install 'imbalance-lab[export]'"
        )


def _onnx_bytes(model: nn.Module, example: torch.Tensor, info: str) -> bytes:
    import onnx

    batch = torch.export.Dim("batch", min=1)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # the exporter's progress notes, not for users
        program = torch.onnx.export(
            model, (example,), dynamo=True, input_names=["images"],
            output_names=["probabilities"], dynamic_shapes={"images": {0: batch}}, verbose=False,
        )  # fmt: skip
    proto = program.model_proto
    onnx.helper.set_model_props(proto, {METADATA_KEY: info})
    return proto.SerializeToString()


def _torchscript_bytes(model: nn.Module, example: torch.Tensor, info: str) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notices
        traced = torch.jit.trace(model, example)
        torch.jit.save(traced, buffer, _extra_files={METADATA_KEY + ".json": info})
    return buffer.getvalue()
