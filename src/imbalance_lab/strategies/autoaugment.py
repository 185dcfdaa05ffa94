"""Automatic augmentation policies from torchvision, applied image by image to a uint8 batch.

- ``trivialaugment``: TrivialAugmentWide (Müller & Hutter 2021, "TrivialAugment:
  Tuning-free Yet State-of-the-Art Data Augmentation"): one random op at a random
  strength per image; nothing to tune.
- ``randaugment``: RandAugment (Cubuk et al. 2020, "RandAugment: Practical automated
  data augmentation with a reduced search space"): ``randaugment_ops`` random ops at
  strength ``randaugment_magnitude`` (of 31 levels in torchvision).

torchvision's v2 transforms draw from torch's global generator and, given a batch,
would apply one op to all of it; so each image is transformed on its own, inside
``torch.random.fork_rng`` seeded from the caller's ``torch.Generator``: reproducible,
and the global random state is left as it was. On this project's Xeon (1 thread) this costs
about 0.23 ms of CPU per 32x32 image for TrivialAugment and 0.54 ms for RandAugment
(``bench/longtail_steps.py``): 30 ms a batch of 128, against about 390 ms of CPU for a
ResNet-32 training step on it under bf16.
"""

from __future__ import annotations

import torch
from torchvision.transforms import v2

from imbalance_lab.params import Param, integer
from imbalance_lab.registry import Registry

# Automatic augmentation policies by name (--auto-augment); randaugment has settings.
AUTO_AUGMENTS = Registry("automatic augmentation")

RANDAUGMENT_OPS = Param(
    "randaugment_ops", 2, "RandAugment: ops applied to each image (Cubuk et al. 2020: N)",
    "strategies", parse=integer(min=1, max=14), example="3",
)  # fmt: skip
RANDAUGMENT_MAGNITUDE = Param(
    "randaugment_magnitude", 9, "RandAugment: strength of every op, 0-30 (Cubuk et al. 2020: M)",
    "strategies", parse=integer(min=0, max=30), example="14",
)  # fmt: skip


@AUTO_AUGMENTS.register(
    "trivialaugment",
    "TrivialAugmentWide: one random op at a random strength (Müller & Hutter 2021)",
)
def trivialaugment() -> v2.Transform:
    return v2.TrivialAugmentWide()


@AUTO_AUGMENTS.register(
    "randaugment", "RandAugment: N random ops at strength M (Cubuk et al. 2020)",
    params=(RANDAUGMENT_OPS, RANDAUGMENT_MAGNITUDE),
)  # fmt: skip
def randaugment(*, randaugment_ops: int = 2, randaugment_magnitude: int = 9) -> v2.Transform:
    return v2.RandAugment(num_ops=randaugment_ops, magnitude=randaugment_magnitude)


def auto_augment_batch(
    images: torch.Tensor,
    policy: v2.Transform,
    generator: torch.Generator,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """A copy of a uint8 (N, C, H, W) batch with ``policy`` applied to each image where
    ``mask`` is True (all by default); the others come back bit for bit."""
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError(
            f"images must be a uint8 (N, C, H, W) tensor, got {images.dtype} {tuple(images.shape)}"
        )
    n = images.shape[0]
    if mask is None:
        mask = torch.ones(n, dtype=torch.bool)
    elif mask.dtype != torch.bool or mask.shape != (n,):
        raise ValueError(
            f"mask must be a bool tensor of shape ({n},), got {mask.dtype} {tuple(mask.shape)}"
        )
    seed = int(torch.randint(0, 2**63 - 1, (1,), generator=generator, device=generator.device))
    out = images.clone()
    # torchvision draws each op's parameters from the global CPU generator.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i in mask.nonzero().flatten().tolist():
            out[i] = policy(images[i])
    return out
