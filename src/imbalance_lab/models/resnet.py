"""CIFAR ResNets: He et al. 2016, "Deep Residual Learning for Image Recognition", Sec. 4.2.

A 3x3 conv to 16 channels, then 3 stages of n basic blocks with 16, 32 and 64
channels (the 2nd and 3rd stages start with stride 2), global average pooling and
a classifier head: depth 6n + 2, so n=3 gives ResNet-20 and n=5 ResNet-32.

The head is linear by default, or the cosine head of Cao et al. 2019 (models/heads.py)
that the LDAM loss assumes. ``width`` scales the three stages (16, 32, 64 by default);
GLMC's "ResNet-32" (Du et al. 2023, official code) is this network at width 64.

Shortcuts are option A, as the paper uses on CIFAR: identity, and where a stage
halves the size and doubles the channels, a stride-2 subsample padded with zero
channels. So the shortcuts add no parameters, and the counts match the paper's
0.27M and 0.46M. Weights use Kaiming (He) normal init.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from imbalance_lab.models.heads import make_head
from imbalance_lab.models.registry import register_model
from imbalance_lab.params import Param, integer


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.stride = stride
        self.extra_channels = out_channels - in_channels

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        # Option A: subsample, then zero channels split before and after the originals.
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra_channels:
            half = self.extra_channels // 2
            x = F.pad(x, (0, 0, 0, 0, half, self.extra_channels - half))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(
        self,
        depth: int,
        num_classes: int = 10,
        in_channels: int = 3,
        head: str = "linear",
        width: int = 16,
    ):
        super().__init__()
        assert (depth - 2) % 6 == 0, f"a CIFAR ResNet has depth 6n + 2, got {depth}"
        n = (depth - 2) // 6
        self.conv = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        blocks, channels = [], width
        for stage, out_width in enumerate((width, 2 * width, 4 * width)):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(channels, out_width, stride))
                channels = out_width
        self.blocks = nn.Sequential(*blocks)
        self.num_features = channels
        self.head = make_head(head, channels, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(
                    m.weight, nonlinearity="relu"
                )  # He et al. 2015, as the paper
        if isinstance(self.head, nn.Linear):
            nn.init.zeros_(self.head.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled features the head reads: (N, 4 * width)."""
        x = self.blocks(F.relu(self.bn(self.conv(x))))
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# The model's own settings (registry-entry params): the trainer resolves "auto" with the
# loss (models.heads.resolve_head) and passes both by name.
HEAD = Param(
    "head", "auto",
    "classifier head: linear, or cosine (normalised, logits in [-1, 1], Cao et al. 2019); "
    "auto = cosine with the ldam loss, linear otherwise",
    "model", choices=("auto", "linear", "cosine"), example="cosine",
)  # fmt: skip
WIDTH = Param(
    "width", 16,
    "channels of the first ResNet stage (16 = He et al.; GLMC's CIFAR ResNet-32 uses 64)",
    "model", parse=integer(min=1), example="32",
)  # fmt: skip


@register_model(
    "resnet20", "CIFAR ResNet-20 (He et al. 2016, Sec. 4.2): 0.27M weights",
    params=(HEAD, WIDTH),
)  # fmt: skip
def resnet20(*, num_classes, in_channels, image_size, faithful, head="linear", width=16):
    return CifarResNet(20, num_classes, in_channels, head=head, width=width)


@register_model(
    "resnet32", "CIFAR ResNet-32 (He et al. 2016), the long-tail papers' model: 0.46M weights",
    params=(HEAD, WIDTH),
)  # fmt: skip
def resnet32(*, num_classes, in_channels, image_size, faithful, head="linear", width=16):
    return CifarResNet(32, num_classes, in_channels, head=head, width=width)
