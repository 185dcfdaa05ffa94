"""Score a model on an image set: batches normalised on the fly, probabilities, metrics."""

from __future__ import annotations

import numpy as np
import torch

from imbalance_lab.data.imageset import ImageSet
from imbalance_lab.evaluation.metrics import classification_metrics
from imbalance_lab.models.inference import class_probabilities
from imbalance_lab.models.spec import InputSpec, spec_of

EVAL_BATCH = 500


def prepare(images: torch.Tensor, device: torch.device, spec: InputSpec) -> torch.Tensor:
    """uint8 batch -> the model's normalised float input on ``device``.

    Pixels travel as uint8 and become float on the device, batch by batch: a quarter of
    the memory traffic. The normalisation is the model's own (models/spec.py).
    """
    x = spec.normalize(images.to(device, non_blocking=True))
    return x.contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def evaluate(
    model, data: ImageSet, loss_fn, device, bf16: bool, tta: str = "none"
) -> tuple[dict, list[float], torch.Tensor]:
    """(metrics, per-batch losses, class probabilities) on ``data``; leaves the model in eval mode.

    Predictions are the argmax of the probabilities, averaged over the ``tta``
    views; the loss (skipped when ``loss_fn`` is None) is that of the plain images.
    """
    model.eval()
    faithful = getattr(model, "faithful", False)
    spec = spec_of(model, *data.image_shape[:2]).input
    probs, losses = [], []
    for start in range(0, len(data), EVAL_BATCH):
        x = prepare(data.images[start : start + EVAL_BATCH], device, spec)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            p, raw = class_probabilities(model, x, tta=tta, faithful=faithful)
        if loss_fn is not None:
            y = data.labels[start : start + EVAL_BATCH].to(device)
            losses.append(float(loss_fn(raw, y)))
        probs.append(p.cpu())
    probs = torch.cat(probs) if probs else torch.zeros(0, data.num_classes)
    if loss_fn is None:
        return {}, losses, probs
    metrics = classification_metrics(
        data.labels.numpy(), probs.argmax(dim=1).numpy(), data.num_classes
    )
    metrics["loss"] = float(np.mean(losses))
    return metrics, losses, probs


def predict_scores(
    model, data: ImageSet, device: torch.device, bf16: bool, tta: str = "none"
) -> torch.Tensor:
    """Class probabilities for every image, in eval mode, as float32 on the CPU."""
    return evaluate(model, data, None, device, bf16, tta)[2]
