"""Your own model: ``--model package.module:factory``.

A factory is a function that takes the number of classes and returns an ``nn.Module``
producing one row of class logits per image. It may also take ``in_channels`` and
``image_size`` (by those names, or ``**kwargs``); they are passed only when it declares
them. Importing the module runs its code: that is why only a factory the user names
(on the command line, in their config or in Python) is ever imported, never one read
from a model file (see :mod:`imbalance_lab.models.saved`).
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable

from torch import nn

from imbalance_lab.errors import ConfigError

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
FACTORY_PATTERN = re.compile(rf"^{_IDENT}(\.{_IDENT})*:{_IDENT}(\.{_IDENT})*$")


def is_factory_reference(name: str) -> bool:
    """True for ``package.module:function``; registry names never hold a colon."""
    return isinstance(name, str) and ":" in name


def check_factory_reference(name: str) -> str:
    """``name`` if it is spelled ``package.module:function``, else a one-line ConfigError."""
    if not FACTORY_PATTERN.match(name):
        raise ConfigError(
            f"--model {name!r} is not a factory reference; write package.module:function, "
            "e.g. mymodels.nets:small_cnn"
        )
    return name


def import_factory(name: str) -> Callable[..., nn.Module]:
    """The function ``name`` refers to. Imports its module: call only for a name the user gave."""
    module_name, _, attr = check_factory_reference(name).partition(":")
    try:
        obj = importlib.import_module(module_name)
    except Exception as exc:  # an import runs arbitrary code: any failure is the user's module's
        raise ConfigError(
            f"--model {name}: cannot import {module_name} ({type(exc).__name__}: "
            f"{_first_line(exc)}); is it on PYTHONPATH?"
        ) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"--model {name}: {module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"--model {name}: {attr} is a {type(obj).__name__}, not a function")
    return obj


def build_from_factory(
    name: str, factory: Callable[..., nn.Module], *, num_classes: int, in_channels: int,
    image_size: int,
) -> nn.Module:  # fmt: skip
    """Call ``factory(num_classes, [in_channels=], [image_size=])`` and check what comes back."""
    kwargs = {"in_channels": in_channels, "image_size": image_size}
    try:
        params = inspect.signature(factory).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        kwargs = {k: v for k, v in kwargs.items() if takes_any or k in params}
    except (TypeError, ValueError):  # a builtin or C function: no signature to read
        kwargs = {}
    try:
        model = factory(num_classes, **kwargs)
    except Exception as exc:
        raise ConfigError(
            f"--model {name}: the factory failed with {type(exc).__name__}: {_first_line(exc)}; "
            "a factory takes the number of classes (and optionally in_channels, image_size)"
        ) from None
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"--model {name}: the factory returned a {type(model).__name__}, not a torch nn.Module"
        )
    return model


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
