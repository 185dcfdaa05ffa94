"""Class probabilities from a model, optionally averaged over test-time views (TTA).

Averaging the predictions for a few label-preserving views of each image (the
image, its mirror, one-pixel shifts) is the test-time half of the crop+flip
augmentation (Krizhevsky et al. 2012 average over crops and flips; Jordan 2024,
"94% on CIFAR-10 in 3.29 Seconds", uses flip and translate). It costs one
forward pass per view and changes nothing in training. Every use of a model, in
the trainer's calibration and test scores and in ``predict``, goes through here,
so a saved model predicts exactly what its results report.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from imbalance_lab.registry import Registry


def _shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Translate by (dy, dx) pixels, the uncovered edge filled by reflection."""
    pad = max(abs(dy), abs(dx))
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    h, w = x.shape[2:]
    return padded[:, :, pad - dy : pad - dy + h, pad - dx : pad - dx + w]


# Each mode maps a normalised float batch to the views whose predictions are averaged.
TTA_MODES = Registry("TTA mode")
TTA_MODES.add("none", lambda x: [x], "the image alone")
TTA_MODES.add("flip", lambda x: [x, x.flip(3)], "the image and its mirror: 2 forward passes")
TTA_MODES.add(
    "flip-shift",
    lambda x: [x, x.flip(3)] + [_shift(v, d, d) for v in (x, x.flip(3)) for d in (1, -1)],
    "image and mirror, each also shifted one pixel down-right and up-left: 6 passes",
)


def tta_views(x: torch.Tensor, mode: str) -> list[torch.Tensor]:
    """The views of a normalised float batch that ``mode`` averages over."""
    return TTA_MODES.get(mode)(x)


def class_probabilities(
    model: nn.Module, x: torch.Tensor, *, tta: str = "none", faithful: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean class probabilities over the views, raw output of the plain view), float32.

    ``faithful`` models already end in a softmax. The raw output is what the loss
    is computed on, so evaluation losses stay those of the plain image.
    """
    outs = [model(view).float() for view in tta_views(x, tta)]
    probs = [out if faithful else out.softmax(dim=1) for out in outs]
    return sum(probs) / len(probs), outs[0]
