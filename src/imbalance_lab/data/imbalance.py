"""One canonical imbalance spec, parsed once at the edge.

``--ratio 4`` (or ``4:1``), ``--counts 4800,1200`` and ``--long-tail 100`` are all
turned into an :class:`ImbalanceSpec`; :func:`resolve_counts` turns a spec and the
images available per class into the ``[count per class]`` list that everything
downstream uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from imbalance_lab.errors import ConfigError, DataError


@dataclass(frozen=True)
class ImbalanceSpec:
    """How many training images of each class to keep."""

    kind: str  # "all" (keep everything), "ratio", "counts" or "long-tail"
    values: tuple[float, ...] = ()  # ratio parts or counts, one per class, in class order
    factor: float | None = None  # long-tail imbalance factor n_max / n_min
    size: int | None = None  # total training images for a ratio; None: the largest round total

    def describe(self) -> str:
        if self.kind == "ratio":
            text = ":".join(f"{v:g}" for v in self.values)
            return text + (f" (size {self.size})" if self.size else "")
        if self.kind == "counts":
            return ",".join(str(int(v)) for v in self.values)
        if self.kind == "long-tail":
            return f"long-tail x{self.factor:g}"
        return "all"


def _numbers(text: str, sep: str, flag: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(sep))
    except ValueError:
        raise ConfigError(f"{flag} must be numbers separated by '{sep}', got {text!r}") from None
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ConfigError(f"{flag} values must be finite and > 0, got {text!r}")
    return values


def ratio_text(value) -> str:
    """Check the spelling of ``--ratio`` ("4", "4:1", "10:5:1"); its class count is checked later."""
    text = str(value).strip()
    _numbers(text, ":", "--ratio")
    return text


def counts_text(value) -> str:
    """Check the spelling of ``--counts`` ("4800,1200" or a list of whole numbers)."""
    text = value if isinstance(value, str) else ",".join(str(v) for v in value)
    values = _numbers(text.strip(), ",", "--counts")
    if any(v != int(v) for v in values):
        raise ConfigError(f"--counts must be whole numbers, got {text!r}")
    return text.strip()


def parse_imbalance(
    n_classes: int,
    *,
    ratio: str | float | None = None,
    counts: str | list[int] | None = None,
    long_tail: float | None = None,
    size: int | None = None,
) -> ImbalanceSpec:
    """Validate the user's spelling of the imbalance and return the canonical spec."""
    given = [
        n
        for n, v in (("--ratio", ratio), ("--counts", counts), ("--long-tail", long_tail))
        if v is not None
    ]
    if len(given) > 1:
        raise ConfigError(
            f"give only one of --ratio, --counts, --long-tail; got {' and '.join(given)}"
        )
    if size is not None and (ratio is None or int(size) <= 0):
        raise ConfigError(f"--size must be > 0 and goes with --ratio, got {size}")
    if ratio is not None:
        parts = _numbers(str(ratio), ":", "--ratio")
        if len(parts) == 1:
            if n_classes != 2:
                raise ConfigError(
                    f"--ratio {ratio} is a single number, which needs 2 classes; "
                    f"give one part per class for {n_classes} classes, e.g. 10:5:1"
                )
            parts = (parts[0], 1.0)
        if len(parts) != n_classes:
            raise ConfigError(f"--ratio has {len(parts)} parts but there are {n_classes} classes")
        return ImbalanceSpec("ratio", parts, size=None if size is None else int(size))
    if counts is not None:
        text = counts if isinstance(counts, str) else ",".join(str(c) for c in counts)
        values = _numbers(text, ",", "--counts")
        if any(v != int(v) for v in values):
            raise ConfigError(f"--counts must be whole numbers, got {text!r}")
        if len(values) != n_classes:
            raise ConfigError(
                f"--counts has {len(values)} values but there are {n_classes} classes"
            )
        return ImbalanceSpec("counts", values)
    if long_tail is not None:
        factor = float(long_tail)
        if not (math.isfinite(factor) and factor >= 1):
            raise ConfigError(f"--long-tail imbalance factor must be >= 1, got {long_tail}")
        return ImbalanceSpec("long-tail", factor=factor)
    return ImbalanceSpec("all")


def _round_total(total: float) -> int:
    # Round the largest feasible total down to whole thousands: 4:1 on 5000/5000
    # images gives 6250 -> 6000, i.e. the article's 4800 cats and 1200 dogs.
    total = math.floor(total)
    return total - total % 1000 if total >= 1000 else total


def resolve_counts(spec: ImbalanceSpec, available: list[int], classes: list[str]) -> list[int]:
    """Per-class training counts for ``spec``; raises if the data cannot supply them."""
    if spec.kind == "all":
        return list(available)
    if spec.kind == "counts":
        wanted = [int(v) for v in spec.values]
    elif spec.kind == "ratio":
        share = np.asarray(spec.values) / sum(spec.values)
        feasible = min(a / s for a, s in zip(available, share, strict=True))
        total = spec.size if spec.size is not None else _round_total(feasible)
        wanted = [int(math.floor(total * s + 1e-9)) for s in share]
    else:
        # Exponential profile of CIFAR-10-LT (Cui et al. 2019; Cao et al. 2019):
        # n_i = n_max * (1 / factor) ** (i / (C - 1)).
        n_max = min(available)
        c = len(available)
        wanted = [int(n_max * (1.0 / spec.factor) ** (i / (c - 1))) for i in range(c)]
    for name, want, have in zip(classes, wanted, available, strict=True):
        if want > have:
            raise DataError(
                f"imbalance {spec.describe()} needs {want} {name!r} training images, "
                f"but only {have} exist"
            )
        if want < 1:
            raise DataError(f"imbalance {spec.describe()} leaves class {name!r} with no image")
    return wanted


def pick_indices(labels: np.ndarray, counts: list[int], seed: int) -> np.ndarray:
    """Keep ``counts[c]`` images of each class, chosen by a seeded permutation; sorted."""
    rng = np.random.default_rng(seed)
    keep = []
    for c, n in enumerate(counts):
        members = np.flatnonzero(labels == c)
        keep.append(rng.permutation(members)[:n])
    return np.sort(np.concatenate(keep))
