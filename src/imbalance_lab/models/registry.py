"""Model registry: one name answers the lookup, the CLI choices and the test list."""

from __future__ import annotations

import inspect

from torch import nn

from imbalance_lab.errors import ConfigError, closest
from imbalance_lab.registry import Registry

# factory(num_classes=, in_channels=, image_size=, faithful=, **params) -> nn.Module, where
# params are the model's own settings (its entry's Params, e.g. a ResNet's head and width)
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
    **params,
) -> nn.Module:
    factory = MODELS.get(name)
    common = ("num_classes", "in_channels", "image_size", "faithful")
    accepted = [p for p in inspect.signature(factory).parameters if p not in common]
    for key in params:
        if key not in accepted:
            raise ConfigError(
                f"model {name!r} takes {', '.join(accepted) or 'no parameters'}; "
                f"got {key!r}{closest(key, accepted)}"
            )
    return factory(
        num_classes=num_classes,
        in_channels=in_channels,
        image_size=image_size,
        faithful=faithful,
        **params,
    )
