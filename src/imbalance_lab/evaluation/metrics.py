"""Classification metrics as small pure functions of (labels, predictions).

Everything is derived from one confusion matrix, so every metric of an epoch comes
from the same counts. A ratio whose denominator is zero is 0.0 (the article's
convention and scikit-learn's ``zero_division=0``). ``tests/evaluation`` checks
each value against ``sklearn.metrics`` on random inputs.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """``cm[i, j]`` counts images of class i predicted as class j."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def metrics_from_confusion(cm: np.ndarray, positive: int | None = 1) -> dict:
    """Accuracy, recall, precision, F1, balanced accuracy, per-class values.

    For two classes, ``recall``/``precision``/``f1`` are those of the ``positive``
    class (label 1 by default: the article's dog). For more classes, or with
    ``positive=None``, they are macro averages over classes.
    """
    cm = np.asarray(cm, dtype=np.int64)
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    recall_c = _safe_div(tp, support)
    precision_c = _safe_div(tp, predicted)
    f1_c = _safe_div(2 * precision_c * recall_c, precision_c + recall_c)
    binary = cm.shape[0] == 2 and positive is not None
    pick = (lambda v: float(v[positive])) if binary else (lambda v: float(v.mean()))
    present = support > 0
    return {
        "accuracy": float(_safe_div(tp.sum(), cm.sum())),
        "recall": pick(recall_c),
        "precision": pick(precision_c),
        "f1": pick(f1_c),
        # Mean recall over the classes that occur (sklearn's balanced_accuracy_score).
        "balanced_accuracy": float(recall_c[present].mean()) if present.any() else 0.0,
        "per_class_recall": recall_c.tolist(),
        "per_class_precision": precision_c.tolist(),
        "confusion_matrix": cm.tolist(),
    }


def classification_metrics(y_true, y_pred, num_classes: int, positive: int | None = 1) -> dict:
    return metrics_from_confusion(confusion_matrix(y_true, y_pred, num_classes), positive)
