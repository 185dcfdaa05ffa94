"""Model registry: one name answers the lookup, the CLI choices and the test list."""

from __future__ import annotations

from torch import nn

from imbalance_lab.registry import Registry

# factory(num_classes=, in_channels=, image_size=, faithful=) -> nn.Module
MODELS = Registry("model")
register_model = MODELS.register
model_names = MODELS.names


def create_model(
    name: str,
    *,
    num_classes: int,
    in_channels: int = 3,
    image_size: int = 32,
    faithful: bool = False,
) -> nn.Module:
    return MODELS.get(name)(
        num_classes=num_classes, in_channels=in_channels, image_size=image_size, faithful=faithful
    )
