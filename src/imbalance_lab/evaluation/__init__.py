"""Metrics of a model's predictions."""

from imbalance_lab.evaluation.metrics import (
    classification_metrics,
    confusion_matrix,
    metrics_from_confusion,
)

__all__ = ["classification_metrics", "confusion_matrix", "metrics_from_confusion"]
