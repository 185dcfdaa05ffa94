"""The article's ConvNet, layer for layer.

Six 3x3 conv layers (8, 8, 32, 32, 128, 128 channels) with ReLU *then* BatchNorm,
a 2x2 max-pool after every second conv, a 1x1 conv to the classes and an average
pool over the class map.

``faithful=True`` replays the article's 32x32 network exactly: its 3x3 average pool
(stride 3) reads only the top-left 3x3 corner of the 4x4 class map, and the output
goes through ``F.softmax`` before the article feeds it into ``nn.CrossEntropyLoss``.
At any other size that pool returns several scores per class, so the faithful net
takes 32x32 images only. The default, corrected net averages the whole class map
(global average pooling), works at any size from 8x8 (three 2x2 pools leave 1x1)
and returns logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from imbalance_lab.errors import ConfigError
from imbalance_lab.models.registry import register_model

FAITHFUL_SIZE = 32  # the article's CIFAR-10 images
MIN_SIZE = 8  # three 2x2 max-pools leave a 1x1 map


def _article_init(module: nn.Module) -> None:
    # The article's init_weights: Xavier-uniform weights and biases of 0.01.
    if isinstance(module, nn.Conv2d | nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        nn.init.constant_(module.bias, 0.01)


class ArticleConvNet(nn.Module):
    def __init__(self, num_classes: int = 2, in_channels: int = 3, faithful: bool = False):
        super().__init__()
        self.faithful = faithful
        widths = [in_channels, 8, 8, 32, 32, 128, 128]
        self.convs = nn.ModuleList(
            nn.Conv2d(widths[i], widths[i + 1], 3, padding=1) for i in range(6)
        )
        self.norms = nn.ModuleList(nn.BatchNorm2d(w) for w in widths[1:])
        self.head = nn.Conv2d(128, num_classes, 1)
        # The article's pool is kept bit for bit in faithful mode; it only fits 32x32 input.
        self.pool = nn.AvgPool2d(3) if faithful else nn.AdaptiveAvgPool2d(1)
        self.apply(_article_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            x = F.relu(conv(x))
            if i % 2 == 1:
                x = F.max_pool2d(x, 2)
            x = norm(x)
        logits = self.pool(self.head(x)).flatten(1)
        return F.softmax(logits, dim=1) if self.faithful else logits


@register_model(
    "article-convnet",
    "the article's ConvNet: six 3x3 convs (8-128 channels), BatchNorm, max-pools; 0.2M weights",
)
def article_convnet(*, num_classes, in_channels, image_size, faithful):
    size = f"{image_size}x{image_size}"
    if faithful and image_size != FAITHFUL_SIZE:
        raise ConfigError(
            f"article-convnet in faithful mode takes only {FAITHFUL_SIZE}x{FAITHFUL_SIZE} images, "
            f"got {size}: faithful replays the article's 32x32 network (its 3x3 average pool "
            f"fits no other size); pass --image-size {FAITHFUL_SIZE}, or drop --faithful for "
            "the corrected net"
        )
    if image_size < MIN_SIZE:
        raise ConfigError(
            f"article-convnet needs images of at least {MIN_SIZE}x{MIN_SIZE}, got {size} "
            f"(three 2x2 max-pools); pass --image-size {FAITHFUL_SIZE}"
        )
    return ArticleConvNet(num_classes, in_channels, faithful)
