"""Atomic, safe file writes and reads.

Every result file is written to a temporary file in the same folder and renamed
into place, so a kill or a full disk leaves either the old file or the new one,
never half of one. A new file gets the mode open() would give it (0o666 less the
process umask), so a team can share or serve what a run writes. Torch files are
read with ``weights_only=True``: a file that carries a pickle payload (code to run)
is refused instead of executed.
"""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import secrets
import warnings
from pathlib import Path

import torch

from imbalance_lab.errors import ModelFileError, OutputError


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_beside(path)
        with os.fdopen(fd, "wb") as f:
            _write_synced(f, data, path)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        reason = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
        raise OutputError(
            f"cannot write {path}: {reason}; the previous version is left intact"
        ) from None


def _create_beside(path: Path) -> tuple[int, Path]:
    """A new, uniquely named temporary file next to ``path``, open for writing.

    tempfile.mkstemp creates files 0600 whatever the umask; asking the kernel for 0666,
    as open() does, lets it apply the umask (and a folder's default ACL) itself.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # 48 random bits: practically never
            continue


def _write_synced(f, data: bytes, path: Path) -> None:
    f.write(data)
    f.flush()
    os.fsync(f.fileno())


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def safe_torch_load(path: str | os.PathLike, *, kind: str = "model file") -> dict:
    """Load a torch file without running code; every failure is a one-line ModelFileError."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{kind} not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols, not for users
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(
            f"{path} is refused: it carries a pickle payload that a safe load will not run ({first[:160]})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError) as exc:
        raise ModelFileError(
            f"{path} is not a readable {kind} (truncated or damaged: {str(exc)[:160]})"
        ) from None
    return obj
