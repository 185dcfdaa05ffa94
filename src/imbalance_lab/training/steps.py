"""Training steps a trainer can plug in: ``step(model, images, labels, generator, progress) -> loss``.

``images`` is the uint8 batch as stored (the step augments it), ``labels`` its class
indices, ``generator`` the run's torch.Generator (every random choice comes from it, so
a resumed run draws the same), ``progress`` the fraction of training done, in [0, 1].
The trainer then does ``zero_grad(); loss.backward(); optimizer.step()``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from imbalance_lab.errors import ConfigError
from imbalance_lab.params import Param, number
from imbalance_lab.registry import Registry
from imbalance_lab.strategies.augment import AugmentConfig, augment_batch
from imbalance_lab.strategies.losses import soft_cross_entropy
from imbalance_lab.strategies.mix import MIX_ALPHA, blend, cutmix_box, draw_lambda, mix_targets


def glmc_class_weights(class_counts: Sequence[int], power: float) -> torch.Tensor:
    """w_c proportional to n_c ** -power, scaled to sum to C: GLMC's head-tail label
    re-weighting (Du et al. 2023; ``label_weighting`` in the authors' code)."""
    counts = np.asarray(class_counts, dtype=np.float64)
    if counts.ndim != 1 or (counts <= 0).any():
        raise ConfigError(
            f"GLMC needs at least one training image of every class; got {list(class_counts)}"
        )
    w = counts**-power
    return torch.tensor(w * len(w) / w.sum(), dtype=torch.float32)


def glmc_cumulative_weight(progress: float) -> float:
    """eta = 1 - (T / T_max) ** 2, the weight of the plain loss; 1 - eta goes to the
    re-weighted loss (Du et al. 2023, after the cumulative learning of BBN, Zhou et al. 2020)."""
    return 1.0 - min(max(progress, 0.0), 1.0) ** 2


def negative_cosine(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """-cos(p, stop_grad(z)), averaged over the batch (SimSiam, Chen & He 2021, eq. 1)."""
    return -F.cosine_similarity(prediction, target.detach(), dim=1).mean()


@dataclass
class GLMCStep:
    """One step of GLMC (Du et al. 2023, CVPR), on a model with ``forward_train``
    (models/glmc.py).

    Each image gets two random crop+flip views. With one lam ~ Beta(mix_alpha, mix_alpha)
    and one permutation of the batch as partners, view 1 is mixed globally (mixup) and
    view 2 locally (cutmix; its lam is the area kept). Both mixed batches go through
    the model. The loss is

        eta * [CE(f(x_g), t_g) + CE(f(x_l), t_l)]                       (balance head)
      + (1 - eta) * [CE(f_rb(x_g), w * t_g) + CE(f_rb(x_l), w * t_l)]  (rebalance head)
      + consistency_weight * [-cos(p_g, sg(z_l)) - cos(p_l, sg(z_g))],

    with soft-label cross-entropies averaged over the batch, w_c ~ n_c ** -label_weight_power
    summing to C (the re-weighted targets are not renormalised, as in the authors' code),
    and eta = 1 - progress ** 2. Pass progress = epoch / epochs to reproduce the authors'
    per-epoch schedule.

    Defaults are the authors' CIFAR-10-LT (rho = 100) setting (README, 2023-05-15):
    label weighting 1.2, consistency weight 4, lam ~ Beta(1, 1) (their code mixes with
    alpha = 1; the ``--beta 0.5`` flag it also takes is never used). Deviations: the partner
    is a permutation of the batch, not a batch from a second loader (with their
    resample_weighting = 0 that loader draws uniformly with replacement, so the partner's
    distribution is the same); cutmix's target uses the box's true area (Yun et al. 2019),
    theirs uses lam.
    """

    class_counts: Sequence[int]
    prepare: Callable[[torch.Tensor], torch.Tensor]  # uint8 batch -> normalised input on the device
    augment: AugmentConfig = field(
        default_factory=lambda: AugmentConfig(crop_pad=4, pad_mode="zeros", flip=True)
    )
    mix_alpha: float = 1.0
    label_weight_power: float = 1.2
    consistency_weight: float = 4.0
    bf16: bool = False  # run the forward passes under bfloat16 autocast
    parts: dict = field(default_factory=dict, init=False)  # the last step's terms, detached

    def __post_init__(self):
        self.weights = glmc_class_weights(self.class_counts, self.label_weight_power)
        self.num_classes = len(self.class_counts)

    def __call__(
        self,
        model: nn.Module,
        images: torch.Tensor,
        labels: torch.Tensor,
        generator: torch.Generator,
        progress: float,
    ) -> torch.Tensor:
        view_g = self.prepare(augment_batch(images, self.augment, generator))
        view_l = self.prepare(augment_batch(images, self.augment, generator))
        lam = draw_lambda(self.mix_alpha, generator)
        partner = torch.randperm(len(images), generator=generator, device=generator.device)
        partner = partner.to(view_g.device)
        x_g = blend(view_g, view_g[partner], lam)
        top, bottom, left, right = cutmix_box(*view_l.shape[2:], lam, generator)
        x_l = view_l.clone()
        x_l[:, :, top:bottom, left:right] = view_l[partner, :, top:bottom, left:right]
        lam_l = 1.0 - (bottom - top) * (right - left) / (view_l.shape[2] * view_l.shape[3])

        labels = labels.to(view_g.device)
        t_g = mix_targets(labels, partner, lam, self.num_classes)
        t_l = mix_targets(labels, partner, lam_l, self.num_classes)
        w = self.weights.to(view_g.device)
        with torch.autocast(view_g.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out_g = model.forward_train(x_g)
            out_l = model.forward_train(x_l)
        out_g = [o.float() for o in out_g]
        out_l = [o.float() for o in out_l]

        balance = soft_cross_entropy(out_g[0], t_g) + soft_cross_entropy(out_l[0], t_l)
        rebalance = soft_cross_entropy(out_g[1], t_g * w) + soft_cross_entropy(out_l[1], t_l * w)
        consistency = negative_cosine(out_g[3], out_l[2]) + negative_cosine(out_l[3], out_g[2])
        eta = glmc_cumulative_weight(progress)
        loss = eta * balance + (1 - eta) * rebalance + self.consistency_weight * consistency
        self.outputs = out_g[1].detach()  # the test-time head on the global view
        self.parts = {
            "balance": balance.detach(),
            "rebalance": rebalance.detach(),
            "consistency": consistency.detach(),
            "eta": eta,
            "lam": lam,
        }
        return loss


# --step: how a batch becomes a loss. "standard" is the trainer's own (forward, loss on the
# targets); the others are classes called as step(model, images, labels, generator, progress).
STEPS = Registry("training step")
GLMC_LABEL_WEIGHT_POWER = Param(
    "glmc_label_weight_power", 1.2,
    "GLMC: the rebalance head's targets are weighted by n_c ** -power (Du et al. 2023: 1.2)",
    "strategies", parse=number(min=0), example="1.0",
)  # fmt: skip
GLMC_CONSISTENCY_WEIGHT = Param(
    "glmc_consistency_weight", 4.0,
    "GLMC: weight of the consistency between the two mixed views (Du et al. 2023: 4)",
    "strategies", parse=number(min=0), example="1.0",
)  # fmt: skip
STEPS.add(
    "standard", None, "the batch (augmented, mixed) through the model, the loss on its targets"
)
STEPS.add(
    "glmc", GLMCStep,
    "GLMC: two views mixed globally and locally, cumulative re-balancing (Du et al. 2023)",
    params=(MIX_ALPHA, GLMC_LABEL_WEIGHT_POWER, GLMC_CONSISTENCY_WEIGHT),
)  # fmt: skip
