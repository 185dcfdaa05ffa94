"""Error types raised on bad user input.

Every error a user can cause by what they pass in (paths, class names, ratios,
weights, config keys, model files) is an :class:`ImbalanceLabError`. The CLI
prints its message as one line and exits with code 2; Python callers can catch
it, or ``ValueError``, which it subclasses.
"""

from __future__ import annotations

import difflib


class ImbalanceLabError(ValueError):
    """Bad user input: the message says what was given and what is allowed."""


class DataError(ImbalanceLabError):
    """The data folder, its images or the class selection cannot be used."""


class ConfigError(ImbalanceLabError):
    """A flag, a config file key or a parameter value is not valid."""


class ModelFileError(ImbalanceLabError):
    """A model or checkpoint file is missing, damaged, unsafe or not ours."""


class OutputError(ImbalanceLabError):
    """The output folder cannot be written, or belongs to another study."""


class TrainingDiverged(ImbalanceLabError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def closest(name: str, allowed: list[str] | tuple[str, ...]) -> str:
    """A " (did you mean 'X'?)" hint, or '' when nothing is close."""
    match = difflib.get_close_matches(name, list(allowed), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""
