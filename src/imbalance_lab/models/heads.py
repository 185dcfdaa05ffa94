"""Classifier heads: the map from pooled features to class logits.

- ``"linear"``: ``nn.Linear``, logits unbounded.
- ``"cosine"``: the normalised linear layer of Cao et al. 2019, "Learning Imbalanced
  Datasets with Label-Distribution-Aware Margin Loss" (NeurIPS; their CIFAR ResNet-32
  ends in a "NormedLinear"): logit_c = <x / |x|, w_c / |w_c|>, the cosine between the
  features and the class weight, so every logit lies in [-1, 1]. LDAM subtracts margins
  of at most 0.5 from such logits and scales them by s = 30 before the softmax; with a
  plain linear head the same margins are small next to unbounded logits and s = 30
  blows the loss up (see :func:`resolve_head`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from imbalance_lab.errors import ConfigError, closest

HEADS = ("linear", "cosine")
# The loss whose scale s assumes bounded logits; "auto" gives it the cosine head.
_COSINE_LOSSES = ("ldam",)


class CosineClassifier(nn.Module):
    """logits = normalize(x) @ normalize(W).T: cosines in [-1, 1], no bias (Cao et al. 2019)."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        # Stored like nn.Linear's (out, in). Cao et al. draw U(-1, 1) and rescale every
        # class vector to unit norm; only the direction matters for a cosine.
        weight = torch.empty(num_classes, in_features).uniform_(-1, 1)
        self.weight = nn.Parameter(F.normalize(weight, dim=1))
        self.in_features = in_features
        self.out_features = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(x, dim=1), F.normalize(self.weight, dim=1))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


def make_head(kind: str, in_features: int, num_classes: int) -> nn.Module:
    """The head ``kind`` ("linear" or "cosine"); "auto" must be resolved first."""
    if kind == "linear":
        return nn.Linear(in_features, num_classes)
    if kind == "cosine":
        return CosineClassifier(in_features, num_classes)
    if kind == "auto":
        raise ConfigError(
            "head 'auto' depends on the loss: resolve it with resolve_head(head, loss) first"
        )
    raise ConfigError(
        f"unknown head {kind!r}{closest(str(kind), HEADS)}; choose from: {', '.join(HEADS)}"
    )


def resolve_head(head: str, loss: str) -> str:
    """``"auto"`` -> ``"cosine"`` for the LDAM loss (the head its s = 30 assumes), else
    ``"linear"``; an explicit ``"linear"`` or ``"cosine"`` is kept."""
    if head == "auto":
        return "cosine" if loss in _COSINE_LOSSES else "linear"
    if head not in HEADS:
        raise ConfigError(
            f"--head must be one of auto, {', '.join(HEADS)}; got {head!r}"
            f"{closest(str(head), ('auto', *HEADS))}"
        )
    return head
