"""Score a model on an image set: batches normalised on the fly, probabilities, metrics."""

from __future__ import annotations

import numpy as np
import torch

from imbalance_lab.data.streaming import eval_batches
from imbalance_lab.evaluation.metrics import classification_metrics
from imbalance_lab.models.inference import class_probabilities
from imbalance_lab.models.spec import InputSpec, spec_of
from imbalance_lab.training import distributed
from imbalance_lab.training.distributed import all_gather, eval_shard

EVAL_BATCH = 500
# Pixels per evaluation batch: 500 images up to 64x64; fewer for larger images, so that a
# batch's activations stay about as large (125 images at 128 px, 40 at 224 px).
EVAL_PIXELS = EVAL_BATCH * 64 * 64


def eval_batch_size(height: int, width: int) -> int:
    return max(1, min(EVAL_BATCH, EVAL_PIXELS // (height * width)))


def prepare(images: torch.Tensor, device: torch.device, spec: InputSpec) -> torch.Tensor:
    """uint8 batch -> the model's normalised float input on ``device``.

    Pixels travel as uint8 and become float on the device, batch by batch: a quarter of
    the memory traffic. The normalisation is the model's own (models/spec.py).
    """
    x = spec.normalize(images.to(device, non_blocking=True))
    return x.contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def evaluate(
    model, data, loss_fn, device, bf16: bool, tta: str = "none", *, workers: int = 0
) -> tuple[dict, list[float], torch.Tensor]:
    """(metrics, per-batch losses, class probabilities) on ``data``; leaves the model in eval mode.

    Predictions are the argmax of the probabilities, averaged over the ``tta``
    views; the loss (skipped when ``loss_fn`` is None) is that of the plain images.
    ``data`` is an ImageSet, or a streamed dataset read by ``workers`` processes. Under
    DDP each rank scores its share and the shares are gathered: every rank gets the
    probabilities and metrics of the whole split.
    """
    model.eval()
    faithful = getattr(model, "faithful", False)
    spec = spec_of(model, *data.image_shape[:2]).input
    n = len(data)
    share = data if distributed.world_size() == 1 else data.subset(range(n)[eval_shard(n)])
    probs, losses = [], []
    batch = eval_batch_size(*data.image_shape[1:])
    for images, labels in eval_batches(share, batch, workers=workers, device=device):
        x = prepare(images, device, spec)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            p, raw = class_probabilities(model, x, tta=tta, faithful=faithful)
        if loss_fn is not None:
            losses.append(float(loss_fn(raw, labels.to(device))))
        probs.append(p.cpu())
    probs = torch.cat(probs) if probs else torch.zeros(0, data.num_classes)
    probs = all_gather(probs)
    losses = all_gather(torch.tensor(losses, dtype=torch.float64)).tolist()
    if loss_fn is None:
        return {}, losses, probs
    metrics = classification_metrics(
        data.labels.numpy(), probs.argmax(dim=1).numpy(), data.num_classes
    )
    metrics["loss"] = float(np.mean(losses))
    return metrics, losses, probs


def predict_scores(
    model, data, device: torch.device, bf16: bool, tta: str = "none"
) -> torch.Tensor:
    """Class probabilities for every image, in eval mode, as float32 on the CPU."""
    return evaluate(model, data, None, device, bf16, tta)[2]
