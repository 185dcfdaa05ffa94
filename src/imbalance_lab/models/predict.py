"""Use a saved model on new image files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from imbalance_lab.data.sources import DECODE_ERRORS, IMAGE_SUFFIXES, decode_image
from imbalance_lab.errors import DataError
from imbalance_lab.evaluation.thresholds import OperatingPoint, predict_at
from imbalance_lab.models.inference import class_probabilities
from imbalance_lab.models.saved import load_saved_model, prepare_images


@dataclass(frozen=True)
class Prediction:
    file: str  # the image path as found
    label: str  # predicted class name
    score: float  # probability of the predicted class (binary: of the positive class, see scores)
    scores: tuple[float, ...]  # probability of every class, in the model's class order


def saved_operating_point(meta: dict) -> tuple[OperatingPoint | None, np.ndarray | None]:
    """The threshold or logit-adjustment tau stored with the model, if one was chosen."""
    prior = np.asarray(meta["prior"]) if "prior" in meta else None
    for kind in ("threshold", "tau"):
        if kind in meta:
            return OperatingPoint(kind, float(meta[kind]), True, {}, "saved with the model"), prior
    return None, prior


def collect_images(paths: list[str | os.PathLike]) -> tuple[list[Path], int]:
    """Image files named directly or found (recursively) in folders; and how many others were ignored."""
    found, ignored = [], 0
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if file.suffix.lower() in IMAGE_SUFFIXES:
                    found.append(file)
                else:
                    ignored += 1
        elif path.is_file():
            found.append(path)
        else:
            raise DataError(f"no such file or folder: {path}")
    if not found:
        raise DataError(f"no images found in {', '.join(map(str, paths))}")
    return found, ignored


def predict_files(
    model_path, paths, *, batch_size: int = 256, skip_bad_images: bool = False,
    factory: str | None = None, trust_factory: bool = False,
):  # fmt: skip
    """Predictions for every image in ``paths``; returns (predictions, meta, notes).

    ``factory`` and ``trust_factory``: see :func:`imbalance_lab.models.saved.load_saved_model`.
    """
    model, meta = load_saved_model(model_path, factory=factory, trust_factory=trust_factory)
    c, h, w = meta["input_shape"]
    files, ignored = collect_images(paths)
    notes = {"ignored_non_images": ignored, "skipped_bad_images": 0, "resized": 0}
    point, prior = saved_operating_point(meta)
    out: list[Prediction] = []
    for start in range(0, len(files), batch_size):
        arrays, kept = [], []
        for file in files[start : start + batch_size]:
            try:
                arr, _ = decode_image(file)
            except DECODE_ERRORS as exc:
                if skip_bad_images:
                    notes["skipped_bad_images"] += 1
                    continue
                raise DataError(
                    f"cannot decode image {file}: {exc}; pass --skip-bad-images to skip such files"
                ) from None
            if arr.shape[:2] != (h, w):
                arr, _ = decode_image(file, image_size=h)
                notes["resized"] += 1
            if arr.shape[2] != c:
                arr = (
                    arr.mean(axis=2, keepdims=True).astype(np.uint8)
                    if c == 1
                    else np.repeat(arr, c, axis=2)
                )
            arrays.append(arr)
            kept.append(file)
        if not arrays:
            continue
        batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
        with torch.no_grad():
            probs, _ = class_probabilities(
                model, prepare_images(batch, meta), tta=meta.get("tta", "none"),
                faithful=meta.get("faithful", False),
            )  # fmt: skip
        probs = probs.numpy()
        for file, p, idx in zip(
            kept, probs.tolist(), predict_at(probs, point, prior).tolist(), strict=True
        ):
            out.append(Prediction(str(file), meta["classes"][idx], float(p[idx]), tuple(p)))
    return out, meta, notes
