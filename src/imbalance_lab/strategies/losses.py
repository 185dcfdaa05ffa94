"""Losses, one ``nn.Module`` each, with ``forward(logits, target)``.

Class weights and priors are registered buffers, so they move with ``.to(device)``
and are saved with the state dict. ``create_loss(name, class_counts=...)`` looks a
loss up by the name the CLI uses; ``loss_names()`` is the list the tests run over.

``target`` is either class indices (N,) or class probabilities (N, C), the mixed
labels of mixup / cutmix (strategies/mix.py). Every loss is linear in the target: for
``t = lam * onehot(y_a) + (1 - lam) * onehot(y_b)`` it is exactly
``lam * L(x, y_a) + (1 - lam) * L(x, y_b)`` (Zhang et al. 2018, "mixup", Sec. 2), each
term with its own class weight and, for LDAM, its own class's margin. The prior-based
losses (logit-adjusted, balanced softmax, LDAM) keep the TRAINING prior / counts given
at construction: a mixed batch does not change it, because when the partner of each
image is a permutation of the same batch, both mixed labels are drawn from the training
label distribution p, so the expected mixed target E[t] = E[lam] p + E[1 - lam] p = p.
The logit adjustment of Menon et al. 2021 (Thm. 1) needs exactly this label marginal,
so log p remains the right offset; estimating a "mixed prior" from a batch's soft labels
would only add noise. (With a partner drawn from another sampler, e.g. class-balanced,
the marginal would become a mixture and the offset would have to follow it.)

``label_smoothing=eps`` (Szegedy et al. 2016, "Rethinking the Inception Architecture",
Sec. 7) replaces the target t by (1 - eps) t + eps / C, for every loss. With hard
targets and eps = 0 each loss runs its original code path, bit for bit.
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


def is_soft(target: torch.Tensor, logits: torch.Tensor) -> bool:
    """True for class probabilities (N, C), False for class indices (N,)."""
    if target.ndim == 1 and not target.is_floating_point():
        return False
    if target.shape != logits.shape or not target.is_floating_point():
        raise ValueError(
            f"target must be class indices of shape ({logits.shape[0]},) or class "
            f"probabilities of shape {tuple(logits.shape)}; got {target.dtype} {tuple(target.shape)}"
        )
    return True


def target_distribution(
    target: torch.Tensor, logits: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """The target as class probabilities (N, C), smoothed: (1 - eps) t + eps / C."""
    num_classes = logits.shape[1]
    if is_soft(target, logits):
        t = target.to(logits.dtype)
    else:
        t = F.one_hot(target, num_classes).to(logits.dtype)
    if label_smoothing:
        t = t * (1 - label_smoothing) + label_smoothing / num_classes
    return t


def reduce_per_class(
    per_class: torch.Tensor,
    t: torch.Tensor,
    weight: torch.Tensor | None,
    normalize: str = "weight",
) -> torch.Tensor:
    """Reduce per-item, per-class losses ``per_class[i, c]`` (the loss of item i if its
    label were c) with target probabilities ``t``: sum_i sum_c w_c t_ic l_ic, divided by
    sum_i sum_c w_c t_ic (``normalize="weight"``, the weighted mean of
    CrossEntropyLoss(weight=w), exact for one-hot t) or by N (``"count"``)."""
    weighted = t if weight is None else t * weight.to(t.dtype)
    total = (weighted * per_class).sum()
    if normalize == "count" or weight is None:
        return total / per_class.shape[0]
    return total / weighted.sum().clamp_min(torch.finfo(per_class.dtype).tiny)


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean_i -sum_c target_ic log softmax(logits_i)_c, for any non-negative target rows
    (they need not sum to 1: GLMC's re-weighted mixed labels do not)."""
    return -(target.to(logits.dtype) * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


class WeightedCrossEntropy(nn.Module):
    """``nn.CrossEntropyLoss(weight=w)``, except that a batch whose weights sum to zero
    (weights (0, 1) and a batch without a single dog) gives a loss of 0, not NaN.
    Takes class indices or class probabilities; ``label_smoothing`` as in the module doc."""

    def __init__(self, weight: torch.Tensor | None = None, label_smoothing: float = 0.0):
        super().__init__()
        self.label_smoothing = float(label_smoothing)
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.label_smoothing or is_soft(target, logits):
            t = target_distribution(target, logits, self.label_smoothing)
            return reduce_per_class(-F.log_softmax(logits, dim=1), t, self.weight)
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

# A setting every loss owns (declared on each entry, so the trainer passes it to any loss).
LABEL_SMOOTHING = Param(
    "label_smoothing", 0.0,
    "label smoothing eps: targets (1 - eps) t + eps / C (Szegedy et al. 2016); 0 = off",
    "strategies", parse=number(min=0, below=1), example="0.1",
)  # fmt: skip


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


def _check_smoothing(name: str, label_smoothing) -> float:
    if not (isinstance(label_smoothing, Real) and 0 <= label_smoothing < 1):
        raise ConfigError(
            f"{name} label_smoothing must be a number in [0, 1); got {label_smoothing!r}"
        )
    return float(label_smoothing)


@register_loss(
    "weighted-ce", "cross-entropy, with the class weights when given", params=(LABEL_SMOOTHING,)
)
def weighted_ce(*, class_counts, class_weights, label_smoothing: float = 0.0):
    return WeightedCrossEntropy(class_weights, _check_smoothing("weighted-ce", label_smoothing))


class FocalLoss(nn.Module):
    """Softmax focal loss, Lin et al. 2017, "Focal Loss for Dense Object Detection",
    eq. 5: FL = -alpha_t * (1 - p_t) ** gamma * log(p_t), with p_t the softmax
    probability of the true class.

    ``gamma=0`` is cross-entropy. Per-class ``alpha`` is reduced like
    ``CrossEntropyLoss(weight=alpha)`` (weighted mean), so that with ``gamma=0`` the
    two agree exactly. (Lin et al. normalise a detection image's sum by its number of
    positive anchors, which has no classification analogue; for Cui et al.'s
    class-balanced focal loss, normalised by N, see ``cb-focal``.)
    """

    def __init__(
        self, gamma: float = 2.0, alpha: torch.Tensor | None = None, label_smoothing: float = 0.0
    ):
        super().__init__()
        self.gamma = float(gamma)
        self.label_smoothing = float(label_smoothing)
        self.register_buffer("alpha", alpha)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.label_smoothing or is_soft(target, logits):
            log_p = F.log_softmax(logits, dim=1)
            per_class = -log_p * (-torch.expm1(log_p)).clamp_min(0) ** self.gamma
            t = target_distribution(target, logits, self.label_smoothing)
            return reduce_per_class(per_class, t, self.alpha)
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
    "focal", "focal loss: down-weights well-classified images (Lin et al. 2017)",
    params=(GAMMA, LABEL_SMOOTHING),
)  # fmt: skip
def focal(*, class_counts, class_weights, gamma: float = 2.0, label_smoothing: float = 0.0):
    if not (isinstance(gamma, Real) and 0 <= gamma < math.inf):
        raise ConfigError(f"focal gamma must be a number >= 0; got {gamma!r}")
    return FocalLoss(gamma, class_weights, _check_smoothing("focal", label_smoothing))


class LogitAdjustedLoss(nn.Module):
    """Cross-entropy on ``logits + tau * log(prior)``: Menon et al. 2021, "Long-tail
    learning via logit adjustment" (the logit-adjusted loss, eq. 10).

    The model learns logits that are *not* tilted towards frequent classes; at test
    time its raw logits are used. ``tau=0`` is cross-entropy.
    """

    def __init__(
        self,
        log_prior: torch.Tensor,
        tau: float = 1.0,
        weight: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
    ):
        super().__init__()
        self.tau = float(tau)
        self.register_buffer("log_prior", log_prior)
        self.ce = WeightedCrossEntropy(weight, label_smoothing)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.ce(logits + self.tau * self.log_prior.to(logits.dtype), target)


TAU = Param(
    "tau", 1.0, "logit-adjusted loss temperature (0 = cross-entropy)", "strategies",
    parse=number(), example="1.5",
)  # fmt: skip


@register_loss(
    "logit-adjusted",
    "logit-adjusted loss: cross-entropy on logits + tau log prior (Menon et al. 2021)",
    params=(TAU, LABEL_SMOOTHING),
)
def logit_adjusted(*, class_counts, class_weights, tau: float = 1.0, label_smoothing: float = 0.0):
    if not (isinstance(tau, Real) and math.isfinite(tau)):
        raise ConfigError(f"logit-adjusted tau must be a finite number; got {tau!r}")
    log_counts = _log_counts("logit-adjusted", class_counts)
    return LogitAdjustedLoss(
        log_counts - log_counts.logsumexp(0),
        tau,
        class_weights,
        _check_smoothing("logit-adjusted", label_smoothing),
    )


@register_loss(
    "balanced-softmax", "balanced softmax: softmax over logits + log n_c (Ren et al. 2020)",
    params=(LABEL_SMOOTHING,),
)  # fmt: skip
def balanced_softmax(*, class_counts, class_weights, label_smoothing: float = 0.0):
    # Ren et al. 2020, "Balanced Meta-Softmax for Long-Tailed Visual Recognition":
    # softmax over logits + log(n_c). log(n_c) and log(prior) differ by a constant that
    # softmax ignores, so this is the logit-adjusted loss with tau = 1.
    return LogitAdjustedLoss(
        _log_counts("balanced-softmax", class_counts),
        1.0,
        class_weights,
        _check_smoothing("balanced-softmax", label_smoothing),
    )


class LDAMLoss(nn.Module):
    """Label-distribution-aware margin loss with deferred re-weighting (DRW):
    Cao et al. 2019, "Learning Imbalanced Datasets with Label-Distribution-Aware
    Margin Loss".

    The true class's logit is lowered by a margin Delta_c = C / n_c ** (1/4),
    with C chosen so the largest margin is ``max_m`` (0.5 in the paper); the result is
    scaled by ``s`` (30) before cross-entropy. Rare classes get larger margins. The
    paper's model ends in a cosine head (models/heads.py: logits in [-1, 1]), which
    s = 30 assumes. From ``drw_epoch`` on (see :meth:`set_epoch`; epoch 160 of 200 in
    the paper) the items are weighted by effective-number class weights (Cui et al.
    2019, beta = 0.9999, scaled to sum to C), reduced as CrossEntropyLoss(weight=w),
    as the paper's DRW schedule does; before it, and always when ``drw_epoch`` is None,
    they are not weighted.
    """

    def __init__(
        self,
        class_counts: tuple[int, ...],
        max_m: float = 0.5,
        s: float = 30.0,
        drw_epoch: int | None = None,
        beta: float = 0.9999,
        label_smoothing: float = 0.0,
    ):
        super().__init__()
        self.s = float(s)
        self.drw_epoch = drw_epoch
        self.label_smoothing = float(label_smoothing)
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
        if self.label_smoothing or is_soft(target, logits):
            return self._forward_soft(logits, target)
        margin = F.one_hot(target, logits.shape[1]).to(logits.dtype) * self.margins[target, None]
        return F.cross_entropy(
            self.s * (logits - margin), target, weight=self.weight.to(logits.dtype)
        )

    def _forward_soft(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # l_ic = CE(s (z - Delta_c e_c), c): each candidate label c lowers only its own
        # logit, so l_ic = softplus(lse_{j != c}(a_j) - (a_c - s Delta_c)) with a = s z.
        # The log-sum-exp over the other classes is summed directly, never as "all minus
        # one" where that one dominates, which would cancel in float32.
        a = self.s * logits
        shift = self.s * self.margins.to(logits.dtype)
        top = a.max(dim=1, keepdim=True)
        e = (a - top.values).exp()
        others = e.sum(dim=1, keepdim=True) - e  # exact for every class but the top one
        rest = e.scatter(1, top.indices, 0.0).sum(dim=1, keepdim=True)
        # Floored: when every other class underflows, log(0) would make the gradient NaN.
        others = others.scatter(1, top.indices, rest).clamp_min(torch.finfo(a.dtype).tiny)
        per_class = F.softplus(top.values + others.log() - (a - shift))
        t = target_distribution(target, logits, self.label_smoothing)
        return reduce_per_class(per_class, t, self.weight)


DRW_AT = Param(
    "drw_at", None,
    "LDAM: deferred re-weighting from this fraction of the epochs, e.g. 0.8 (none = never)",
    "strategies", parse=optional(number(min=0, max=1)), example="0.8",
)  # fmt: skip


@register_loss(
    "ldam",
    "label-distribution-aware margins, optional deferred re-weighting (Cao et al. 2019)",
    params=(DRW_AT, LABEL_SMOOTHING),
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
    label_smoothing: float = 0.0,
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
    return LDAMLoss(
        class_counts,
        max_m=max_m,
        s=s,
        drw_epoch=drw_epoch,
        label_smoothing=_check_smoothing("ldam", label_smoothing),
    )


class ClassBalancedFocalLoss(nn.Module):
    """Class-balanced sigmoid focal loss: Cui et al. 2019, "Class-Balanced Loss Based on
    Effective Number of Samples", Sec. 4 ("Class-Balanced Focal Loss"), their best loss
    on CIFAR-10-LT at imbalance 100 (beta = 0.9999, gamma = 1.0, Table 2):

        CB_focal(z, y) = -(1 - beta) / (1 - beta ** n_y)
                         * sum_{i=1..C} (1 - p_i^t) ** gamma * log(p_i^t),

    with p_i^t = sigmoid(z_i) for i = y and 1 - sigmoid(z_i) otherwise: one binary focal
    loss per class (Lin et al. 2017, eq. 5), all weighted by the weight of the item's
    class, and averaged over the N items of the batch (the weights are scaled to sum to
    C). Cui et al. also start the last layer's bias at -log((1 - pi) / pi), pi = 0.1,
    for sigmoid losses; that is the model's business (see the report / trainer).
    """

    def __init__(self, weight: torch.Tensor, gamma: float = 1.0, label_smoothing: float = 0.0):
        super().__init__()
        self.gamma = float(gamma)
        self.label_smoothing = float(label_smoothing)
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        t = target_distribution(target, logits, self.label_smoothing)
        # Binary focal terms, stably: -log sigmoid(z) = softplus(-z), 1 - sigmoid(z) = exp(-softplus(z)).
        as_positive = torch.exp(-self.gamma * F.softplus(logits)) * F.softplus(-logits)
        as_negative = torch.exp(-self.gamma * F.softplus(-logits)) * F.softplus(logits)
        # Loss of item i if its label were c: every class negative except c.
        per_class = as_negative.sum(dim=1, keepdim=True) - as_negative + as_positive
        return reduce_per_class(per_class, t, self.weight, normalize="count")


@register_loss(
    "cb-focal",
    "class-balanced sigmoid focal loss, effective-number weights (Cui et al. 2019)",
    params=(LABEL_SMOOTHING,),
)
def cb_focal(
    *,
    class_counts,
    class_weights,
    gamma: float = 1.0,
    beta: float = 0.9999,
    label_smoothing: float = 0.0,
):
    if class_weights is not None:
        raise ConfigError(
            "loss 'cb-focal' sets its own class weights from beta (effective number); "
            f"got class_weights={class_weights.tolist()}"
        )
    if min(class_counts) == 0:
        raise ConfigError(
            f"loss 'cb-focal' needs at least one training sample of every class; got counts {class_counts}"
        )
    if not (isinstance(gamma, Real) and 0 <= gamma < math.inf):
        raise ConfigError(f"cb-focal gamma must be a number >= 0; got {gamma!r}")
    weights = class_weight_scheme("effective-number", class_counts, beta=beta)
    return ClassBalancedFocalLoss(
        torch.tensor(weights, dtype=torch.float32),
        gamma,
        _check_smoothing("cb-focal", label_smoothing),
    )


class PolyLoss(nn.Module):
    """Poly-1, Leng et al. 2022, "PolyLoss: A Polynomial Expansion Perspective of
    Classification Loss Functions", eq. 3: L = -log(p_t) + epsilon * (1 - p_t).

    ``epsilon=0`` is cross-entropy. For a target distribution t (mixed or smoothed
    labels) the loss is sum_c t_c (-log p_c + epsilon (1 - p_c)), linear in t like
    every other loss here; class weights reduce it like ``CrossEntropyLoss(weight=w)``.
    """

    def __init__(
        self, epsilon: float = 1.0, weight: torch.Tensor | None = None, label_smoothing: float = 0.0
    ):
        super().__init__()
        self.epsilon = float(epsilon)
        self.label_smoothing = float(label_smoothing)
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits, dim=1)
        # 1 - p as -expm1(log p): exact when p is close to 1.
        per_class = -log_p + self.epsilon * (-torch.expm1(log_p))
        t = target_distribution(target, logits, self.label_smoothing)
        return reduce_per_class(per_class, t, self.weight)


POLY_EPSILON = Param(
    "poly_epsilon", 1.0, "Poly-1 loss: weight of the (1 - p_t) term (0 = cross-entropy)",
    "strategies", parse=number(min=-1), example="2",
)  # fmt: skip


@register_loss(
    "poly", "Poly-1: cross-entropy plus epsilon (1 - p_t) (Leng et al. 2022)",
    params=(POLY_EPSILON, LABEL_SMOOTHING),
)  # fmt: skip
def poly(*, class_counts, class_weights, poly_epsilon: float = 1.0, label_smoothing: float = 0.0):
    return PolyLoss(poly_epsilon, class_weights, _check_smoothing("poly", label_smoothing))
