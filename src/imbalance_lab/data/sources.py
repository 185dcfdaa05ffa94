"""Data sources: an image-folder tree, CIFAR-10 in torchvision's layout, Fashion-MNIST IDX.

:func:`open_split` gives one split as an :class:`~imbalance_lab.data.store.ImageStore`:
an image folder is decoded once into the on-disk cache (one ``.npy`` per class
folder, keyed by a fingerprint of its files: name, size, modification time), so a
second run reads it instead of thousands of small images; the CIFAR-10 and
Fashion-MNIST files are read into memory. :func:`load_split` reads a whole split
into one uint8 (N, C, H, W) tensor.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from imbalance_lab.data.cache import cache_dir, list_images
from imbalance_lab.data.decode import (
    DECODE_ERRORS,
    IMAGE_SUFFIXES,
    decode_image,
    fit_square,
    read_image,
)
from imbalance_lab.data.imageset import ImageSet
from imbalance_lab.data.store import ImageStore, folder_store, memory_store
from imbalance_lab.errors import DataError, closest

__all__ = [
    "DECODE_ERRORS", "IMAGE_SUFFIXES", "SPLITS", "Source", "cache_dir", "decode_image",
    "first_images", "list_classes", "load_split", "open_split", "resolve_source", "select_classes",
]  # fmt: skip

SPLITS = ("train", "test")
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class Source:
    """Where a dataset lives and how it is laid out."""

    kind: str  # "folder", "cifar10" (torchvision layout) or "fashion-mnist" (IDX files)
    root: Path  # the folder the user named

    def describe(self) -> str:
        return f"{self.kind}:{self.root}"


def data_location(data: str | os.PathLike) -> str:
    """``--data`` as a location that resolves from any folder: relative paths made absolute.

    A run stores this, so that a report or a resumed run started elsewhere finds the data.
    """
    text = os.fspath(data)
    for kind in ("cifar10", "fashion-mnist"):
        if text.startswith(kind + ":"):
            rest = text[len(kind) + 1 :]
            return f"{kind}:{os.path.abspath(rest)}" if rest else text
    return os.path.abspath(text) if text else text


def resolve_source(data: str | os.PathLike) -> Source:
    """Turn ``--data`` into a :class:`Source`.

    ``cifar10:DIR`` and ``fashion-mnist:DIR`` name the torchvision/IDX layouts
    explicitly (``cifar10:`` downloads when the files are missing and the machine
    is online); a plain path is recognised by what it holds.
    """
    text = os.fspath(data)
    for kind in ("cifar10", "fashion-mnist"):
        if text.startswith(kind + ":"):
            rest = text[len(kind) + 1 :]
            root = Path(rest) if rest else _default_root(kind)
            return Source(kind, root)
    root = Path(text)
    if not root.exists():
        raise DataError(f"data folder not found: {root}")
    if not root.is_dir():
        raise DataError(f"--data must be a folder, got the file {root}")
    if (root / "cifar-10-batches-py").is_dir():
        return Source("cifar10", root)
    if _find_idx(root, "train") is not None:
        return Source("fashion-mnist", root)
    if any((root / s).is_dir() for s in SPLITS):
        return Source("folder", root)
    raise DataError(
        f"cannot tell the layout of {root}: expected <root>/train/<class>/*.jpg|png, "
        "<root>/cifar-10-batches-py, or Fashion-MNIST IDX files"
    )


def _default_root(kind: str) -> Path:
    if kind == "fashion-mnist":
        return FASHION_MNIST_SYSTEM_DIR
    return cache_dir() / "downloads"


def list_classes(source: Source) -> tuple[str, ...]:
    """Class names in label order, without decoding any image."""
    if source.kind == "fashion-mnist":
        return FASHION_MNIST_CLASSES
    if source.kind == "cifar10":
        return _cifar10_dataset(source.root, train=True).classes_tuple
    split_dir = _split_dir(source.root, "train")
    names = tuple(sorted(p.name for p in split_dir.iterdir() if p.is_dir()))
    if not names:
        raise DataError(f"split folder {split_dir} holds no class folders")
    return names


def select_classes(available: tuple[str, ...], wanted: list[str] | None) -> list[str]:
    """Validate ``--classes``: every name exists, none twice, at least two."""
    if not wanted:
        return list(available)
    seen: set[str] = set()
    for name in wanted:
        if name in seen:
            raise DataError(f"class {name!r} is given twice in --classes {','.join(wanted)}")
        seen.add(name)
        if name not in available:
            raise DataError(
                f"class {name!r} is not in the data{closest(name, available)}; "
                f"available: {', '.join(available)}"
            )
    if len(wanted) < 2:
        raise DataError(f"--classes needs at least 2 classes, got {len(wanted)}: {wanted[0]}")
    return list(wanted)


def load_split(
    source: Source,
    split: str,
    classes: list[str],
    *,
    image_size: int | None = None,
    skip_bad_images: bool = False,
    workers: int = 0,
    progress: bool | None = False,
) -> ImageSet:
    """Decode one split for the chosen classes into memory; labels follow the order of ``classes``."""
    return open_split(
        source, split, classes, image_size=image_size, skip_bad_images=skip_bad_images,
        workers=workers, progress=progress,
    ).take()  # fmt: skip


def open_split(
    source: Source,
    split: str,
    classes: list[str],
    *,
    image_size: int | None = None,
    skip_bad_images: bool = False,
    workers: int = 0,
    progress: bool | None = None,
) -> ImageStore:
    """One split for the chosen classes, decoded once, its images read on demand.

    An image folder is decoded into the cache (see :mod:`imbalance_lab.data.cache`)
    by ``workers`` processes, with a progress bar (``progress``: None = on a
    terminal); CIFAR-10 and Fashion-MNIST files are small and read into memory.
    """
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if image_size is not None and (
        isinstance(image_size, bool) or not isinstance(image_size, int) or image_size <= 0
    ):
        raise DataError(f"--image-size must be a whole number of pixels > 0, got {image_size!r}")
    if source.kind == "folder":
        return folder_store(
            _split_dir(source.root, split), classes, image_size, skip_bad_images,
            workers=workers, progress=progress,
        )  # fmt: skip
    if source.kind == "cifar10":
        ds = _cifar10_dataset(source.root, train=split == "train")
        images, labels, names = ds.data, np.asarray(ds.targets), ds.classes_tuple
    else:
        images, labels = _load_idx(source.root, split)
        names = FASHION_MNIST_CLASSES
    return _select(images, labels, names, classes, image_size)


def first_images(
    source: Source, split: str, classes: list[str], per_class: int, *,
    image_size: int | None = None,
) -> dict[str, torch.Tensor]:  # fmt: skip
    """The first ``per_class`` readable images of each class, ``{class: uint8 (n, C, H, W)}``.

    For a report's sample grid: an image folder is read straight from its files, in
    name order, without decoding (or caching) the rest of the split; unreadable files
    are passed over.
    """
    if source.kind != "folder":
        store = open_split(source, split, classes, image_size=image_size)
        return {
            name: store.take(np.flatnonzero(store.labels == i)[:per_class]).images
            for i, name in enumerate(classes)
        }
    split_dir = _split_dir(source.root, split)
    out = {}
    for name in classes:
        images = []
        for entry in list_images(split_dir / name)[0]:
            if len(images) == per_class:
                break
            try:
                images.append(read_image(split_dir / name / entry.name, image_size)[0])
            except DECODE_ERRORS:
                continue
        if images and len({im.shape[1:] for im in images}) > 1:
            images = [fit_square(im, min(min(i.shape[1:]) for i in images)) for im in images]
        c = max((im.shape[0] for im in images), default=3)
        out[name] = (
            torch.stack([im.expand(c, -1, -1) for im in images])
            if images
            else torch.zeros((0, c, 1, 1), dtype=torch.uint8)
        )
    return out


def _select(images: np.ndarray, labels: np.ndarray, names, classes, size) -> ImageStore:
    """The chosen classes of an in-memory (N, H, W[, C]) array, fitted to ``size`` when given."""
    names = tuple(names)
    keep = np.flatnonzero(np.isin(labels, [names.index(c) for c in classes]))
    remap = np.full(len(names), -1, dtype=np.int64)
    for new, name in enumerate(classes):
        remap[names.index(name)] = new
    chosen = torch.from_numpy(images[keep])  # the one copy: only the chosen classes
    chosen = chosen.unsqueeze(1) if chosen.ndim == 3 else chosen.permute(0, 3, 1, 2)
    if size is not None and chosen.shape[2:] != (size, size):
        chosen = torch.stack([fit_square(image, size) for image in chosen])
    return memory_store(chosen, remap[labels[keep]], classes)


def _split_dir(root: Path, split: str) -> Path:
    path = root / split
    if not path.is_dir():
        raise DataError(f"split folder not found: {path} (expected <root>/{split}/<class>/)")
    if not os.access(path, os.R_OK | os.X_OK):
        raise DataError(f"split folder {path} cannot be read (permission denied)")
    return path


# --- CIFAR-10 in torchvision's layout ----------------------------------------------------


def _cifar10_dataset(root: Path, train: bool):
    from torchvision.datasets import CIFAR10

    try:
        ds = CIFAR10(str(root), train=train, download=not (root / "cifar-10-batches-py").is_dir())
    except (OSError, RuntimeError) as exc:
        raise DataError(
            f"CIFAR-10 is not at {root}/cifar-10-batches-py and could not be downloaded "
            f"({type(exc).__name__}: {exc}); give --data an image-folder copy instead"
        ) from None
    ds.classes_tuple = tuple(ds.classes)
    return ds


# --- Fashion-MNIST IDX files -------------------------------------------------------------

_IDX_PREFIX = {"train": "train", "test": "t10k"}


def _find_idx(root: Path, split: str) -> tuple[Path, Path] | None:
    prefix = _IDX_PREFIX[split]
    for folder in (root, root / "FashionMNIST" / "raw"):
        for suffix in (".gz", ""):
            images = folder / f"{prefix}-images-idx3-ubyte{suffix}"
            labels = folder / f"{prefix}-labels-idx1-ubyte{suffix}"
            if images.is_file() and labels.is_file():
                return images, labels
    return None


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read IDX file {path}: {exc}") from None
    # IDX header: two zero bytes, a type code (0x08 = uint8), the number of dims,
    # then one big-endian int32 per dim (LeCun et al., the MNIST file format).
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise DataError(f"{path} is not a uint8 IDX file")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"IDX file {path} is truncated: {data.size} of {int(np.prod(dims))} bytes")
    return data.reshape(tuple(int(d) for d in dims))


def _load_idx(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    found = _find_idx(root, split)
    if found is None:
        hint = (
            " (apt-get install dataset-fashion-mnist)" if root == FASHION_MNIST_SYSTEM_DIR else ""
        )
        raise DataError(f"Fashion-MNIST IDX files for split {split!r} not found in {root}{hint}")
    return _read_idx(found[0]), _read_idx(found[1]).astype(np.int64)
