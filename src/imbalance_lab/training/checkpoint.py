"""Per-epoch checkpoints that survive a kill. (The model file format: imbalance_lab.models.saved.)"""

from __future__ import annotations

import os
from pathlib import Path

from imbalance_lab.errors import ModelFileError
from imbalance_lab.io import atomic_write_bytes, safe_torch_load, torch_bytes
from imbalance_lab.rundir import CHECKPOINT, NEXT_CHECKPOINT
from imbalance_lab.rundir import PREVIOUS_CHECKPOINT as PREVIOUS

CHECKPOINT_FORMAT = "imbalance-lab-checkpoint"
CHECKPOINT_VERSION = 1


def save_checkpoint(out_dir: Path, state: dict) -> None:
    """Write ``checkpoint.pt`` atomically, keeping the one before as ``checkpoint.prev.pt``."""
    data = torch_bytes({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **state})
    current = out_dir / CHECKPOINT
    tmp_final = out_dir / NEXT_CHECKPOINT
    atomic_write_bytes(tmp_final, data)  # raises OutputError on a full disk, nothing replaced
    if current.exists():
        os.replace(current, out_dir / PREVIOUS)
    os.replace(tmp_final, current)


def load_checkpoint(out_dir: Path, warn=print) -> dict | None:
    """The newest readable checkpoint, or None; a damaged newest one falls back to the previous."""
    current, previous = out_dir / CHECKPOINT, out_dir / PREVIOUS
    for path in (current, previous):
        if not path.exists():
            continue
        try:
            state = safe_torch_load(path, kind="checkpoint")
            if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
                raise ModelFileError(f"{path} is not an imbalance-lab checkpoint")
        except ModelFileError as exc:
            warn(f"warning: {exc}; trying the previous checkpoint")
            continue
        if path == previous and current.exists():
            warn(f"warning: resuming from {previous.name} (epoch {state['epoch']})")
        return state
    return None


def remove_checkpoints(out_dir: Path) -> None:
    for name in (CHECKPOINT, PREVIOUS, NEXT_CHECKPOINT):
        (out_dir / name).unlink(missing_ok=True)
