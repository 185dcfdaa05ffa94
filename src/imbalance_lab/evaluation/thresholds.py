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

An expectation is over calibration draws: on one deployment the recall is spread around
R, with a standard deviation near sqrt(R (1 - R) / n), and falls a little below it close
to half the time. The high-probability rule bounds that chance by delta instead. A
threshold may miss m of the n calibration positives only if P(Binomial(n, 1 - R) <= m)
<= delta, i.e. the one-sided binomial test rejects "recall < R" at level delta. The
thresholds are nested (a lower one recalls every positive a higher one does), so testing
them from the most permissive up, stopping at the first that fails, needs no multiplicity
correction (fixed-sequence testing; Angelopoulos et al. 2021, "Learn then Test", Sec. 3).
Recall on new, exchangeable positives is then >= R with probability >= 1 - delta over the
calibration draw (the training-conditional validity of Vovk 2012, "Conditional validity
of inductive conformal predictors"). With no miss allowed the test needs R^n <= delta,
i.e. n >= log(delta) / log(R) positives (29 for R = 0.9, delta = 0.05).

Every binary point also reports a Clopper-Pearson interval (evaluation/intervals.py) for
the calibration estimate of its constrained metric, and a one-line warning when it is
wider than ±0.05.

Which rule when. ``expected`` (the default): recall >= R on average over new data, with
the least overshoot and so the most precision; right when recall is judged over many
runs or periods, or a recall a little below R on one deployment is acceptable.
``high-probability``: for users who need recall >= R on this deployment with probability
1 - delta (a contract, a safety case); it asks more calibration recall and so costs
precision, the more the smaller n. Neither rule narrows the reported interval: its width
is calibration noise, about ±2 sqrt(R (1 - R) / n), and only more calibration positives
shrink it; ``--calibration cv:K`` makes every training positive a calibration positive.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from imbalance_lab.errors import ConfigError
from imbalance_lab.evaluation.intervals import (
    CONFIDENCE,
    NARROW,
    WIDE,
    clopper_pearson,
    positives_for,
)
from imbalance_lab.evaluation.metrics import binary_metrics_at_thresholds, classification_metrics
from imbalance_lab.evaluation.objectives import Objective
from imbalance_lab.params import Param, number
from imbalance_lab.registry import Registry

DELTA = Param(
    "delta", 0.05, "high-probability threshold rule: the chance, at most, that the recall on "
    "new data falls below the bound", "evaluation", parse=number(above=0, below=1),
    example="0.1",
)  # fmt: skip

TAU_GRID = tuple(np.round(np.arange(0.0, 3.01, 0.25), 2))


@dataclass(frozen=True)
class ThresholdRule:
    """How a recall bound R is asked of n calibration positives (see the module docstring)."""

    ask: Callable[[float, int, float], float]  # (R, n, delta) -> the calibration recall to ask
    needed: Callable[[float, float], int | None]  # (R, delta) -> fewest n with ask <= 1
    promise: Callable[[float], str]  # delta -> how the bound holds on new data
    why: Callable[[float, int, float], str]  # (R, n, delta) -> where the asked recall comes from


def allowed_misses(bound: float, positives: int, delta: float) -> int:
    """The most calibration positives a threshold may miss so that the one-sided binomial
    test rejects "recall < bound" at level delta (-1: not even none)."""
    from scipy.special import bdtr  # the binomial CDF; imported when needed (CLI start-up)

    misses = np.arange(positives + 1)
    # P(Binomial(n, 1 - R) <= m) grows with m: the allowed misses are a prefix.
    passing = np.flatnonzero(bdtr(misses, positives, 1.0 - bound) <= delta)
    return int(passing[-1]) if passing.size else -1


def _expected_needed(bound: float, _delta: float) -> int | None:
    """R * (n + 1) / n <= 1 from n >= R / (1 - R); the 1e-9 absorbs float error, e.g.
    0.9 / 0.1 = 9.000000000000002."""
    if bound >= 1.0:
        return None
    return max(1, math.ceil(bound / (1.0 - bound) - 1e-9))


def _high_probability_needed(bound: float, delta: float) -> int | None:
    """No miss allowed passes the test when R^n <= delta: n >= log(delta) / log(R). The test
    itself settles the last unit, which float error in the logarithms could shift."""
    if bound >= 1.0:
        return None
    n = max(1, math.ceil(math.log(delta) / math.log(bound) - 1e-9))
    while allowed_misses(bound, n, delta) < 0:
        n += 1
    while n > 1 and allowed_misses(bound, n - 1, delta) >= 0:
        n -= 1
    return n


def _high_probability_why(bound: float, positives: int, delta: float) -> str:
    misses = allowed_misses(bound, positives, delta)
    return (
        f"{positives - misses}/{positives} (at most {misses} of {positives} positives missed: "
        f"binomial test at delta {delta:g})"
    )


THRESHOLD_RULES = Registry("threshold rule")
THRESHOLD_RULES.add(
    "expected",
    ThresholdRule(
        ask=lambda bound, n, _delta: bound * (n + 1) / n,
        needed=_expected_needed,
        promise=lambda _delta: "in expectation",
        why=lambda bound, n, _delta: f"{bound:g}*{n + 1}/{n}",
    ),
    "calibration recall >= R(n+1)/n: recall >= R on new data in expectation "
    "(Angelopoulos et al. 2024)",
)  # fmt: skip
THRESHOLD_RULES.add(
    "high-probability",
    ThresholdRule(
        # (n - m) / n with m = -1 asks a recall above 1: the bound cannot be met.
        ask=lambda bound, n, delta: (n - allowed_misses(bound, n, delta)) / n,
        needed=_high_probability_needed,
        promise=lambda delta: f"with probability >= {1 - delta:g}",
        why=_high_probability_why,
    ),
    "recall >= R on new data with probability >= 1 - delta (binomial tail bound)",
    params=(DELTA,),
)  # fmt: skip


@dataclass(frozen=True)
class OperatingPoint:
    kind: str  # "threshold" (binary) or "tau" (multi-class logit adjustment)
    value: float  # the threshold on p(positive), or tau
    met: bool  # whether the objective's constraint holds on the calibration split
    calibration: dict  # metrics on the calibration split at this point
    message: str  # one line for the user
    interval: dict | None = None  # Clopper-Pearson interval of the calibration estimate
    warning: str | None = None  # one line when that interval is wider than ±WIDE


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
    y_true: np.ndarray,
    scores: np.ndarray,
    objective: Objective,
    prior: np.ndarray | None = None,
    *,
    rule: str = "expected",
    delta: float = DELTA.default,
) -> OperatingPoint:
    """The point that best serves ``objective`` on calibration labels and probabilities.

    ``rule`` (a THRESHOLD_RULES name) and ``delta`` say how a recall bound is asked of the
    calibration positives; every other objective, and the multi-class tau, ignore them:
    the rules are about recall on new positives, which only a recall bound promises.
    """
    threshold_rule = THRESHOLD_RULES.get(rule)
    if not 0.0 < delta < 1.0:
        raise ConfigError(f"delta must be in (0, 1), got {delta!r}")
    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape[1] == 2:
        return _choose_threshold(y_true, scores, objective, rule, threshold_rule, delta)
    return _choose_tau(y_true, scores, objective, prior)


def calibration_bound(
    objective: Objective, positives: int, rule: str = "expected", delta: float = DELTA.default
) -> Objective:
    """The bound to ask of the calibration split so that it holds on new data, as ``rule`` promises.

    Only a recall bound is corrected (see the module docstring); a precision bound is a
    ratio over the predicted positives, which that argument does not cover, and is kept.
    """
    if objective.kind != "recall>=" or positives <= 0:
        return objective
    return Objective("recall>=", THRESHOLD_RULES.get(rule).ask(objective.value, positives, delta))


def positives_needed(
    bound: float, rule: str = "expected", delta: float = DELTA.default
) -> int | None:
    """The fewest calibration positives from which recall >= ``bound`` can be met (None: none)."""
    return THRESHOLD_RULES.get(rule).needed(bound, delta)


def recall_interval(hits: int, count: int, metric: str = "recall") -> dict | None:
    """The calibration estimate hits/count of ``metric`` with its Clopper-Pearson interval,
    as plain JSON values (None when count is 0: nothing was measured)."""
    if count <= 0:
        return None
    estimate = hits / count
    low, high = clopper_pearson(hits, count, CONFIDENCE)
    return {
        "metric": metric,
        "estimate": estimate,
        "low": low,
        "high": high,
        "confidence": CONFIDENCE,
        "count": int(count),
        "half_width": max(estimate - low, high - estimate),
        f"count_for_{NARROW:g}": positives_for(NARROW, estimate, CONFIDENCE),
    }


CV_REMEDY = "add positives or use --calibration cv:5"


def interval_warning(interval: dict | None, remedy: str = CV_REMEDY) -> str | None:
    """One line, with the remedy, when the interval is wider than ±WIDE; else None."""
    if interval is None or interval["half_width"] <= WIDE:
        return None
    counted = "calibration positives" if interval["metric"] == "recall" else "predicted positives"
    return (
        f"the calibration {interval['metric']} {interval['estimate']:.3f} is known only to "
        f"±{interval['half_width']:.2f} ({interval['confidence']:.0%} CI "
        f"{interval['low']:.2f}-{interval['high']:.2f}, {interval['count']} {counted}); about "
        f"{interval[f'count_for_{NARROW:g}']} {counted} would narrow it to ±{NARROW:g}: " + remedy
    )


def _point_interval(objective: Objective, y_true, predicted) -> dict | None:
    # A precision bound is about the predicted positives; every other objective, max-f1 and
    # the like included, reports recall: it is still what users ask of a rare-class
    # detector ("how many positives does it catch?"), and it is the rate a rule bounds.
    hits = int(((predicted == 1) & (y_true == 1)).sum())
    if objective.kind == "precision>=":
        return recall_interval(hits, int((predicted == 1).sum()), "precision")
    return recall_interval(hits, int((y_true == 1).sum()), "recall")


def _unmet_reason(
    objective: Objective, positives: int, metrics: dict, rule: str, delta: float
) -> str:
    name = objective.constrained_metric
    if objective.kind == "recall>=":
        promise = THRESHOLD_RULES.get(rule).promise(delta)
        needed = positives_needed(objective.value, rule, delta)
        if needed is None:
            return (
                f"no number of calibration positives makes {objective} hold on new data "
                f"{promise} (it would need a calibration recall above 1); ask for less, "
                "e.g. recall>=0.99"
            )
        if positives < needed:
            # The default rule keeps its short message; another one names its promise.
            what = (
                "it"
                if rule == "expected"
                else f"recall >= {objective.value:g} on new data {promise}"
            )
            return (
                f"{what} needs at least {needed} calibration positives, there are {positives}; "
                "raise --val (the calibration fraction) or train on more positives"
            )
    return f"the best {name} is {metrics[name]:.3f}"


def _choose_threshold(y_true, scores, objective, rule, threshold_rule, delta) -> OperatingPoint:
    p = scores[:, 1]
    positives = int((y_true == 1).sum())
    asked = calibration_bound(objective, positives, rule, delta)
    # Every distinct score is a candidate (predict positive when p >= t), plus one
    # above the maximum (nothing positive).
    candidates = np.unique(np.concatenate([p, [np.nextafter(p.max(), np.inf)]]))
    at = binary_metrics_at_thresholds(y_true, p, candidates)
    best, best_key = None, None
    for i, t in enumerate(candidates):
        m = {name: float(values[i]) for name, values in at.items()}
        # Rank by the objective; among ties prefer more of the constrained metric (the
        # margin that makes the bound likelier to hold on new data), then fewer alarms.
        margin = m[objective.constrained_metric] if objective.constrained else 0.0
        key = (asked.score(m), margin, t)
        if best_key is None or key > best_key:
            best, best_key = t, key
    t = float(best)
    predicted = (p >= t).astype(np.int64)
    m = classification_metrics(y_true, predicted, 2)
    met = asked.met(m)
    name = objective.constrained_metric
    if met and objective.kind == "recall>=" and positives > 0:
        message = (
            f"threshold {t:.4f} on p(positive) meets {objective} on new data "
            f"{threshold_rule.promise(delta)}: calibration {name} {m[name]:.3f} >= "
            f"{threshold_rule.why(objective.value, positives, delta)}"
        )
    elif met:
        message = f"threshold {t:.4f} on p(positive) meets {objective} on the calibration split"
    else:
        message = (
            f"{objective} cannot be met on the calibration split: "
            f"{_unmet_reason(objective, positives, m, rule, delta)}; using the closest point, "
            f"threshold {t:.4f}"
        )
    interval = _point_interval(objective, y_true, predicted)
    return OperatingPoint("threshold", t, met, m, message, interval, interval_warning(interval))


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
    # No interval: a macro average over classes is not one binomial rate.
    return OperatingPoint("tau", tau, met, m, message)
