"""Mix a batch with a permutation of itself: mixup and cutmix, one lambda per batch.

- mixup (Zhang et al. 2018, "mixup: Beyond Empirical Risk Minimization", Sec. 2):
  x = lam * x_i + (1 - lam) * x_j, t = lam * y_i + (1 - lam) * y_j, lam ~ Beta(a, a).
- cutmix (Yun et al. 2019, "CutMix: Regularization Strategy to Train Strong Classifiers
  with Localizable Features", Sec. 3.1): a box of the partner image is pasted in, with
  centre uniform on the image and sides W sqrt(1 - lam), H sqrt(1 - lam); the box is
  clipped at the edges, and lam is then corrected to the area really kept, so the
  target says how much of each image is there.

Both take uint8 or float (N, C, H, W) batches and return the same dtype (mixed uint8
pixels are rounded to the nearest level: mixing before or after the affine
normalisation is the same up to that rounding). All randomness comes from the
``torch.Generator``, so a batch is mixed the same way for the same generator state.
The targets are class probabilities (N, C), which every loss of strategies/losses.py
takes; the prior-based losses keep the training prior (see that module's doc).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from imbalance_lab.errors import ConfigError
from imbalance_lab.params import Param, number
from imbalance_lab.registry import Registry


@dataclass(frozen=True)
class MixedBatch:
    images: torch.Tensor  # the mixed batch, same dtype and shape as the input
    target: torch.Tensor  # (N, C) float: lam * onehot(y) + (1 - lam) * onehot(y[partner])
    lam: float  # weight of each image's own label (cutmix: the area it keeps)
    partner: torch.Tensor  # (N,) image i was mixed with image partner[i]


def draw_lambda(alpha: float, generator: torch.Generator) -> float:
    """lam ~ Beta(alpha, alpha), reproducible from ``generator``.

    torch's Beta sampler takes no generator, so one 63-bit seed drawn from it seeds
    NumPy's Beta sampler.
    """
    if not (isinstance(alpha, int | float) and alpha > 0):
        raise ConfigError(f"mix alpha must be a number > 0; got {alpha!r}")
    seed = int(torch.randint(0, 2**63 - 1, (1,), generator=generator, device=generator.device))
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def mix_targets(
    labels: torch.Tensor, partner: torch.Tensor, lam: float, num_classes: int
) -> torch.Tensor:
    """lam * onehot(labels) + (1 - lam) * onehot(labels[partner]), float32 (N, C)."""
    own = F.one_hot(labels, num_classes).float()
    return lam * own + (1 - lam) * own[partner]


def _check(images: torch.Tensor, labels: torch.Tensor) -> None:
    if images.ndim != 4 or labels.shape != (images.shape[0],):
        raise ValueError(
            f"need images (N, C, H, W) and labels (N,); got {tuple(images.shape)} and {tuple(labels.shape)}"
        )


def blend(a: torch.Tensor, b: torch.Tensor, lam: float) -> torch.Tensor:
    """lam * a + (1 - lam) * b, in a's dtype (uint8 rounded to the nearest level)."""
    if a.is_floating_point():
        return torch.lerp(b, a, lam)
    mixed = torch.lerp(b.float(), a.float(), lam).round_()
    return mixed.to(a.dtype)


def _lambda_and_partners(images, labels, alpha: float, generator) -> tuple[float, torch.Tensor]:
    """The batch's lam and a random permutation of it as partners, drawn in that order."""
    _check(images, labels)
    lam = draw_lambda(alpha, generator)
    partner = torch.randperm(len(images), generator=generator, device=generator.device)
    return lam, partner.to(images.device)


def mixup(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    generator: torch.Generator,
    alpha: float = 1.0,
) -> MixedBatch:
    """Mixup with one lam per batch and a random permutation of the batch as partners."""
    lam, partner = _lambda_and_partners(images, labels, alpha, generator)
    return MixedBatch(
        blend(images, images[partner], lam),
        mix_targets(labels, partner.to(labels.device), lam, num_classes),
        lam,
        partner,
    )


def cutmix_box(
    height: int, width: int, lam: float, generator: torch.Generator
) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of a box of area about (1 - lam) H W, centre uniform on
    the image, clipped at its edges (Yun et al. 2019, Sec. 3.1)."""
    cut = float(np.sqrt(1.0 - lam))
    uy, ux = torch.rand(2, generator=generator, device=generator.device).tolist()
    cy, cx = uy * height, ux * width
    half_h, half_w = height * cut / 2, width * cut / 2
    top, bottom = round(max(cy - half_h, 0.0)), round(min(cy + half_h, float(height)))
    left, right = round(max(cx - half_w, 0.0)), round(min(cx + half_w, float(width)))
    return top, bottom, left, right


def cutmix(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    generator: torch.Generator,
    alpha: float = 1.0,
) -> MixedBatch:
    """CutMix with one box per batch and a random permutation of the batch as partners;
    lam is the fraction of each image left uncovered by the (clipped) box."""
    lam, partner = _lambda_and_partners(images, labels, alpha, generator)
    h, w = images.shape[2:]
    top, bottom, left, right = cutmix_box(h, w, lam, generator)
    out = images.clone()
    out[:, :, top:bottom, left:right] = images[partner, :, top:bottom, left:right]
    kept = 1.0 - (bottom - top) * (right - left) / (h * w)
    return MixedBatch(
        out, mix_targets(labels, partner.to(labels.device), kept, num_classes), kept, partner
    )


# Batch mixes by name (--mix), with their own setting MIX_ALPHA.
MIXES = Registry("batch mix")
MIX_ALPHA = Param(
    "mix_alpha", 1.0,
    "mixup/cutmix lambda ~ Beta(alpha, alpha); 1 = uniform (Zhang et al. 2018, Yun et al. 2019 on CIFAR)",
    "strategies", parse=number(above=0), example="0.4",
)  # fmt: skip
MIXES.add(
    "mixup", mixup, "mixup: blend each image and its label with a partner's (Zhang et al. 2018)",
    params=(MIX_ALPHA,),
)  # fmt: skip
MIXES.add(
    "cutmix", cutmix, "cutmix: paste a box of a partner image, labels by area (Yun et al. 2019)",
    params=(MIX_ALPHA,),
)  # fmt: skip
