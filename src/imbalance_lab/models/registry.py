"""Model registry: one name answers the lookup, the CLI choices and the test list."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from imbalance_lab.errors import ConfigError, closest

# factory(num_classes=, in_channels=, image_size=, faithful=) -> nn.Module
_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str):
    def decorate(factory):
        assert name not in _MODELS, f"model {name!r} registered twice"
        _MODELS[name] = factory
        return factory

    return decorate


def model_names() -> list[str]:
    return sorted(_MODELS)


def create_model(
    name: str,
    *,
    num_classes: int,
    in_channels: int = 3,
    image_size: int = 32,
    faithful: bool = False,
) -> nn.Module:
    if name not in _MODELS:
        raise ConfigError(
            f"unknown model {name!r}{closest(name, model_names())}; choose from: {', '.join(model_names())}"
        )
    return _MODELS[name](
        num_classes=num_classes, in_channels=in_channels, image_size=image_size, faithful=faithful
    )
