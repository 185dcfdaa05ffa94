"""The article's mock model: predict the majority class of the training data."""

from __future__ import annotations

import torch
from torch import nn

from imbalance_lab.models.registry import register_model


class MajorityClassifier(nn.Module):
    """Has no trainable weights; :meth:`fit` reads the class counts of the training labels."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.register_buffer("class_counts", torch.ones(num_classes))

    def fit(self, labels: torch.Tensor) -> MajorityClassifier:
        self.class_counts.copy_(torch.bincount(labels, minlength=self.class_counts.numel()).float())
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Constant logits: the log of the training prior, so argmax is the majority class.
        prior = self.class_counts / self.class_counts.sum()
        return torch.log(prior.clamp_min(1e-12)).expand(x.shape[0], -1)


@register_model(
    "majority", "the article's mock model: always the majority class of the training data"
)
def majority(*, num_classes, in_channels, image_size, faithful):
    return MajorityClassifier(num_classes)
