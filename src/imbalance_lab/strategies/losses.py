"""Losses, one ``nn.Module`` each, with ``forward(logits, target)``.

Class weights and priors are registered buffers, so they move with ``.to(device)``
and are saved with the state dict. ``create_loss(name, class_counts=...)`` looks a
loss up by the name the CLI uses; ``loss_names()`` is the list the tests run over.
"""

from __future__ import annotations

import inspect
import math
from numbers import Real

import torch
import torch.nn.functional as F
from torch import nn

from imbalance_lab.errors import ConfigError, closest
from imbalance_lab.params import Param, number, optional
from imbalance_lab.registry import Registry
from imbalance_lab.strategies.class_weights import class_weight_scheme, parse_class_weights


class WeightedCrossEntropy(nn.Module):
    """``nn.CrossEntropyLoss(weight=w)``, except that a batch whose weights sum to zero
    (weights (0, 1) and a batch without a single dog) gives a loss of 0, not NaN."""

    def __init__(self, weight: torch.Tensor | None = None):
        super().__init__()
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.weight is None:
            return F.cross_entropy(logits, target)
        per_item = F.cross_entropy(logits, target, weight=self.weight, reduction="none")
        total = self.weight[target].sum()
        # Same value as the weighted mean of CrossEntropyLoss whenever total > 0.
        return per_item.sum() / total.clamp_min(torch.finfo(per_item.dtype).tiny)


# factory(class_counts=, class_weights=, [epochs=], **params) -> nn.Module. A loss's own
# settings are the run parameters its entry declares; the trainer passes them by name.
LOSSES = Registry("loss")
register_loss = LOSSES.register
loss_names = LOSSES.names
# What a factory may take besides its own settings: every factory takes the first two;
# one that declares ``epochs`` gets the run's epoch count (a schedule in the loss).
_COMMON = ("class_counts", "class_weights", "epochs")


def create_loss(
    name: str, *, class_counts, class_weights=None, epochs: int | None = None, **params
) -> nn.Module:
    """The loss ``name``, built for a training set with ``class_counts`` items per class.

    ``class_weights`` (one per class, or None) weight the per-item losses; ``params``
    are the loss's own settings (``gamma=2.0`` for focal, ``tau=1.0`` for
    logit-adjusted, ...). Bad names, settings or counts raise ``ConfigError``.
    """
    factory = LOSSES.get(name)
    signature = inspect.signature(factory).parameters
    accepted = [p for p in signature if p not in _COMMON]
    for key in params:
        if key not in accepted:
            raise ConfigError(
                f"loss {name!r} takes {', '.join(accepted) or 'no parameters'}; "
                f"got {key!r}{closest(key, accepted)}"
            )
    counts = tuple(class_counts)
    if not counts or not all(
        isinstance(n, Real) and float(n).is_integer() and n >= 0 for n in counts
    ):
        raise ConfigError(f"class_counts must be whole numbers >= 0, one per class; got {counts}")
    weight = None
    if class_weights is not None:
        values = (
            class_weights.tolist() if isinstance(class_weights, torch.Tensor) else class_weights
        )
        weight = torch.tensor(parse_class_weights(values, len(counts)), dtype=torch.float32)
    if "epochs" in signature:
        params["epochs"] = epochs
    return factory(class_counts=tuple(int(n) for n in counts), class_weights=weight, **params)


def _log_counts(name: str, class_counts: tuple[int, ...]) -> torch.Tensor:
    if min(class_counts) == 0:
        raise ConfigError(
            f"loss {name!r} needs at least one training sample of every class; got counts {class_counts}"
        )
    return torch.tensor(class_counts, dtype=torch.float32).log()


def _weighted_mean(per_item: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None):
    # The reduction of CrossEntropyLoss(weight=w), safe for a batch whose weights sum to 0.
    if weight is None:
        return per_item.mean()
    w = weight[target]
    return (w * per_item).sum() / w.sum().clamp_min(torch.finfo(per_item.dtype).tiny)


@register_loss("weighted-ce", "cross-entropy, with the class weights when given")
def weighted_ce(*, class_counts, class_weights):
    return WeightedCrossEntropy(class_weights)


class FocalLoss(nn.Module):
    """Softmax focal loss, Lin et al. 2017, "Focal Loss for Dense Object Detection":
    FL = -alpha_t * (1 - p_t) ** gamma * log(p_t).

    ``gamma=0`` is cross-entropy. Per-class ``alpha`` is reduced like
    ``CrossEntropyLoss(weight=alpha)`` (weighted mean), so that with ``gamma=0`` the
    two agree exactly.
    """

    def __init__(self, gamma: float = 2.0, alpha: torch.Tensor | None = None):
        super().__init__()
        self.gamma = float(gamma)
        self.register_buffer("alpha", alpha)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
        per_item = -log_p
        if self.gamma != 0:
            # 1 - p computed as -expm1(log p): exact when p is close to 1.
            per_item = per_item * (-torch.expm1(log_p)).clamp_min(0) ** self.gamma
        return _weighted_mean(per_item, target, self.alpha)


GAMMA = Param(
    "gamma", 2.0, "focal loss focusing parameter (0 = cross-entropy)", "strategies",
    parse=number(min=0), example="1.5",
)  # fmt: skip


@register_loss(
    "focal", "focal loss: down-weights well-classified images (Lin et al. 2017)", params=(GAMMA,)
)
def focal(*, class_counts, class_weights, gamma: float = 2.0):
    if not (isinstance(gamma, Real) and 0 <= gamma < math.inf):
        raise ConfigError(f"focal gamma must be a number >= 0; got {gamma!r}")
    return FocalLoss(gamma, class_weights)


class LogitAdjustedLoss(nn.Module):
    """Cross-entropy on ``logits + tau * log(prior)``: Menon et al. 2021, "Long-tail
    learning via logit adjustment" (the logit-adjusted loss, eq. 10).

    The model learns logits that are *not* tilted towards frequent classes; at test
    time its raw logits are used. ``tau=0`` is cross-entropy.
    """

    def __init__(
        self, log_prior: torch.Tensor, tau: float = 1.0, weight: torch.Tensor | None = None
    ):
        super().__init__()
        self.tau = float(tau)
        self.register_buffer("log_prior", log_prior)
        self.ce = WeightedCrossEntropy(weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.ce(logits + self.tau * self.log_prior.to(logits.dtype), target)


TAU = Param(
    "tau", 1.0, "logit-adjusted loss temperature (0 = cross-entropy)", "strategies",
    parse=number(), example="1.5",
)  # fmt: skip


@register_loss(
    "logit-adjusted",
    "logit-adjusted loss: cross-entropy on logits + tau log prior (Menon et al. 2021)",
    params=(TAU,),
)
def logit_adjusted(*, class_counts, class_weights, tau: float = 1.0):
    if not (isinstance(tau, Real) and math.isfinite(tau)):
        raise ConfigError(f"logit-adjusted tau must be a finite number; got {tau!r}")
    log_counts = _log_counts("logit-adjusted", class_counts)
    return LogitAdjustedLoss(log_counts - log_counts.logsumexp(0), tau, class_weights)


@register_loss(
    "balanced-softmax", "balanced softmax: softmax over logits + log n_c (Ren et al. 2020)"
)
def balanced_softmax(*, class_counts, class_weights):
    # Ren et al. 2020, "Balanced Meta-Softmax for Long-Tailed Visual Recognition":
    # softmax over logits + log(n_c). log(n_c) and log(prior) differ by a constant that
    # softmax ignores, so this is the logit-adjusted loss with tau = 1.
    return LogitAdjustedLoss(_log_counts("balanced-softmax", class_counts), 1.0, class_weights)


class LDAMLoss(nn.Module):
    """Label-distribution-aware margin loss with deferred re-weighting (DRW):
    Cao et al. 2019, "Learning Imbalanced Datasets with Label-Distribution-Aware
    Margin Loss".

    The true class's logit is lowered by a margin Delta_c = C / n_c ** (1/4), with C
    chosen so the largest margin is ``max_m``; the result is scaled by ``s`` before
    cross-entropy. Rare classes get larger margins. From ``drw_epoch`` on (see
    :meth:`set_epoch`) the items are weighted by effective-number class weights
    (Cui et al. 2019, beta = 0.9999), as the paper's DRW schedule does; before it,
    and always when ``drw_epoch`` is None, they are not weighted.
    """

    def __init__(
        self,
        class_counts: tuple[int, ...],
        max_m: float = 0.5,
        s: float = 30.0,
        drw_epoch: int | None = None,
        beta: float = 0.9999,
    ):
        super().__init__()
        self.s = float(s)
        self.drw_epoch = drw_epoch
        margins = torch.tensor(class_counts, dtype=torch.float64) ** -0.25
        self.register_buffer("margins", (margins * (max_m / margins.max())).float())
        drw = class_weight_scheme("effective-number", class_counts, beta=beta)
        self.register_buffer("drw_weight", torch.tensor(drw, dtype=torch.float32))
        # The weights in use now; set_epoch switches them.
        self.register_buffer("weight", torch.ones(len(class_counts)))

    def set_epoch(self, epoch: int) -> None:
        """Use the DRW weights from ``drw_epoch`` on, and none before: a pure function of the epoch."""
        on = self.drw_epoch is not None and epoch >= self.drw_epoch
        self.weight.copy_(self.drw_weight if on else torch.ones_like(self.weight))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        margin = F.one_hot(target, logits.shape[1]).to(logits.dtype) * self.margins[target, None]
        return F.cross_entropy(
            self.s * (logits - margin), target, weight=self.weight.to(logits.dtype)
        )


DRW_AT = Param(
    "drw_at", None,
    "LDAM: deferred re-weighting from this fraction of the epochs, e.g. 0.8 (none = never)",
    "strategies", parse=optional(number(min=0, max=1)), example="0.8",
)  # fmt: skip


@register_loss(
    "ldam",
    "label-distribution-aware margins, optional deferred re-weighting (Cao et al. 2019)",
    params=(DRW_AT,),
)
def ldam(
    *,
    class_counts,
    class_weights,
    max_m: float = 0.5,
    s: float = 30.0,
    drw_epoch: int | None = None,
    drw_at: float | None = None,
    epochs: int | None = None,
):
    if class_weights is not None:
        raise ConfigError(
            "loss 'ldam' sets its own class weights from drw_epoch on (deferred re-weighting); "
            f"got class_weights={class_weights.tolist()}"
        )
    if min(class_counts) == 0:
        raise ConfigError(
            f"loss 'ldam' needs at least one training sample of every class; got counts {class_counts}"
        )
    if not (isinstance(max_m, Real) and 0 < max_m < math.inf):
        raise ConfigError(f"ldam max_m must be a number > 0; got {max_m!r}")
    if not (isinstance(s, Real) and 0 < s < math.inf):
        raise ConfigError(f"ldam s must be a number > 0; got {s!r}")
    if drw_at is not None:  # a fraction of the run's epochs
        if drw_epoch is not None or epochs is None:
            raise ConfigError("ldam: give drw_at with the run's epochs, or drw_epoch, not both")
        drw_epoch = int(round(drw_at * epochs))
    if drw_epoch is not None and not (isinstance(drw_epoch, int) and drw_epoch >= 0):
        raise ConfigError(f"ldam drw_epoch must be None or an int >= 0; got {drw_epoch!r}")
    return LDAMLoss(class_counts, max_m=max_m, s=s, drw_epoch=drw_epoch)
