"""The article's ConvNet, layer for layer.

Six 3x3 conv layers (8, 8, 32, 32, 128, 128 channels) with ReLU *then* BatchNorm,
a 2x2 max-pool after every second conv, a 1x1 conv to the classes and a 3x3
average pool. On 32x32 input the last feature map is 4x4, so the 3x3 pool (stride
3) reads only its top-left 3x3 corner: that is what the article's net does, and it
is kept.

``faithful=True`` keeps the article's ``F.softmax`` on the output, which it then
feeds into ``nn.CrossEntropyLoss``; the default returns logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from imbalance_lab.models.registry import register_model


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
        self.pool = nn.AvgPool2d(3)
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
    if image_size < 24:  # three 2x2 pools, then a 3x3 average pool
        from imbalance_lab.errors import ConfigError

        raise ConfigError(
            f"article-convnet needs images of at least 24x24, got {image_size}x{image_size}; "
            "pass --image-size 32"
        )
    return ArticleConvNet(num_classes, in_channels, faithful)
