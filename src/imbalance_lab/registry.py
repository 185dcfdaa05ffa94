"""Named registries, one class for all of them: models, losses, samplers, weight schemes,
strategies, TTA modes, optimisers, schedules and presets.

One registry answers four questions: the lookup by name, the CLI choices, the one-line
description ``imbalance-lab models`` / ``strategies`` print, and the list the contract
tests run over. An entry can also own run parameters (a loss's ``gamma``, an optimiser's
``momentum``): they become flags and TOML keys like every other parameter, declared
beside the code that uses them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from imbalance_lab.errors import ConfigError, closest
from imbalance_lab.params import Param


@dataclass(frozen=True)
class Entry:
    name: str  # the name users type
    obj: Any  # what the name stands for: a factory, a class, a value
    summary: str  # one line: what it is, with the paper when there is one
    params: tuple[Param, ...] = ()  # run parameters this entry owns


class Registry:
    every: ClassVar[list[Registry]] = []  # all registries, for the contract tests

    def __init__(self, kind: str):
        self.kind = kind  # what is registered, for messages: "model", "loss", ...
        self._entries: dict[str, Entry] = {}
        Registry.every.append(self)

    def register(self, name: str, summary: str, *, params: tuple[Param, ...] | list = ()):
        """Decorator: ``@LOSSES.register("focal", "focal loss (Lin et al. 2017)")``."""

        def decorate(obj):
            self.add(name, obj, summary, params=params)
            return obj

        return decorate

    def add(self, name: str, obj: Any, summary: str, *, params: tuple[Param, ...] | list = ()):
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        if not summary or "\n" in summary:
            raise ValueError(f"{self.kind} {name!r} needs a one-line summary")
        self._entries[name] = Entry(name, obj, summary, tuple(params))
        return obj

    def names(self) -> list[str]:
        """Names in registration order (the order --help and the listings show)."""
        return list(self._entries)

    def entry(self, name: str) -> Entry:
        if name not in self._entries:
            raise ConfigError(
                f"unknown {self.kind} {name!r}{closest(str(name), self.names())}; "
                f"choose from: {', '.join(self.names())}"
            )
        return self._entries[name]

    def get(self, name: str) -> Any:
        return self.entry(name).obj

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def params(self) -> list[Param]:
        """The run parameters the entries own, each once, in registration order."""
        seen: dict[str, Param] = {}
        for entry in self._entries.values():
            for p in entry.params:
                if p.name in seen and seen[p.name] is not p:
                    raise ValueError(f"{self.kind} parameter {p.name!r} declared twice")
                seen[p.name] = p
        return list(seen.values())

    def owners(self, param: str) -> list[str]:
        """Names of the entries that use the parameter ``param``."""
        return [e.name for e in self._entries.values() if any(p.name == param for p in e.params)]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
