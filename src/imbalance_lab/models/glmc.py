"""The network of GLMC: Du et al. 2023, "Global and Local Mixture Consistency Cumulative
Learning for Long-tailed Visual Recognitions" (CVPR), and the authors' code
(github.com/ynu-yangpeng/GLMC, model/ResNet_cifar.py: ResNet_modify).

A backbone's pooled features h feed
- two linear classifiers: the "balance" head, trained on the mixed labels, and the
  "rebalance" head, trained on the same labels re-weighted towards rare classes
  (the cumulative head-tail loss, training/steps.py);
- a projector g (linear, to 128 dimensions) and a predictor q (linear, 128 -> 128):
  z = g(h), p = q(z), for the SimSiam-style consistency between the two mixed views
  (Chen & He 2021, "Exploring Simple Siamese Representation Learning").

At test time the rebalanced head alone gives the logits (the authors' code evaluates
``fc_cb``), so ``forward`` returns them and the model drops into any evaluation loop;
``forward_train`` returns everything the training step needs. The authors' CIFAR model
is the CIFAR ResNet-32 at width 64 (channels 64/128/256, about 7.4M weights, 16x the
0.46M of He et al.'s): ``create_model("glmc-resnet32", ..., width=64)``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from imbalance_lab.models.registry import register_model
from imbalance_lab.models.resnet import WIDTH, CifarResNet


class GLMCOutputs(NamedTuple):
    logits: torch.Tensor  # balance head
    logits_rebalanced: torch.Tensor  # rebalance head: the one used at test time
    projection: torch.Tensor  # z = g(h)
    prediction: torch.Tensor  # p = q(z)


class GLMCNet(nn.Module):
    def __init__(self, backbone: CifarResNet, num_classes: int, projection_dim: int = 128):
        super().__init__()
        self.backbone = backbone  # its own linear head is the balance head
        features = backbone.num_features
        self.rebalanced = nn.Linear(features, num_classes)
        self.projector = nn.Linear(features, projection_dim)
        self.predictor = nn.Linear(projection_dim, projection_dim)
        for layer in (self.rebalanced, self.projector, self.predictor):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")  # as the backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rebalanced(self.backbone.features(x))

    def forward_train(self, x: torch.Tensor) -> GLMCOutputs:
        h = self.backbone.features(x)
        z = self.projector(h)
        return GLMCOutputs(self.backbone.head(h), self.rebalanced(h), z, self.predictor(z))


@register_model(
    "glmc-resnet32",
    "CIFAR ResNet-32 with GLMC's two classifiers, projector and predictor (Du et al. 2023)",
    params=(WIDTH,),
)
def glmc_resnet32(*, num_classes, in_channels, image_size, faithful, width=16):
    return GLMCNet(
        CifarResNet(32, num_classes, in_channels, head="linear", width=width), num_classes
    )
