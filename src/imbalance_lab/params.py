"""One declaration per run parameter: name, type, default, allowed values, help, group.

A :class:`Param` is all there is to know about one setting of a run. The command-line
options of every command that trains (``train``, ``compare``, ``sweep``, ``reproduce``,
``benchmark``) are generated from these declarations, the TOML keys are their names, and
their ``parse`` is the only place a user's spelling of the value is turned into a typed
value. Core settings are fields of :class:`imbalance_lab.config.RunConfig`; a component
(a loss, an optimiser, an augmentation) declares its own settings beside its code and
hands them to its registry entry, so adding one touches only that component's module.

The parsers below accept both what a flag gives (a string) and what TOML or Python
gives (a number, a list, an already parsed value), and are idempotent: parsing a parsed
value returns it unchanged. Errors name the flag, the value and what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from imbalance_lab.errors import ConfigError, closest

# Help sections, in the order ``--help`` shows them.
GROUPS = {
    "data": "Data and imbalance",
    "model": "Model",
    "optimisation": "Optimisation and schedule",
    "strategies": "Imbalance strategies",
    "evaluation": "Operating point and evaluation",
    "execution": "Execution (how a run executes, not what it computes)",
}


@dataclass(frozen=True)
class Param:
    """A run parameter. Its flag is ``--`` + the name with ``_`` as ``-``; its TOML key is the name."""

    name: str  # the config key, TOML key and attribute name
    default: Any  # the value when nothing sets it (already parsed)
    help: str  # one line for --help; the default and the choices are appended
    group: str  # a key of GROUPS: where --help lists it
    parse: Callable[[Any], Any] = field(default=lambda v: v, repr=False)  # user value -> typed
    choices: Any = None  # a Registry (its names) or a tuple of strings; None = free
    strict: bool = True  # only the choices are valid (False: parse accepts more, e.g. a factory)
    example: Any = None  # a valid non-default value, spelled as on the command line (tests)
    execution: bool = False  # how a run executes, not what it computes: not part of its identity
    metavar: str | None = None  # what --help shows for the value
    dump: Callable[[Any], Any] = field(default=lambda v: v, repr=False)  # typed -> JSON/TOML

    def __post_init__(self):
        if self.group not in GROUPS:
            raise ValueError(f"param {self.name}: unknown group {self.group!r}")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def is_bool(self) -> bool:
        """An on/off setting: its flag is ``--name/--no-name``."""
        return self.parse is boolean or getattr(self.parse, "inner", None) is boolean

    def choice_names(self) -> list[str] | None:
        if self.choices is None:
            return None
        return list(self.choices.names()) if hasattr(self.choices, "names") else list(self.choices)

    def coerce(self, value: Any, source: str | None = None) -> Any:
        """The typed value of ``value``; a bad one raises a ConfigError naming the flag, or
        with ``source`` (a file's name), the key and the file."""
        if value is None:
            return None
        where = self.flag if source is None else f"{self.name} in {source}"
        if str(value).strip().lower() in getattr(self.parse, "none", ()):
            return None  # an optional setting switched off, e.g. --sampler none
        names = self.choice_names() if self.strict else None
        if names is not None and str(value) not in names:
            text = str(value)
            raise ConfigError(
                f"{where} must be one of {', '.join(names)}; got {text!r}{closest(text, names)}"
            )
        try:
            return self.parse(value)
        except ConfigError as exc:
            message = str(exc)
            if message.startswith("must"):
                message = f"{where} {message}"
            elif not message.startswith("--"):
                message = f"{where}: {message}"
            elif source is not None:
                message = f"{source}: {message}"
            raise ConfigError(message) from None


# --- parsers ------------------------------------------------------------------------------------


def boolean(value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"must be true or false, got {value!r}")


def integer(*, min: int | None = None, max: int | None = None) -> Callable[[Any], int]:  # noqa: A002
    def parse(value) -> int:
        if isinstance(value, bool):
            raise ConfigError(f"must be a whole number, got {value!r}")
        try:
            number = float(value) if not isinstance(value, int) else value
        except (TypeError, ValueError):
            raise ConfigError(f"must be a whole number, got {value!r}") from None
        if not (math.isfinite(number) and float(number).is_integer()):
            raise ConfigError(f"must be a whole number, got {value!r}")
        number = int(number)
        _bounds(number, min, max, value)
        return number

    return parse


def number(
    *, min: float | None = None, max: float | None = None, above: float | None = None,
    below: float | None = None,
) -> Callable[[Any], float]:  # noqa: A002  # fmt: skip
    """A finite float; ``min``/``max`` are inclusive bounds, ``above``/``below`` exclusive."""
    lo, lo_open = (above, True) if above is not None else (min, False)
    hi, hi_open = (below, True) if below is not None else (max, False)

    def parse(value) -> float:
        if isinstance(value, bool):
            raise ConfigError(f"must be a number, got {value!r}")
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"must be a number, got {value!r}") from None
        if not math.isfinite(x):
            raise ConfigError(f"must be a finite number, got {value!r}")
        too_low = lo is not None and (x <= lo if lo_open else x < lo)
        too_high = hi is not None and (x >= hi if hi_open else x > hi)
        if too_low or too_high:
            raise ConfigError(f"must be {_interval(lo, lo_open, hi, hi_open)}, got {value!r}")
        return x

    return parse


def _interval(lo, lo_open: bool, hi, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    return f"{'<' if hi_open else '<='} {hi:g}"


def _bounds(x, lo, hi, raw) -> None:
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise ConfigError(f"must be {_interval(lo, False, hi, False)}, got {raw!r}")


def text(value) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ConfigError(f"must be text, got {value!r}")
    return str(value)


def optional(parse: Callable[[Any], Any], *, none: tuple[str, ...] = ("none",)):
    """``parse``, or None for the words in ``none`` (so a flag can switch a setting off)."""

    def parse_optional(value):
        if value is None or (isinstance(value, str) and value.strip().lower() in none):
            return None
        return parse(value)

    parse_optional.inner, parse_optional.none = parse, none
    return parse_optional


def name_list(value) -> tuple[str, ...]:
    """``"cat,dog"`` or ``["cat", "dog"]`` -> ``("cat", "dog")``."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    raise ConfigError(f"must be comma-separated names, got {value!r}")


def number_list(value) -> tuple[float, ...]:
    """``"0.15,0.85"`` or ``[0.15, 0.85]`` -> ``(0.15, 0.85)``; finiteness is the caller's check."""
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list | tuple) or isinstance(value, bool):
        raise ConfigError(f"must be numbers separated by commas, got {value!r}")
    try:
        return tuple(float(p) for p in parts)
    except (TypeError, ValueError):
        raise ConfigError(f"must be numbers separated by commas, got {value!r}") from None


def spelled(value) -> str:
    """The command-line spelling of a parsed value (tests and ``--print-config`` use it)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(spelled(v) for v in value)
    return str(value)
