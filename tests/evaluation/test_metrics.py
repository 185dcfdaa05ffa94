import numpy as np
import pytest
from sklearn import metrics as skm

from imbalance_lab.evaluation import classification_metrics, confusion_matrix
from imbalance_lab.evaluation.metrics import binary_metrics_at_thresholds


@pytest.mark.parametrize("num_classes", [2, 3, 10])
@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_sklearn(num_classes, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    y_true = rng.integers(0, num_classes, n)
    # Skewed predictions, so some classes are never predicted (zero-division paths).
    y_pred = np.where(rng.random(n) < 0.6, 0, rng.integers(0, num_classes, n))
    got = classification_metrics(y_true, y_pred, num_classes)
    labels = list(range(num_classes))
    avg = (
        dict(average="binary", pos_label=1)
        if num_classes == 2
        else dict(average="macro", labels=labels)
    )
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert got["recall"] == pytest.approx(skm.recall_score(y_true, y_pred, zero_division=0, **avg))
    assert got["precision"] == pytest.approx(
        skm.precision_score(y_true, y_pred, zero_division=0, **avg)
    )
    assert got["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, zero_division=0, **avg))
    present = np.unique(y_true)
    if len(present) == num_classes:  # sklearn warns and differs only for absent classes
        assert got["balanced_accuracy"] == pytest.approx(
            skm.balanced_accuracy_score(y_true, y_pred)
        )
    assert got["per_class_recall"] == pytest.approx(
        skm.recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0).tolist()
    )
    assert got["confusion_matrix"] == skm.confusion_matrix(y_true, y_pred, labels=labels).tolist()


def test_all_majority_predictions_give_zero_recall_and_precision():
    got = classification_metrics([0, 0, 0, 1], [0, 0, 0, 0], 2)
    assert (got["accuracy"], got["recall"], got["precision"], got["f1"]) == (0.75, 0.0, 0.0, 0.0)
    assert got["balanced_accuracy"] == 0.5


def test_confusion_matrix_counts_rows_as_truth():
    assert confusion_matrix([0, 1, 1], [1, 1, 0], 2).tolist() == [[0, 1], [1, 1]]


@pytest.mark.parametrize("seed", range(4))
def test_specificity_and_g_mean_match_their_definitions(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, 200)
    y_pred = np.where(rng.random(200) < 0.3, 1 - y_true, y_true)
    got = classification_metrics(y_true, y_pred, 2)
    tn, fp, fn, tp = skm.confusion_matrix(y_true, y_pred).ravel()
    assert got["specificity"] == pytest.approx(tn / (tn + fp))
    assert got["g_mean"] == pytest.approx(np.sqrt(tp / (tp + fn) * tn / (tn + fp)))


@pytest.mark.parametrize("num_classes", [2, 4])
def test_score_metrics_match_sklearn(num_classes):
    from imbalance_lab.evaluation.metrics import score_metrics

    rng = np.random.default_rng(num_classes)
    y_true = rng.integers(0, num_classes, 300)
    scores = rng.dirichlet(np.ones(num_classes), 300)
    scores[np.arange(300), y_true] += 0.3
    scores /= scores.sum(axis=1, keepdims=True)
    got = score_metrics(y_true, scores)
    if num_classes == 2:
        assert got["average_precision"] == pytest.approx(
            skm.average_precision_score(y_true, scores[:, 1])
        )
        assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y_true, scores[:, 1]))
    else:
        assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y_true, scores, multi_class="ovr"))
        assert 0 < got["average_precision"] <= 1


CIFAR10_LT = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]


def test_shot_groups_of_liu_et_al_leave_cifar10_lt_without_few_shot_classes():
    from imbalance_lab.evaluation.metrics import SHOT_SPLITS, shot_accuracy

    acc = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
    groups = shot_accuracy(acc, CIFAR10_LT, *SHOT_SPLITS["liu2019"])
    assert groups["many_classes"] == [0, 1, 2, 3, 4, 5, 6, 7]  # > 100 images
    assert groups["medium_classes"] == [8, 9]  # 83 and 50
    assert groups["few"] is None and groups["few_classes"] == []
    assert groups["many"] == pytest.approx((0.9 + 0.8 + 0.7 + 0.6 + 0.5 + 0.4 + 0.3 + 0.2) / 8)
    assert groups["medium"] == pytest.approx(0.05)


def test_cifar10_lt_shot_groups_split_rho_100_three_four_three():
    from imbalance_lab.evaluation.metrics import SHOT_SPLITS, shot_accuracy

    acc = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.0, 0.25, 0.5]
    groups = shot_accuracy(acc, CIFAR10_LT, *SHOT_SPLITS["cifar10-lt"])
    assert (groups["many"], groups["medium"], groups["few"]) == (1.0, 0.5, 0.25)
    assert [len(groups[f"{k}_classes"]) for k in ("many", "medium", "few")] == [3, 4, 3]
    rho10 = [int(5000 * 0.1 ** (i / 9)) for i in range(10)]
    groups = shot_accuracy(acc, rho10, *SHOT_SPLITS["cifar10-lt"])
    assert groups["few"] is None  # a tail of 500 images is not few-shot


def test_shot_groups_bounds_are_inclusive_for_medium_and_inputs_are_checked():
    from imbalance_lab.evaluation.metrics import shot_accuracy

    groups = shot_accuracy([1.0, 0.0, 0.5], [101, 100, 20], many_above=100, few_below=20)
    assert groups["many_classes"] == [0] and groups["medium_classes"] == [1, 2]
    with pytest.raises(ValueError, match="one accuracy and one training count per class"):
        shot_accuracy([1.0], [1, 2])
    with pytest.raises(ValueError, match="few_below"):
        shot_accuracy([1.0], [1], many_above=10, few_below=20)


@pytest.mark.parametrize("seed", range(4))
def test_metrics_at_every_threshold_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    p = np.round(rng.random(300), 2)  # ties, as real scores have
    thresholds = np.unique(np.r_[p, 1.5, -0.5])
    at = binary_metrics_at_thresholds(y, p, thresholds)
    for i, t in enumerate(thresholds):
        pred = (p >= t).astype(int)
        assert at["recall"][i] == pytest.approx(skm.recall_score(y, pred, zero_division=0))
        assert at["precision"][i] == pytest.approx(skm.precision_score(y, pred, zero_division=0))
        assert at["f1"][i] == pytest.approx(skm.f1_score(y, pred, zero_division=0))
        assert at["balanced_accuracy"][i] == pytest.approx(skm.balanced_accuracy_score(y, pred))
