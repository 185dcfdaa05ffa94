"""Class weights for the loss, validated once at the edge."""

from __future__ import annotations

import math
from numbers import Real

from imbalance_lab.errors import ConfigError
from imbalance_lab.params import Param, number
from imbalance_lab.registry import Registry


def parse_class_weights(value, num_classes: int | None = None) -> tuple[float, ...]:
    """Turn ``"0.15,0.85"`` (or a sequence) into a validated tuple of weights.

    Weights must be finite, at least 0, not all zero, and (when ``num_classes`` is
    given) one per class. They are used as given: ``CrossEntropyLoss(weight=...)``
    normalises by the summed weight of each batch, so only their ratios matter.
    """
    text = value if isinstance(value, str) else ",".join(str(v) for v in value)
    try:
        weights = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(
            f"--class-weights must be numbers separated by commas, e.g. 0.15,0.85; got {text!r}"
        ) from None
    if num_classes is not None:
        check_class_weights(weights, num_classes)
    if not all(math.isfinite(w) for w in weights):
        raise ConfigError(f"--class-weights must be finite numbers, got {text}")
    if any(w < 0 for w in weights):
        raise ConfigError(f"--class-weights must be >= 0, got {text}")
    if not any(w > 0 for w in weights):
        raise ConfigError(f"--class-weights cannot all be zero, got {text}")
    return weights


def check_class_weights(weights, classes) -> None:
    """One weight per class: ``classes`` is the class count or the class names."""
    names = None if isinstance(classes, int) else list(classes)
    n = classes if names is None else len(names)
    if len(weights) != n:
        listed = f": {', '.join(names)}" if names else ""
        raise ConfigError(
            f"--class-weights needs one weight per class ({n}{listed}), "
            f"got {len(weights)}: {','.join(f'{w:g}' for w in weights)}"
        )


# Each scheme maps the training counts (and its own settings) to one weight per class.
WEIGHT_SCHEMES = Registry("weight scheme")
BETA = Param(
    "beta", 0.999, "effective-number class weights: beta in [0, 1) (Cui et al. 2019)",
    "strategies", parse=number(min=0, below=1), example="0.9999",
)  # fmt: skip


@WEIGHT_SCHEMES.register("balanced", "n / (C n_c), as scikit-learn's compute_class_weight")
def _balanced(counts: tuple[int, ...]) -> list[float]:
    total = sum(counts)
    return [total / (len(counts) * n) for n in counts]


@WEIGHT_SCHEMES.register(
    "effective-number",
    "(1 - beta) / (1 - beta^n_c), summing to C: the class-balanced loss (Cui et al. 2019)",
    params=(BETA,),
)
def _effective_number(counts: tuple[int, ...], beta: float = BETA.default) -> list[float]:
    if not (isinstance(beta, Real) and 0 <= beta < 1):
        raise ConfigError(f"beta must be a number in [0, 1); got {beta!r}")
    raw = [(1 - beta) / (1 - beta**n) for n in counts]
    return [w * len(counts) / math.fsum(raw) for w in raw]


def class_weight_scheme(
    name: str, counts, *, normalize: bool = False, **settings
) -> tuple[float, ...]:
    """Class weights computed from the class counts of the training set.

    - ``"balanced"``: n / (C * n_c), the same as scikit-learn's
      ``compute_class_weight("balanced")``; a class of average size gets weight 1.
    - ``"effective-number"``: Cui et al. 2019, "Class-Balanced Loss Based on Effective
      Number of Samples": w_c proportional to (1 - beta) / (1 - beta ** n_c), the
      inverse of the class's effective number of samples, scaled so the weights sum
      to C as in the paper. ``beta=0`` gives equal weights; beta -> 1 tends to 1 / n_c.

    ``settings`` are the scheme's own (``beta``); ``normalize=True`` rescales the
    weights to sum to 1, as the article's weights do.
    """
    scheme = WEIGHT_SCHEMES.get(name)
    counts = tuple(counts)
    if not counts or not all(isinstance(n, Real) and float(n).is_integer() for n in counts):
        raise ConfigError(f"class counts must be whole numbers, one per class; got {counts}")
    if any(n <= 0 for n in counts):
        raise ConfigError(
            f"class weights need at least one sample of every class; got counts {counts}"
        )
    weights = scheme(counts, **settings)
    if normalize:
        total = math.fsum(weights)
        weights = [w / total for w in weights]
    return tuple(float(w) for w in weights)
