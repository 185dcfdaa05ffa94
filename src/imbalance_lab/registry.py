"""A named registry filled by a decorator: models and losses each have one.

One registry answers three questions: the lookup by name, the CLI choices, and the
list the tests run over.
"""

from __future__ import annotations

from collections.abc import Callable

from imbalance_lab.errors import ConfigError, closest


class Registry:
    def __init__(self, kind: str):
        self.kind = kind  # what is registered, for messages: "model", "loss"
        self._items: dict[str, Callable] = {}

    def register(self, name: str):
        def decorate(factory):
            assert name not in self._items, f"{self.kind} {name!r} registered twice"
            self._items[name] = factory
            return factory

        return decorate

    def names(self) -> list[str]:
        return sorted(self._items)

    def get(self, name: str) -> Callable:
        if name not in self._items:
            raise ConfigError(
                f"unknown {self.kind} {name!r}{closest(name, self.names())}; "
                f"choose from: {', '.join(self.names())}"
            )
        return self._items[name]
