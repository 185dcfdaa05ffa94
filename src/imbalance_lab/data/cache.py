"""The decoded cache: every class folder decoded once, at one size, into one ``.npy`` file.

A file holds uint8 rows ``(n, C, H, W)``: row i is the i-th readable image of the
folder in name order. Its key is a hash of the folder's path, the files' names,
sizes and modification times, the size and the skip setting, so a changed, added
or removed file makes a new key and a fresh decode (which finds a file that went
bad since). Files are written once, atomically (a temporary file renamed into
place), under a lock, so parallel runs decode a folder once and then share it.

Rows are read with positional reads (``os.preadv``) straight into the caller's
buffer, not through a mapping: the pages stay in the kernel's page cache, one copy
shared by every DataLoader worker and every run on the machine, while a process
holds only the batch it reads. (Reading through ``np.load(mmap_mode="r")`` shares
the same page cache, but every page read stays counted in the reader's resident
size until the kernel needs it back, so a run streaming a cache larger than its
memory budget would look as if it held all of it.) The file is a plain ``.npy``:
``np.load(path, mmap_mode="r")`` opens it for anyone who wants the array.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from imbalance_lab.data.decode import DECODE_ERRORS, IMAGE_SUFFIXES, read_image
from imbalance_lab.errors import DataError

CACHE_VERSION = "2"
_NPY_MAGIC = b"\x93NUMPY\x01\x00"
_MAX_READ = 1 << 30  # Linux returns at most ~2 GiB per read call


def cache_dir() -> Path:
    """Where decoded arrays live: $IMBALANCE_LAB_CACHE, else ~/.cache/imbalance-lab."""
    env = os.environ.get("IMBALANCE_LAB_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "imbalance-lab"


# --- rows of images: in a cache file or in memory -----------------------------------------


_open_files: dict[str, int] = {}


def _fd(path: Path) -> int:
    """One read-only descriptor per file and process; positional reads share it safely."""
    key = str(path)
    fd = _open_files.get(key)
    if fd is None:
        if len(_open_files) >= 256:  # many caches in one process (tests): start afresh
            for old in _open_files.values():
                os.close(old)
            _open_files.clear()
        fd = _open_files[key] = os.open(key, os.O_RDONLY)
    return fd


def _read_into(fd: int, buffer: memoryview, offset: int) -> None:
    done = 0
    while done < len(buffer):
        chunk = buffer[done : done + _MAX_READ]
        if hasattr(os, "preadv"):
            n = os.preadv(fd, [chunk], offset + done)
        else:  # no preadv (Windows): one more copy
            data = os.pread(fd, len(chunk), offset + done)
            n = len(data)
            chunk[:n] = data
        if n == 0:
            raise OSError(f"the cache file ended {len(buffer) - done} bytes early")
        done += n


@dataclass(frozen=True)
class Rows:
    """Images of one class folder (or one whole split), ``(n, C, H, W)`` uint8, row by row.

    They live in a cache file (``path``) or, when no cache could be written or the
    source is small and in memory anyway, in ``array``.
    """

    shape: tuple[int, int, int, int]  # (n, C, H, W)
    names: tuple[str, ...] = ()  # the file each row was decoded from, when known
    notes: dict = field(default_factory=dict, compare=False)  # skipped, converted, ignored
    path: Path | None = None  # the cache file
    offset: int = 0  # bytes before row 0 in the file (the .npy header)
    array: torch.Tensor | None = None  # the rows, when in memory

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape[1:]))

    def read_into(self, start: int, out: torch.Tensor) -> None:
        """Fill ``out`` (contiguous uint8, ``(m, C, H, W)``) with rows ``start .. start + m``."""
        m = out.shape[0]
        if self.array is not None:
            out.copy_(self.array[start : start + m])
            return
        buffer = memoryview(out.numpy()).cast("B")
        _read_into(_fd(self.path), buffer, self.offset + start * self.row_bytes)

    def row(self, i: int) -> torch.Tensor:
        if self.array is not None:
            return self.array[i]
        out = torch.empty(self.shape[1:], dtype=torch.uint8)
        self.read_into(i, out.unsqueeze(0))
        return out


def _npy_header(shape: tuple[int, ...], length: int | None = None) -> bytes:
    """A version 1.0 ``.npy`` header for a uint8 C-order array, padded to ``length`` bytes."""
    text = repr({"descr": "|u1", "fortran_order": False, "shape": tuple(shape)}).encode("latin1")
    if length is None:  # numpy's alignment: a multiple of 64 bytes
        length = -(-(len(_NPY_MAGIC) + 2 + len(text) + 1) // 64) * 64
    body = text + b" " * (length - len(_NPY_MAGIC) - 2 - len(text) - 1) + b"\n"
    if len(_NPY_MAGIC) + 2 + len(body) != length or not body.startswith(text):
        raise ValueError(f"an .npy header for {shape} does not fit in {length} bytes")
    return _NPY_MAGIC + struct.pack("<H", len(body)) + body


# --- writing rows as they are decoded ------------------------------------------------------


class _FileWriter:
    """Appends rows to a temporary ``.npy`` whose header is written last, then renames it."""

    def __init__(self, folder: Path, capacity: int, image_shape: tuple[int, int, int]):
        self.folder, self.capacity, self.image_shape, self.count = folder, capacity, image_shape, 0
        c, h, w = image_shape
        self.header = len(_npy_header((capacity, 3, h, w)))  # room for any final shape
        fd, self.tmp = tempfile.mkstemp(dir=folder, prefix=".decoding.", suffix=".tmp")
        self.file = os.fdopen(fd, "wb")
        self.file.seek(self.header)

    def append(self, image: torch.Tensor) -> None:
        self.file.write(image.contiguous().numpy().data)
        self.count += 1

    def widen(self) -> None:
        """From one channel to three: rewrite the rows so far with the gray value repeated."""
        self.file.close()
        old, (_, h, w) = self.tmp, self.image_shape
        fd, self.tmp = tempfile.mkstemp(dir=self.folder, prefix=".decoding.", suffix=".tmp")
        self.file = os.fdopen(fd, "wb")
        self.file.seek(self.header)
        with open(old, "rb") as src:
            src.seek(self.header)
            for _ in range(self.count):
                gray = np.frombuffer(src.read(h * w), dtype=np.uint8)
                self.file.write(np.tile(gray, 3).tobytes())
        os.unlink(old)
        self.image_shape = (3, h, w)

    def finish(self, path: Path) -> tuple[Path, int]:
        self.file.seek(0)
        self.file.write(_npy_header((self.count, *self.image_shape), self.header))
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        _shareable(self.tmp)
        os.replace(self.tmp, path)
        return path, self.header

    def abort(self) -> None:
        self.file.close()
        Path(self.tmp).unlink(missing_ok=True)


class _MemoryWriter:
    """The same rows in one preallocated tensor, for when no cache file can be written."""

    def __init__(self, capacity: int, image_shape: tuple[int, int, int]):
        self.array = torch.empty((capacity, *image_shape), dtype=torch.uint8)
        self.image_shape, self.count = image_shape, 0

    def append(self, image: torch.Tensor) -> None:
        self.array[self.count] = image
        self.count += 1

    def widen(self) -> None:
        self.array = self.array.expand(-1, 3, -1, -1).contiguous()
        self.image_shape = (3, *self.image_shape[1:])

    def abort(self) -> None:
        pass


# --- decoding a class folder ---------------------------------------------------------------


class _DecodeFiles(Dataset):
    """File i -> (image or None, mode, error); a Dataset so DataLoader workers can decode in parallel."""

    def __init__(self, paths: list[Path], size: int | None):
        self.paths, self.size = paths, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        try:
            image, mode = read_image(self.paths[i], self.size)
        except DECODE_ERRORS as exc:
            return None, "", str(exc) or type(exc).__name__
        return image, mode, ""


def _pack(items):
    """A worker's batch as one tensor when the images agree in size (one shared-memory transfer
    instead of one per image); gray images ride as three channels and are cut back on arrival."""
    images = [image for image, _, _ in items if image is not None]
    if images and len({tuple(im.shape[1:]) for im in images}) == 1:
        stack = torch.stack([im.expand(3, -1, -1) for im in images])
        channels = [im.shape[0] for im in images]
        return stack, channels, [(mode, error) for _, mode, error in items]
    return None, None, items


def _unpack(batches):
    for stack, channels, items in batches:
        if stack is None:
            yield from items
            continue
        j = 0
        for mode, error in items:
            if error:
                yield None, mode, error
            else:
                yield stack[j, : channels[j]], mode, ""
                j += 1


def _decoded(paths: list[Path], size: int | None, workers: int):
    files = _DecodeFiles(paths, size)
    if workers <= 0:
        return (files[i] for i in range(len(files)))
    loader = DataLoader(files, batch_size=32, num_workers=workers, collate_fn=_pack)
    return _unpack(loader)


def list_images(class_dir: Path) -> tuple[list[os.DirEntry], int]:
    """(image files in name order, how many other files there are)."""
    try:
        entries = sorted((e for e in os.scandir(class_dir) if e.is_file()), key=lambda e: e.name)
    except OSError as exc:
        raise DataError(f"cannot read class folder {class_dir}: {exc.strerror or exc}") from None
    images = [e for e in entries if Path(e.name).suffix.lower() in IMAGE_SUFFIXES]
    return images, len(entries) - len(images)


def cache_key(class_dir: Path, images: list[os.DirEntry], size: int | None, skip_bad: bool) -> str:
    h = hashlib.sha256(f"folder-v{CACHE_VERSION}|{class_dir.resolve()}|{size}|{skip_bad}".encode())
    for entry in images:
        st = entry.stat()
        h.update(f"{entry.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


def read_cached(key: str) -> Rows | None:
    """The cached rows under ``key``, or None when missing or not whole."""
    base = cache_dir() / key
    try:
        meta = json.loads(base.with_suffix(".json").read_text())
        path = base.with_suffix(".npy")
        shape = tuple(meta["shape"])
        if meta.get("version") != CACHE_VERSION or path.stat().st_size != meta["offset"] + int(
            np.prod(shape)
        ):
            return None
        return Rows(shape, tuple(meta["names"]), meta["notes"], path, int(meta["offset"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextlib.contextmanager
def _locked(key: str):
    """Hold ``<key>.lock`` so that two runs decoding the same folder do it once."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): both may decode, the rename keeps it whole
        yield
        return
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        lock = open(cache_dir() / f"{key}.lock", "wb")  # noqa: SIM115
    except OSError:
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@dataclass(frozen=True)
class ClassFolder:
    """A class folder listed: its images, the other files, its cache key and cached rows if any."""

    path: Path
    images: tuple[os.DirEntry, ...]
    ignored: int  # files that are not images
    key: str
    cached: Rows | None


def list_class(class_dir: Path, size: int | None, skip_bad: bool) -> ClassFolder:
    images, ignored = list_images(class_dir)
    if not images:
        raise DataError(f"class folder {class_dir} holds no images (.jpg, .png, ...)")
    key = cache_key(class_dir, images, size, skip_bad)
    return ClassFolder(class_dir, tuple(images), ignored, key, read_cached(key))


def decode_class(
    folder: ClassFolder, size: int | None, skip_bad: bool, *, workers: int = 0, bar=None
) -> Rows:
    """The decoded rows of one listed class folder, from the cache or decoded (and cached) now.

    ``bar`` (a tqdm bar) advances once per file decoded; ``workers`` > 0 decodes in
    that many DataLoader worker processes. A file that cannot be decoded stops with
    its path, or with ``skip_bad`` is left out and counted in ``notes["skipped"]``.
    """
    rows = folder.cached
    if rows is None:
        with _locked(folder.key):
            rows = read_cached(folder.key) or _decode(
                folder.path, folder.images, size, skip_bad, folder.key, workers, bar
            )
    return Rows(rows.shape, rows.names, {**rows.notes, "ignored": folder.ignored}, rows.path,
                rows.offset, rows.array)  # fmt: skip


def _decode(class_dir, images, size, skip_bad, key, workers, bar) -> Rows:
    paths = [class_dir / e.name for e in images]
    names, converted, skipped, ref, writer = [], {}, 0, None, None
    try:
        for path, (image, mode, error) in zip(paths, _decoded(paths, size, workers), strict=True):
            if bar is not None:
                bar.update()
            if error:
                if skip_bad:
                    skipped += 1
                    continue
                raise DataError(
                    f"cannot decode image {path}: {error}; pass --skip-bad-images to skip such files"
                )
            if mode not in ("RGB", "L"):
                converted[mode] = converted.get(mode, 0) + 1
            if writer is None:
                ref = path
                writer = _writer(len(paths), tuple(image.shape))
            elif image.shape[1:] != writer.image_shape[1:]:
                h, w = writer.image_shape[1:]
                raise DataError(
                    f"mixed image sizes: {path} is {image.shape[2]}x{image.shape[1]}, but {ref} is "
                    f"{w}x{h}; pass --image-size N to resize every image to NxN"
                )
            if image.shape[0] > writer.image_shape[0]:  # a colour image after gray ones
                converted["L"] = converted.get("L", 0) + writer.count
                writer.widen()
            elif image.shape[0] < writer.image_shape[0]:  # a gray image among colour ones
                converted["L"] = converted.get("L", 0) + 1
                image = image.expand(writer.image_shape[0], -1, -1)
            writer.append(image)
            names.append(path.name)
        if writer is None:
            raise DataError(
                f"class folder {class_dir} holds no readable images ({skipped} skipped)"
            )
        notes = {"skipped": skipped, "converted": converted}
        shape = (writer.count, *writer.image_shape)
        if isinstance(writer, _MemoryWriter):
            return Rows(shape, tuple(names), notes, array=writer.array[: writer.count])
        path, offset = writer.finish(cache_dir() / f"{key}.npy")
    except OSError as exc:
        if writer is None:
            raise
        writer.abort()
        need = len(paths) * int(np.prod(writer.image_shape))
        raise DataError(
            f"cannot write the decoded images of {class_dir} to {cache_dir()}: "
            f"{exc.strerror or exc} (they need {need / 2**20:.0f} MiB); free space there "
            "or set IMBALANCE_LAB_CACHE to another folder"
        ) from None
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    meta = {"version": CACHE_VERSION, "shape": list(shape), "offset": offset, "names": names,
            "notes": notes, "folder": str(class_dir), "size": size}  # fmt: skip
    # Without its metadata the file is not found next time: only that run decodes again.
    with contextlib.suppress(OSError):
        _atomic_text(cache_dir() / f"{key}.json", json.dumps(meta))
    return Rows(shape, tuple(names), notes, path, offset)


def _writer(capacity: int, image_shape: tuple[int, int, int]):
    """A cache file when the cache folder can be written, else memory (as before caching)."""
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        return _FileWriter(cache_dir(), capacity, image_shape)
    except OSError:
        return _MemoryWriter(capacity, image_shape)


def _shareable(path) -> None:
    """The permissions of a file made by open(): mkstemp's 0600 would keep a cache folder
    shared by several users (IMBALANCE_LAB_CACHE) to its first user."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _atomic_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".meta.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        _shareable(tmp)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        raise
