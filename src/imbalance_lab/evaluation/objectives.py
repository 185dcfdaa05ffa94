"""What the user wants of the model, parsed once: ``recall>=0.9``, ``max-f1``, ``f-beta:2`` ...

An :class:`Objective` scores a set of predictions, says whether a constraint is
met, and ranks strategies; the threshold search and ``compare`` both use it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from imbalance_lab.errors import ConfigError

SYNTAX = "max-f1, f-beta:B, recall>=R, precision>=P, balanced-accuracy"
_CONSTRAINT = re.compile(r"^(recall|precision)\s*>=\s*([0-9.eE+-]+)$")
_FBETA = re.compile(r"^f-beta:([0-9.eE+-]+)$")


@dataclass(frozen=True)
class Objective:
    kind: str  # "max-f1", "f-beta", "recall>=", "precision>=" or "balanced-accuracy"
    value: float | None = None  # beta for f-beta; the bound R or P for a constraint

    def __str__(self) -> str:
        if self.kind == "f-beta":
            return f"f-beta:{self.value:g}"
        if self.kind.endswith(">="):
            return f"{self.kind}{self.value:g}"
        return self.kind

    @property
    def constrained(self) -> bool:
        return self.kind.endswith(">=")

    @property
    def constrained_metric(self) -> str | None:
        return self.kind[:-2] if self.constrained else None

    @property
    def target_metric(self) -> str:
        """The metric maximised: precision under a recall bound and vice versa."""
        return {
            "max-f1": "f1",
            "f-beta": "f_beta",
            "recall>=": "precision",
            "precision>=": "recall",
            "balanced-accuracy": "balanced_accuracy",
        }[self.kind]

    def met(self, metrics: dict) -> bool:
        if not self.constrained:
            return True
        return metrics[self.constrained_metric] >= self.value - 1e-12

    def score(self, metrics: dict) -> float:
        """Higher is better; a point that misses the constraint ranks below every one that meets it."""
        if self.kind == "f-beta":
            p, r, b2 = metrics["precision"], metrics["recall"], self.value**2
            value = (1 + b2) * p * r / (b2 * p + r) if (b2 * p + r) > 0 else 0.0
        else:
            value = metrics[self.target_metric]
        if self.constrained and not self.met(metrics):
            return metrics[self.constrained_metric] - 2.0  # closer to the bound ranks higher
        return value


def parse_objective(text: str) -> Objective:
    """Parse the objective syntax; errors name what is allowed."""
    raw = str(text).strip().lower().replace(" ", "")
    if raw in ("max-f1", "balanced-accuracy"):
        return Objective(raw)
    m = _FBETA.match(raw)
    if m:
        beta = _number(m.group(1), text)
        if not (math.isfinite(beta) and beta > 0):
            raise ConfigError(f"objective {text!r}: beta must be > 0")
        return Objective("f-beta", beta)
    m = _CONSTRAINT.match(raw)
    if m:
        bound = _number(m.group(2), text)
        if not (0.0 < bound <= 1.0):
            raise ConfigError(
                f"objective {text!r}: {m.group(1)} bound must be in (0, 1], got {bound:g}"
            )
        return Objective(f"{m.group(1)}>=", bound)
    raise ConfigError(f"cannot parse objective {text!r}; allowed: {SYNTAX}")


def _number(token: str, text: str) -> float:
    try:
        return float(token)
    except ValueError:
        raise ConfigError(f"cannot parse objective {text!r}; allowed: {SYNTAX}") from None
