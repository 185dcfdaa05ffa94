import numpy as np
import pytest
from sklearn import metrics as skm

from imbalance_lab.evaluation import classification_metrics, confusion_matrix


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
    avg = dict(average="binary", pos_label=1) if num_classes == 2 else dict(average="macro", labels=labels)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert got["recall"] == pytest.approx(skm.recall_score(y_true, y_pred, zero_division=0, **avg))
    assert got["precision"] == pytest.approx(skm.precision_score(y_true, y_pred, zero_division=0, **avg))
    assert got["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, zero_division=0, **avg))
    present = np.unique(y_true)
    if len(present) == num_classes:  # sklearn warns and differs only for absent classes
        assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
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
