"""How much decoded image data a run may hold in memory, and whether it streams instead.

``--memory-budget`` is a size (``512MB``, ``8GB``, ``1.5GiB``; decimal units are
powers of 1000, ``KiB``/``MiB``/``GiB``/``TiB`` powers of 1024). The default is
half of the memory available when the run starts (``MemAvailable`` of
/proc/meminfo, capped by a cgroup limit when the run is in a container): the
other half is left for the model, its activations and optimiser state, the
DataLoader's batches, the page cache that feeds streaming, and whatever else runs
on the machine. ``--data-mode auto`` keeps the images in memory when they fit in
the budget and streams them from the decoded cache otherwise.
"""

from __future__ import annotations

import os
import re

from imbalance_lab.errors import ConfigError

DATA_MODES = ("auto", "memory", "stream")
DEFAULT_FRACTION = 0.5  # of the available memory; see the module docstring
_UNITS = {
    "": 1, "b": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}  # fmt: skip
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")


def parse_size(text) -> int:
    """Bytes in ``text``: ``512MB``, ``8GB``, ``1.5GiB``, ``2000000`` (bytes)."""
    if isinstance(text, int) and not isinstance(text, bool):
        value, unit = float(text), ""
    else:
        match = _SIZE.match(str(text))
        if not match or match.group(2).lower() not in _UNITS:
            raise ConfigError(
                f"must be a size such as 512MB, 8GB or 1.5GiB (units B, KB, MB, GB, TB, "
                f"KiB, MiB, GiB, TiB), got {text!r}"
            )
        value, unit = float(match.group(1)), match.group(2).lower()
    size = int(value * _UNITS[unit])
    if size <= 0:
        raise ConfigError(f"must be a size above 0, got {text!r}")
    return size


def format_size(size: int) -> str:
    for unit, scale in (("GB", 1000**3), ("MB", 1000**2), ("KB", 1000)):
        if size >= scale:
            return f"{size / scale:.1f}{unit}"
    return f"{size}B"


def available_memory() -> int:
    """Bytes this process could still allocate: MemAvailable, within any cgroup v2 limit."""
    available = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if available is None:  # no /proc (macOS, Windows): the physical memory
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current") as f:
            used = int(f.read().strip())
        if limit != "max":
            available = min(available, int(limit) - used)
    except (OSError, ValueError):
        pass
    return max(available, 0)


def default_budget() -> int:
    return int(DEFAULT_FRACTION * available_memory())


def batch_bytes(batch_size: int, image_shape: tuple[int, int, int]) -> int:
    """Memory of one batch on its way into the model: the uint8 images and their float32 copy."""
    c, h, w = image_shape
    return batch_size * c * h * w * (1 + 4)


def choose_mode(decoded: int, budget: int, mode: str = "auto", *, batch: int = 0) -> str:
    """ "memory" or "stream" for ``decoded`` bytes of images under ``budget`` bytes.

    ``mode`` "memory" or "stream" is obeyed; "auto" keeps the images in memory when
    they fit. A budget smaller than one ``batch`` (bytes) cannot train at all.
    """
    if mode not in DATA_MODES:
        raise ConfigError(f"--data-mode must be one of {', '.join(DATA_MODES)}, got {mode!r}")
    if batch > budget:
        raise ConfigError(
            f"--memory-budget {format_size(budget)} cannot hold one batch "
            f"({format_size(batch)} as uint8 images and their float32 copy); "
            f"give at least {format_size(batch)} or a smaller --batch-size"
        )
    if mode != "auto":
        return mode
    return "memory" if decoded <= budget else "stream"
