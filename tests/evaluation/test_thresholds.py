import functools
import json

import numpy as np
import pytest
from scipy.special import ndtr
from sklearn.metrics import f1_score, precision_recall_curve

from imbalance_lab.errors import ConfigError
from imbalance_lab.evaluation.intervals import clopper_pearson, positives_for
from imbalance_lab.evaluation.objectives import parse_objective
from imbalance_lab.evaluation.thresholds import (
    allowed_misses,
    choose_operating_point,
    positives_needed,
    predict_at,
)


def _binary(seed, n=400):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.25).astype(int)
    p = np.clip(rng.normal(0.35 + 0.3 * y, 0.15), 0.001, 0.999)
    return y, np.stack([1 - p, p], axis=1)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("bound", [0.5, 0.8, 0.9])
def test_recall_bound_gives_the_highest_precision_on_the_pr_curve(seed, bound):
    y, scores = _binary(seed)
    point = choose_operating_point(y, scores, parse_objective(f"recall>={bound}"))
    precision, recall, _ = precision_recall_curve(y, scores[:, 1])
    n = int(y.sum())
    asked = bound * (n + 1) / n  # the finite-sample correction
    assert point.met and "on new data in expectation" in point.message
    assert point.calibration["recall"] >= asked
    assert point.calibration["precision"] == pytest.approx(precision[recall >= asked].max())


def _true_recall_of_chosen_thresholds(bound, n_pos, draws, correct):
    """Mean recall on the whole population of the thresholds chosen on small calibration draws.

    Positive scores are uniform on (0, 1), so a threshold t recalls exactly 1 - t of them.
    """
    rng = np.random.default_rng(0)
    objective = parse_objective(f"recall>={bound}")
    recalls = []
    for _ in range(draws):
        p = np.concatenate([rng.random(n_pos), rng.random(n_pos) * 0.5])
        y = np.r_[np.ones(n_pos, int), np.zeros(n_pos, int)]
        scores = np.stack([1 - p, p], axis=1)
        if correct:
            t = choose_operating_point(y, scores, objective).value
        else:  # the plain rule: the highest threshold that recalls `bound` of the draw
            t = np.sort(p[:n_pos])[int(np.floor(n_pos * (1 - bound) + 1e-9))]
        recalls.append(1.0 - t)
    return float(np.mean(recalls))


def test_a_recall_bound_holds_in_expectation_on_new_positives():
    # 20 calibration positives, recall >= 0.9: the plain rule keeps 18 of them, whose
    # expected population recall is 1 - 3/21 = 0.857; the corrected rule keeps 19: 0.905.
    # 400 draws put the standard error of each mean near 0.003.
    corrected = _true_recall_of_chosen_thresholds(0.9, 20, 400, correct=True)
    plain = _true_recall_of_chosen_thresholds(0.9, 20, 400, correct=False)
    assert corrected >= 0.9 - 0.01
    assert plain < 0.9 - 0.03  # what the correction fixes


def test_a_recall_bound_too_tight_for_the_positives_is_reported_as_unmet():
    # recall >= 0.9 from 5 positives would need calibration recall >= 0.9 * 6/5 > 1.
    y = np.r_[np.ones(5, int), np.zeros(5, int)]
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.55, 0.1, 0.2, 0.3, 0.4, 0.5])
    point = choose_operating_point(y, np.stack([1 - p, p], axis=1), parse_objective("recall>=0.9"))
    assert not point.met
    assert point.calibration["recall"] == 1.0 and point.value == pytest.approx(0.55)
    assert point.message == (
        "recall>=0.9 cannot be met on the calibration split: it needs at least 9 calibration "
        "positives, there are 5; raise --val (the calibration fraction) or train on more "
        "positives; using the closest point, threshold 0.5500"
    )


# n >= R / (1 - R) positives make R * (n + 1) / n <= 1 (Angelopoulos et al. 2024), worked
# out by hand: 0.5 -> 1, 0.8 -> 4, 0.9 -> 9, 0.95 -> 19, 0.99 -> 99.
@pytest.mark.parametrize(
    ("bound", "needed"), [(0.5, 1), (0.8, 4), (0.9, 9), (0.95, 19), (0.99, 99)]
)
def test_a_recall_bound_says_how_many_calibration_positives_it_needs(bound, needed):
    def point_from(positives):
        rng = np.random.default_rng(positives)
        p = np.r_[rng.uniform(0.3, 1.0, positives), rng.uniform(0.0, 0.7, 20)]
        y = np.r_[np.ones(positives, int), np.zeros(20, int)]
        return choose_operating_point(
            y, np.stack([1 - p, p], axis=1), parse_objective(f"recall>={bound}")
        )

    assert point_from(needed).met
    short = point_from(needed - 1)
    assert not short.met
    assert f"needs at least {needed} calibration positives, there are {needed - 1}" in (
        short.message
    )
    assert "raise --val (the calibration fraction)" in short.message
    assert "\n" not in short.message


def test_a_recall_bound_of_1_is_never_guaranteed_on_new_data():
    y = np.r_[np.ones(50, int), np.zeros(50, int)]
    p = np.r_[np.linspace(0.5, 1.0, 50), np.linspace(0.0, 0.6, 50)]
    point = choose_operating_point(y, np.stack([1 - p, p], axis=1), parse_objective("recall>=1"))
    assert not point.met
    assert "no number of calibration positives" in point.message
    assert "\n" not in point.message


@pytest.mark.parametrize("seed", range(3))
def test_max_f1_is_the_best_f1_over_all_thresholds(seed):
    y, scores = _binary(seed)
    point = choose_operating_point(y, scores, parse_objective("max-f1"))
    best = max(f1_score(y, (scores[:, 1] >= t).astype(int)) for t in np.unique(scores[:, 1]))
    assert point.calibration["f1"] == pytest.approx(best)
    assert np.array_equal(predict_at(scores, point), (scores[:, 1] >= point.value).astype(int))


def test_an_unmeetable_precision_bound_is_reported_with_the_closest_point():
    # The highest score is a negative: every threshold that predicts a positive predicts it
    # too, so precision 1 is out of reach; the best is 2/3, at threshold 0.7.
    y = np.array([0, 1, 1, 0, 1, 0])
    p = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1])
    point = choose_operating_point(
        y, np.stack([1 - p, p], axis=1), parse_objective("precision>=1.0")
    )
    assert not point.met
    assert point.value == pytest.approx(0.7)
    assert point.calibration["precision"] == pytest.approx(2 / 3)
    assert point.message == (
        "precision>=1 cannot be met on the calibration split: the best precision is 0.667; "
        "using the closest point, threshold 0.7000"
    )


def test_multiclass_logit_adjustment_helps_the_rare_classes():
    rng = np.random.default_rng(0)
    prior = np.array([0.7, 0.2, 0.1])
    y = rng.integers(0, 3, 900)  # a balanced calibration split
    logits = (
        rng.normal(0, 1, (900, 3)) + 1.5 * np.eye(3)[y] + np.log(prior)
    )  # scores biased to the head
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    point = choose_operating_point(y, scores, parse_objective("balanced-accuracy"), prior=prior)
    plain = (scores.argmax(1) == y).mean()
    adjusted = (predict_at(scores, point, prior) == y).mean()
    assert point.kind == "tau" and point.value > 0 and adjusted > plain


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("recall>=1.5", "bound must be in \\(0, 1\\]"),
        ("recall>=0", "bound must be in"),
        ("recall > 0.9", "cannot parse"),
        ("accuracy>=0.9", "cannot parse"),
        ("f-beta:-1", "beta must be > 0"),
        ("f-beta:x", "cannot parse"),
        ("", "cannot parse"),
    ],
)
def test_bad_objectives(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_objective(text)


@pytest.mark.parametrize(
    "text", ["max-f1", "f-beta:2", "recall>=0.9", "precision >= 0.8", "balanced-accuracy"]
)
def test_objectives_round_trip(text):
    assert str(parse_objective(str(parse_objective(text)))) == str(parse_objective(text))


# --- threshold rules: in expectation or with probability 1 - delta --------------------------


@functools.cache
def _new_data_recalls(rule, n_pos=40, bound=0.9, delta=0.1, draws=1000):
    """Recall on new data of the thresholds chosen on 1,000 simulated calibration draws.

    Positive scores are N(1, 1), negative N(0, 1), through a sigmoid; so a threshold t
    recalls exactly Phi(1 - logit(t)) of all new positives from the same distribution (the
    limit of many new positives, without their Monte Carlo error).
    """
    rng = np.random.default_rng(0)
    objective = parse_objective(f"recall>={bound}")
    y = np.r_[np.ones(n_pos, int), np.zeros(n_pos, int)]
    recalls = []
    for _ in range(draws):
        p = 1 / (1 + np.exp(-np.r_[rng.normal(1, 1, n_pos), rng.normal(0, 1, n_pos)]))
        point = choose_operating_point(
            y, np.stack([1 - p, p], axis=1), objective, rule=rule, delta=delta
        )
        assert point.met
        recalls.append(ndtr(1 - np.log(point.value / (1 - point.value))))
    return np.array(recalls)


def test_the_expected_rule_holds_recall_on_new_data_on_average_only():
    # 40 positives, recall >= 0.9: the rule misses at most 3, whose population recall is
    # 1 - 4/41 = 0.902 on average (sd of the mean over 1,000 draws ~ 0.0015) but below 0.9
    # in P(Binomial(40, 0.1) <= 3) = 42% of the draws.
    recalls = _new_data_recalls("expected")
    assert recalls.mean() >= 0.9 - 0.005
    assert (recalls >= 0.9).mean() < 0.8  # what the high-probability rule fixes


def test_the_high_probability_rule_holds_recall_on_new_data_with_probability_1_minus_delta():
    # delta 0.1 allows 1 miss of 40: P(Binomial(40, 0.1) <= 1) = 0.08 <= 0.1. Over 1,000
    # draws the fraction below 0.9 has sd ~ 0.009.
    recalls = _new_data_recalls("high-probability")
    assert (recalls >= 0.9).mean() >= 1 - 0.1 - 0.02
    assert recalls.mean() >= _new_data_recalls("expected").mean()  # it overshoots more


def test_the_high_probability_rule_names_its_promise():
    y, scores = _binary(0)
    point = choose_operating_point(
        y, scores, parse_objective("recall>=0.8"), rule="high-probability", delta=0.1
    )
    n = int(y.sum())
    misses = allowed_misses(0.8, n, 0.1)
    assert point.met and "meets recall>=0.8 on new data with probability >= 0.9" in point.message
    assert f"at most {misses} of {n} positives missed" in point.message
    assert point.calibration["recall"] >= (n - misses) / n
    # Fewer misses than the expected rule allows: a higher calibration recall, a lower threshold.
    expected = choose_operating_point(y, scores, parse_objective("recall>=0.8"))
    assert point.value <= expected.value


# The fewest positives with no miss allowed: the smallest n with R^n <= delta, worked out
# by hand: 0.9^28 = 0.052 > 0.05 >= 0.9^29 = 0.047; 0.8^13 = 0.055 > 0.05 >= 0.8^14 = 0.044;
# 0.9^21 = 0.109 > 0.1 >= 0.9^22 = 0.098; 0.5^4 = 0.0625 > 0.05 >= 0.5^5.
@pytest.mark.parametrize(
    ("bound", "delta", "needed"), [(0.9, 0.05, 29), (0.8, 0.05, 14), (0.9, 0.1, 22), (0.5, 0.05, 5)]
)
def test_the_high_probability_rule_says_how_many_positives_it_needs(bound, delta, needed):
    def point_from(positives):
        rng = np.random.default_rng(positives)
        p = np.r_[rng.uniform(0.3, 1.0, positives), rng.uniform(0.0, 0.7, 20)]
        y = np.r_[np.ones(positives, int), np.zeros(20, int)]
        return choose_operating_point(
            y, np.stack([1 - p, p], axis=1), parse_objective(f"recall>={bound}"),
            rule="high-probability", delta=delta,
        )  # fmt: skip

    assert positives_needed(bound, "high-probability", delta) == needed
    assert point_from(needed).met
    short = point_from(needed - 1)
    assert not short.met
    assert (
        f"recall >= {bound:g} on new data with probability >= {1 - delta:g} needs at least "
        f"{needed} calibration positives, there are {needed - 1}; raise --val"
    ) in short.message
    assert "\n" not in short.message


def test_no_number_of_positives_shows_recall_1_with_high_probability():
    y = np.r_[np.ones(50, int), np.zeros(50, int)]
    p = np.r_[np.linspace(0.5, 1.0, 50), np.linspace(0.0, 0.6, 50)]
    point = choose_operating_point(
        y, np.stack([1 - p, p], axis=1), parse_objective("recall>=1"), rule="high-probability"
    )
    assert not point.met
    assert "no number of calibration positives" in point.message
    assert "with probability >= 0.95" in point.message


@pytest.mark.parametrize("text", ["max-f1", "precision>=0.6", "balanced-accuracy"])
def test_the_rules_only_change_recall_bounds(text):
    y, scores = _binary(1)
    expected = choose_operating_point(y, scores, parse_objective(text))
    other = choose_operating_point(
        y, scores, parse_objective(text), rule="high-probability", delta=0.01
    )
    assert other == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"rule": "worst-case"}, "unknown threshold rule 'worst-case'"),
     ({"rule": "high-probability", "delta": 1.0}, "delta must be in \\(0, 1\\)")],
)  # fmt: skip
def test_bad_rules(kwargs, message):
    y, scores = _binary(0)
    with pytest.raises(ConfigError, match=message):
        choose_operating_point(y, scores, parse_objective("recall>=0.9"), **kwargs)


# --- the interval of the calibration estimate -----------------------------------------------

INTERVAL_KEYS = {"metric", "estimate", "low", "high", "confidence", "count", "half_width",
                 "count_for_0.02"}  # fmt: skip


def test_a_recall_point_reports_the_interval_of_its_calibration_recall():
    y, scores = _binary(2)
    point = choose_operating_point(y, scores, parse_objective("recall>=0.8"))
    n = int(y.sum())
    hits = int(((scores[:, 1] >= point.value) & (y == 1)).sum())
    interval = point.interval
    assert set(interval) == INTERVAL_KEYS and json.loads(json.dumps(interval)) == interval
    assert interval["metric"] == "recall" and interval["count"] == n
    assert interval["estimate"] == point.calibration["recall"] == hits / n
    assert (interval["low"], interval["high"]) == clopper_pearson(hits, n)
    assert interval["half_width"] == pytest.approx(
        max(hits / n - interval["low"], interval["high"] - hits / n)
    )
    assert interval["count_for_0.02"] == positives_for(0.02, hits / n)


def test_a_precision_point_reports_the_interval_of_its_calibration_precision():
    y, scores = _binary(2)
    point = choose_operating_point(y, scores, parse_objective("precision>=0.7"))
    (_, fp), (_, tp) = point.calibration["confusion_matrix"]
    assert point.interval["metric"] == "precision"
    assert point.interval["count"] == tp + fp  # the predicted positives
    assert point.interval["estimate"] == point.calibration["precision"]
    assert (point.interval["low"], point.interval["high"]) == clopper_pearson(tp, tp + fp)


def test_an_unconstrained_point_reports_recall_and_a_multiclass_point_none():
    y, scores = _binary(0)
    assert choose_operating_point(y, scores, parse_objective("max-f1")).interval["metric"] == (
        "recall"
    )
    rng = np.random.default_rng(0)
    scores3 = rng.dirichlet(np.ones(3), 60)
    point = choose_operating_point(
        rng.integers(0, 3, 60), scores3, parse_objective("balanced-accuracy"),
        prior=np.array([0.6, 0.3, 0.1]),
    )  # fmt: skip
    assert point.kind == "tau" and point.interval is None and point.warning is None


@pytest.mark.parametrize("positives", [15, 40, 120, 400, 1500])
def test_a_wide_interval_warns_in_one_line_with_the_remedy(positives):
    rng = np.random.default_rng(positives)
    p = np.r_[rng.uniform(0.3, 1.0, positives), rng.uniform(0.0, 0.7, 200)]
    y = np.r_[np.ones(positives, int), np.zeros(200, int)]
    point = choose_operating_point(y, np.stack([1 - p, p], axis=1), parse_objective("recall>=0.9"))
    wide = point.interval["half_width"] > 0.05
    assert (point.warning is not None) == wide
    assert wide == (positives <= 120)  # ±0.05 around 0.9 takes ~190 positives
    if wide:
        assert "\n" not in point.warning
        assert f"{point.interval['count']} calibration positives" in point.warning
        narrow = f"about {point.interval['count_for_0.02']} calibration positives would narrow"
        assert f"{narrow} it to ±0.02" in point.warning
        assert point.warning.endswith("add positives or use --calibration cv:5")
