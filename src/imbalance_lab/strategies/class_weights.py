"""Class weights for the loss, validated once at the edge."""

from __future__ import annotations

import math

from imbalance_lab.errors import ConfigError


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
