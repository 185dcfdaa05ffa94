"""Class weights for the loss, validated once at the edge."""

from __future__ import annotations

import math
from numbers import Real

from imbalance_lab.errors import ConfigError, closest


def parse_class_weights(value, num_classes: int) -> tuple[float, ...]:
    """Turn ``"0.15,0.85"`` (or a sequence) into a validated tuple of weights.

    Weights must be finite, at least 0, not all zero, and one per class. They are
    used as given: ``CrossEntropyLoss(weight=...)`` normalises by the summed weight
    of each batch, so only their ratios matter.
    """
    text = value if isinstance(value, str) else ",".join(str(v) for v in value)
    try:
        weights = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(
            f"--class-weights must be numbers separated by commas, e.g. 0.15,0.85; got {text!r}"
        ) from None
    if len(weights) != num_classes:
        raise ConfigError(
            f"--class-weights needs one weight per class ({num_classes}), got {len(weights)}: {text}"
        )
    if not all(math.isfinite(w) for w in weights):
        raise ConfigError(f"--class-weights must be finite numbers, got {text}")
    if any(w < 0 for w in weights):
        raise ConfigError(f"--class-weights must be >= 0, got {text}")
    if not any(w > 0 for w in weights):
        raise ConfigError(f"--class-weights cannot all be zero, got {text}")
    return weights


WEIGHT_SCHEMES = ("balanced", "effective-number")


def class_weight_scheme(
    name: str, counts, *, beta: float = 0.999, normalize: bool = False
) -> tuple[float, ...]:
    """Class weights computed from the class counts of the training set.

    - ``"balanced"``: n / (C * n_c), the same as scikit-learn's
      ``compute_class_weight("balanced")``; a class of average size gets weight 1.
    - ``"effective-number"``: Cui et al. 2019, "Class-Balanced Loss Based on Effective
      Number of Samples": w_c proportional to (1 - beta) / (1 - beta ** n_c), the
      inverse of the class's effective number of samples, scaled so the weights sum
      to C as in the paper. ``beta=0`` gives equal weights; beta -> 1 tends to 1 / n_c.

    ``normalize=True`` rescales either to sum to 1, as the article's weights do.
    """
    if name not in WEIGHT_SCHEMES:
        raise ConfigError(
            f"unknown class weight scheme {name!r}{closest(str(name), WEIGHT_SCHEMES)}; "
            f"choose from: {', '.join(WEIGHT_SCHEMES)}"
        )
    counts = tuple(counts)
    if not counts or not all(isinstance(n, Real) and float(n).is_integer() for n in counts):
        raise ConfigError(f"class counts must be whole numbers, one per class; got {counts}")
    if any(n <= 0 for n in counts):
        raise ConfigError(
            f"class weights need at least one sample of every class; got counts {counts}"
        )
    if name == "balanced":
        total = sum(counts)
        weights = [total / (len(counts) * n) for n in counts]
    else:
        if not (isinstance(beta, Real) and 0 <= beta < 1):
            raise ConfigError(f"beta must be a number in [0, 1); got {beta!r}")
        raw = [(1 - beta) / (1 - beta**n) for n in counts]
        weights = [w * len(counts) / math.fsum(raw) for w in raw]
    if normalize:
        total = math.fsum(weights)
        weights = [w / total for w in weights]
    return tuple(float(w) for w in weights)
