"""Choose an operating point on the calibration split, never on the test split.

Binary tasks: a decision threshold on the positive class's probability. Multi-class
tasks: post-hoc logit adjustment, argmax_c(log p_c - tau * log prior_c), with tau
chosen on the calibration split (Menon et al. 2021, "Long-tail learning via logit
adjustment", Sec. 4).

A recall bound is meant for new data, not for the calibration split: the highest
threshold that recalls a fraction R of n calibration positives recalls, in expectation,
fewer than R of new positives. Conformal risk control (Angelopoulos et al. 2024,
"Conformal Risk Control", Thm. 1, with the miss indicator as the loss) gives the
fix: ask for n * (1 - recall) + 1 <= (1 - R) * (n + 1), i.e. calibration recall
>= R * (n + 1) / n. The expected recall on new, exchangeable positives is then >= R.
That is at most 1 only from n >= R / (1 - R) positives (9 for R = 0.9); a bound of 1
can never be guaranteed this way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from imbalance_lab.evaluation.metrics import classification_metrics
from imbalance_lab.evaluation.objectives import Objective

TAU_GRID = tuple(np.round(np.arange(0.0, 3.01, 0.25), 2))


@dataclass(frozen=True)
class OperatingPoint:
    kind: str  # "threshold" (binary) or "tau" (multi-class logit adjustment)
    value: float  # the threshold on p(positive), or tau
    met: bool  # whether the objective's constraint holds on the calibration split
    calibration: dict  # metrics on the calibration split at this point
    message: str  # one line for the user


def predict_at(
    scores: np.ndarray, point: OperatingPoint | None, prior: np.ndarray | None = None
) -> np.ndarray:
    """Class predictions from probabilities at an operating point (None: argmax)."""
    scores = np.asarray(scores, dtype=np.float64)
    if point is None:
        return scores.argmax(axis=1)
    if point.kind == "threshold":
        return (scores[:, 1] >= point.value).astype(np.int64)
    adjusted = np.log(np.clip(scores, 1e-12, None)) - point.value * np.log(prior)
    return adjusted.argmax(axis=1)


def choose_operating_point(
    y_true: np.ndarray, scores: np.ndarray, objective: Objective, prior: np.ndarray | None = None
) -> OperatingPoint:
    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape[1] == 2:
        return _choose_threshold(y_true, scores, objective)
    return _choose_tau(y_true, scores, objective, prior)


def calibration_bound(objective: Objective, positives: int) -> Objective:
    """The bound to ask of the calibration split so that it holds, in expectation, on new data.

    Only a recall bound is corrected (see the module docstring); a precision bound is a
    ratio over the predicted positives, which that argument does not cover, and is kept.
    """
    if objective.kind != "recall>=" or positives <= 0:
        return objective
    return Objective("recall>=", objective.value * (positives + 1) / positives)


def positives_needed(bound: float) -> int | None:
    """The fewest calibration positives from which recall >= ``bound`` can be met (None: none).

    R * (n + 1) / n <= 1 from n >= R / (1 - R) (see the module docstring); the 1e-9
    absorbs float error, e.g. 0.9 / 0.1 = 9.000000000000002.
    """
    if bound >= 1.0:
        return None
    return max(1, math.ceil(bound / (1.0 - bound) - 1e-9))


def _unmet_reason(objective: Objective, positives: int, metrics: dict) -> str:
    name = objective.constrained_metric
    if objective.kind == "recall>=":
        needed = positives_needed(objective.value)
        if needed is None:
            return (
                f"no number of calibration positives makes {objective} hold on new data "
                "(it would need a calibration recall above 1); ask for less, e.g. recall>=0.99"
            )
        if positives < needed:
            return (
                f"it needs at least {needed} calibration positives, there are {positives}; "
                "raise --val (the calibration fraction) or train on more positives"
            )
    return f"the best {name} is {metrics[name]:.3f}"


def _choose_threshold(y_true, scores, objective) -> OperatingPoint:
    p = scores[:, 1]
    positives = int((y_true == 1).sum())
    asked = calibration_bound(objective, positives)
    # Every distinct score is a candidate (predict positive when p >= t), plus one
    # above the maximum (nothing positive).
    candidates = np.unique(np.concatenate([p, [np.nextafter(p.max(), np.inf)]]))
    best, best_key = None, None
    for t in candidates:
        m = classification_metrics(y_true, (p >= t).astype(np.int64), 2)
        # Rank by the objective; among ties prefer more of the constrained metric (the
        # margin that makes the bound likelier to hold on new data), then fewer alarms.
        margin = m[objective.constrained_metric] if objective.constrained else 0.0
        key = (asked.score(m), margin, t)
        if best_key is None or key > best_key:
            best, best_key = (float(t), m), key
    t, m = best
    met = asked.met(m)
    name = objective.constrained_metric
    if met and asked != objective:
        message = (
            f"threshold {t:.4f} on p(positive) meets {objective} on new data in expectation: "
            f"calibration {name} {m[name]:.3f} >= {objective.value:g}*{positives + 1}/{positives}"
        )
    elif met:
        message = f"threshold {t:.4f} on p(positive) meets {objective} on the calibration split"
    else:
        message = (
            f"{objective} cannot be met on the calibration split: "
            f"{_unmet_reason(objective, positives, m)}; using the closest point, threshold {t:.4f}"
        )
    return OperatingPoint("threshold", t, met, m, message)


def _choose_tau(y_true, scores, objective, prior) -> OperatingPoint:
    assert prior is not None, "multi-class logit adjustment needs the training prior"
    best, best_key = None, None
    for tau in TAU_GRID:
        point = OperatingPoint("tau", float(tau), True, {}, "")
        m = classification_metrics(y_true, predict_at(scores, point, prior), scores.shape[1])
        key = (objective.score(m), -tau)  # ties: the smaller adjustment
        if best_key is None or key > best_key:
            best, best_key = (float(tau), m), key
    tau, m = best
    met = objective.met(m)
    message = f"logit adjustment tau={tau:g} chosen on the calibration split for {objective}"
    if not met:
        message = f"{objective} cannot be met on the calibration split (best macro {objective.constrained_metric} {m[objective.constrained_metric]:.3f}); using tau={tau:g}, the closest"
    return OperatingPoint("tau", tau, met, m, message)
