"""CIFAR ResNets: He et al. 2016, "Deep Residual Learning for Image Recognition", Sec. 4.2.

A 3x3 conv to 16 channels, then 3 stages of n basic blocks with 16, 32 and 64
channels (the 2nd and 3rd stages start with stride 2), global average pooling and
a linear head: depth 6n + 2, so n=3 gives ResNet-20 and n=5 ResNet-32.

Shortcuts are option A, as the paper uses on CIFAR: identity, and where a stage
halves the size and doubles the channels, a stride-2 subsample padded with zero
channels. So the shortcuts add no parameters, and the counts match the paper's
0.27M and 0.46M. Weights use Kaiming (He) normal init.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from imbalance_lab.models.registry import register_model


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
    def __init__(self, depth: int, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        assert (depth - 2) % 6 == 0, f"a CIFAR ResNet has depth 6n + 2, got {depth}"
        n = (depth - 2) // 6
        self.conv = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        blocks, width = [], 16
        for stage, out_width in enumerate((16, 32, 64)):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(width, out_width, stride))
                width = out_width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(
                    m.weight, nonlinearity="relu"
                )  # He et al. 2015, as the paper
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(F.relu(self.bn(self.conv(x))))
        return self.head(x.mean(dim=(2, 3)))


@register_model("resnet20", "CIFAR ResNet-20 (He et al. 2016, Sec. 4.2): 0.27M weights")
def resnet20(*, num_classes, in_channels, image_size, faithful):
    return CifarResNet(20, num_classes, in_channels)


@register_model(
    "resnet32", "CIFAR ResNet-32 (He et al. 2016), the long-tail papers' model: 0.46M weights"
)
def resnet32(*, num_classes, in_channels, image_size, faithful):
    return CifarResNet(32, num_classes, in_channels)
