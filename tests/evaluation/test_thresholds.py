import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_recall_curve

from imbalance_lab.errors import ConfigError
from imbalance_lab.evaluation.objectives import parse_objective
from imbalance_lab.evaluation.thresholds import choose_operating_point, predict_at


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
