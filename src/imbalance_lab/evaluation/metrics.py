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
    # Specificity of class c: true negatives over all images that are not c.
    negatives = cm.sum() - support
    specificity_c = _safe_div(negatives - (predicted - tp), negatives)
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
        "specificity": pick(specificity_c),
        # Geometric mean of the per-class recalls (Kubat & Matwin 1997; imbalanced-learn's
        # geometric_mean_score): for two classes, sqrt(recall * specificity).
        "g_mean": float(np.prod(recall_c[present]) ** (1.0 / present.sum()))
        if present.any()
        else 0.0,
        "per_class_recall": recall_c.tolist(),
        "per_class_precision": precision_c.tolist(),
        "per_class_f1": f1_c.tolist(),
        "confusion_matrix": cm.tolist(),
    }


def classification_metrics(y_true, y_pred, num_classes: int, positive: int | None = 1) -> dict:
    return metrics_from_confusion(confusion_matrix(y_true, y_pred, num_classes), positive)


def binary_metrics_at_thresholds(y_true, p, thresholds) -> dict[str, np.ndarray]:
    """Recall, precision, F1 and balanced accuracy of class 1 when predicting p >= t, for
    every t in ``thresholds`` at once: the values :func:`metrics_from_confusion` gives,
    from counts read off the sorted scores (O(N log N) instead of one confusion matrix
    per threshold, which the threshold search over every distinct score would need)."""
    y_true, p = np.asarray(y_true), np.asarray(p, dtype=np.float64)
    pos, neg = np.sort(p[y_true == 1]), np.sort(p[y_true != 1])
    tp = len(pos) - np.searchsorted(pos, thresholds, side="left")
    fp = len(neg) - np.searchsorted(neg, thresholds, side="left")
    recall = _safe_div(tp, np.full(tp.shape, len(pos)))
    precision = _safe_div(tp, tp + fp)
    specificity = _safe_div(len(neg) - fp, np.full(fp.shape, len(neg)))
    present = [r for r, n in ((specificity, len(neg)), (recall, len(pos))) if n > 0]
    return {
        "recall": recall,
        "precision": precision,
        "f1": _safe_div(2 * precision * recall, precision + recall),
        # Mean recall over the classes that occur, as in metrics_from_confusion.
        "balanced_accuracy": sum(present) / len(present) if present else np.zeros(tp.shape),
    }


def score_metrics(y_true, scores, positive: int = 1) -> dict:
    """Threshold-free metrics from class probabilities ``scores`` (N, C).

    Binary: average precision (PR-AUC) and ROC-AUC of the ``positive`` class.
    Multi-class: their macro one-vs-rest averages. A metric that is undefined
    (a class absent from ``y_true``) is NaN.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=np.float64)
    num_classes = scores.shape[1]
    out = {"average_precision": float("nan"), "roc_auc": float("nan")}
    if num_classes == 2:
        target = (y_true == positive).astype(int)
        if 0 < target.sum() < len(target):
            out["average_precision"] = float(average_precision_score(target, scores[:, positive]))
            out["roc_auc"] = float(roc_auc_score(target, scores[:, positive]))
        return out
    if len(np.unique(y_true)) == num_classes:
        onehot = np.eye(num_classes, dtype=int)[y_true]
        out["average_precision"] = float(average_precision_score(onehot, scores, average="macro"))
        out["roc_auc"] = float(roc_auc_score(y_true, scores, multi_class="ovr", average="macro"))
    return out


# Many-/medium-/few-shot groups by training images per class: (many if count > first,
# few if count < second, medium in between, both bounds inclusive).
SHOT_SPLITS = {
    # Liu et al. 2019, "Large-Scale Long-Tailed Recognition in an Open World" (OLTR), Sec. 5,
    # for ImageNet-LT and Places-LT; the defaults of the BALMS and GLMC code, also on CIFAR.
    # On CIFAR-10-LT it has no few-shot class (the rarest class has 50 images at rho = 100).
    "liu2019": (100, 20),
    # Our choice for CIFAR-10-LT, not a published standard (papers that report groups on
    # CIFAR-10-LT differ, and we could not verify one split to cite): at rho = 100 the
    # counts 5000..50 fall 3 / 4 / 3 (5000-1796 / 1077-232 / 139-50); at rho = 10
    # (5000..500) 5 / 5 / 0: a tail of 500 images is not few-shot.
    "cifar10-lt": (1500, 200),
}


def shot_accuracy(
    per_class_accuracy, train_counts, many_above: float = 100, few_below: float = 20
) -> dict:
    """Mean per-class accuracy of the many-, medium- and few-shot classes.

    A class is many-shot with more than ``many_above`` training images, few-shot with
    fewer than ``few_below``, medium otherwise. The mean is over classes (each class
    counts once, as on a balanced test set). A group without classes is None, never 0.
    Returns ``{"many", "medium", "few"}`` means and ``{"many_classes", ...}`` indices.
    """
    acc = np.asarray(per_class_accuracy, dtype=np.float64)
    counts = np.asarray(train_counts, dtype=np.float64)
    if acc.shape != counts.shape or acc.ndim != 1:
        raise ValueError(
            f"need one accuracy and one training count per class; got {acc.shape} and {counts.shape}"
        )
    if not few_below <= many_above:
        raise ValueError(f"few_below ({few_below}) must be <= many_above ({many_above})")
    groups = {
        "many": counts > many_above,
        "medium": (counts >= few_below) & (counts <= many_above),
        "few": counts < few_below,
    }
    out: dict = {}
    for name, members in groups.items():
        out[name] = float(acc[members].mean()) if members.any() else None
        out[f"{name}_classes"] = np.flatnonzero(members).tolist()
    return out
