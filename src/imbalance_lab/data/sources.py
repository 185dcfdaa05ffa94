"""Data sources: an image-folder tree, CIFAR-10 in torchvision's layout, Fashion-MNIST IDX.

Each source is decoded once into a uint8 (N, C, H, W) tensor. Decoded arrays are
cached on disk under a key made of the source kind and a fingerprint of its files
(name, size, modification time), so a second run reads one ``.npy`` per class
instead of thousands of small images.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from imbalance_lab.data.imageset import ImageSet
from imbalance_lab.errors import DataError, closest

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
SPLITS = ("train", "test")
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
_CACHE_VERSION = "1"


def cache_dir() -> Path:
    """Where decoded arrays live: $IMBALANCE_LAB_CACHE, else ~/.cache/imbalance-lab."""
    env = os.environ.get("IMBALANCE_LAB_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "imbalance-lab"


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
) -> ImageSet:
    """Decode one split for the chosen classes; labels follow the order of ``classes``."""
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if source.kind == "folder":
        return _load_folder_split(source.root, split, classes, image_size, skip_bad_images)
    if source.kind == "cifar10":
        ds = _cifar10_dataset(source.root, train=split == "train")
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
        return _select(images, np.asarray(ds.targets), ds.classes_tuple, classes)
    images, labels = _load_idx(source.root, split)
    return _select(images, labels, FASHION_MNIST_CLASSES, classes)


def _select(images: torch.Tensor, labels: np.ndarray, names, classes: list[str]) -> ImageSet:
    names = tuple(names)
    keep = np.isin(labels, [names.index(c) for c in classes])
    remap = np.full(len(names), -1, dtype=np.int64)
    for new, name in enumerate(classes):
        remap[names.index(name)] = new
    idx = torch.from_numpy(np.flatnonzero(keep))
    return ImageSet(images[idx].contiguous(), torch.from_numpy(remap[labels[keep]]), tuple(classes))


# --- image-folder trees ------------------------------------------------------------------


def _split_dir(root: Path, split: str) -> Path:
    path = root / split
    if not path.is_dir():
        raise DataError(f"split folder not found: {path} (expected <root>/{split}/<class>/)")
    return path


def _load_folder_split(root, split, classes, image_size, skip_bad) -> ImageSet:
    split_dir = _split_dir(root, split)
    parts, files, labels = [], [], []
    notes = {"skipped_bad_images": 0, "ignored_non_images": 0, "converted_modes": {}}
    for label, name in enumerate(classes):
        class_dir = split_dir / name
        if not class_dir.is_dir():
            raise DataError(f"class folder not found: {class_dir}")
        arr, names, class_notes = _load_class_dir(class_dir, image_size, skip_bad)
        parts.append((class_dir, arr, names))
        labels.append(np.full(len(names), label, dtype=np.int64))
        notes["skipped_bad_images"] += class_notes["skipped"]
        notes["ignored_non_images"] += class_notes["ignored"]
        for mode, n in class_notes["converted"].items():
            notes["converted_modes"][mode] = notes["converted_modes"].get(mode, 0) + n
    arrays = _harmonise(parts)
    for class_dir, _, names in parts:
        files.extend(str(class_dir / n) for n in names)
    images = torch.from_numpy(np.concatenate(arrays)).permute(0, 3, 1, 2).contiguous()
    return ImageSet(
        images, torch.from_numpy(np.concatenate(labels)), tuple(classes), tuple(files), notes
    )


def _harmonise(parts) -> list[np.ndarray]:
    """Give every class the same size and channel count, or name the first misfit."""
    ref_dir, ref, ref_names = parts[0]
    channels = max(a.shape[3] for _, a, _ in parts)
    out = []
    for class_dir, arr, names in parts:
        if arr.shape[1:3] != ref.shape[1:3]:
            raise DataError(
                f"mixed image sizes: {class_dir / names[0]} is {arr.shape[2]}x{arr.shape[1]}, "
                f"but {ref_dir / ref_names[0]} is {ref.shape[2]}x{ref.shape[1]}; "
                "pass --image-size N to resize every image to NxN"
            )
        out.append(np.repeat(arr, channels, axis=3) if arr.shape[3] != channels else arr)
    return out


def _fingerprint(files: list[os.DirEntry], extra: str) -> str:
    h = hashlib.sha256(f"folder-v{_CACHE_VERSION}|{extra}".encode())
    for entry in files:
        st = entry.stat()
        h.update(f"{entry.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError)


def decode_image(path: Path, image_size: int | None = None) -> tuple[np.ndarray, str]:
    """(uint8 HxWxC array, original mode); palette, RGBA, CMYK... are converted to RGB."""
    with Image.open(path) as img:
        img.load()
        mode = img.mode
        pixels = img if mode in ("RGB", "L") else img.convert("RGB")
        if image_size is not None and pixels.size != (image_size, image_size):
            pixels = pixels.resize((image_size, image_size), Image.BILINEAR)
        arr = np.asarray(pixels, dtype=np.uint8)
    return (arr[:, :, None] if arr.ndim == 2 else arr), mode


def _load_class_dir(class_dir: Path, image_size: int | None, skip_bad: bool):
    entries = sorted((e for e in os.scandir(class_dir) if e.is_file()), key=lambda e: e.name)
    images = [e for e in entries if Path(e.name).suffix.lower() in IMAGE_SUFFIXES]
    ignored = len(entries) - len(images)
    if not images:
        raise DataError(f"class folder {class_dir} holds no images (.jpg, .png, ...)")
    key = _fingerprint(images, f"{class_dir.resolve()}|{image_size}|{skip_bad}")
    cached = _cache_read(key)
    if cached is not None:
        arr, meta = cached
        return arr, meta["names"], {**meta["notes"], "ignored": ignored}

    decoded, names, converted, skipped, ref = [], [], {}, 0, None
    for entry in images:
        path = class_dir / entry.name
        try:
            arr, mode = decode_image(path, image_size)
        except DECODE_ERRORS as exc:
            if skip_bad:
                skipped += 1
                continue
            raise DataError(
                f"cannot decode image {path}: {exc}; pass --skip-bad-images to skip such files"
            ) from None
        if mode not in ("RGB", "L"):
            converted[mode] = converted.get(mode, 0) + 1
        if ref is None:
            ref = (path, arr.shape)
        elif arr.shape[:2] != ref[1][:2]:
            raise DataError(
                f"mixed image sizes: {path} is {arr.shape[1]}x{arr.shape[0]}, but {ref[0]} is "
                f"{ref[1][1]}x{ref[1][0]}; pass --image-size N to resize every image to NxN"
            )
        decoded.append(arr)
        names.append(entry.name)
    if not decoded:
        raise DataError(f"class folder {class_dir} holds no readable images ({skipped} skipped)")
    channels = max(a.shape[2] for a in decoded)
    if channels == 3 and any(a.shape[2] == 1 for a in decoded):
        converted["L"] = converted.get("L", 0) + sum(a.shape[2] == 1 for a in decoded)
        decoded = [np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a for a in decoded]
    arr = np.stack(decoded)
    notes = {"skipped": skipped, "converted": converted}
    _cache_write(key, arr, {"names": names, "notes": notes})
    return arr, names, {**notes, "ignored": ignored}


def _cache_read(key: str):
    base = cache_dir() / key
    try:
        arr = np.load(base.with_suffix(".npy"))
        meta = json.loads(base.with_suffix(".json").read_text())
        return arr, meta
    except (OSError, ValueError, EOFError):
        return None


def _cache_write(key: str, arr: np.ndarray, meta: dict) -> None:
    """Best effort: a cache that cannot be written only costs a re-decode next time."""
    base = cache_dir() / key
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
        for suffix, write in (
            (".npy", lambda f: np.save(f, arr)),
            (".json", lambda f: f.write(json.dumps(meta).encode())),
        ):
            fd, tmp = tempfile.mkstemp(dir=base.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.replace(tmp, base.with_suffix(suffix))
    except OSError:
        pass


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


def _load_idx(root: Path, split: str) -> tuple[torch.Tensor, np.ndarray]:
    found = _find_idx(root, split)
    if found is None:
        hint = (
            " (apt-get install dataset-fashion-mnist)" if root == FASHION_MNIST_SYSTEM_DIR else ""
        )
        raise DataError(f"Fashion-MNIST IDX files for split {split!r} not found in {root}{hint}")
    images = _read_idx(found[0])
    labels = _read_idx(found[1]).astype(np.int64)
    return torch.from_numpy(images.copy()).unsqueeze(1), labels
