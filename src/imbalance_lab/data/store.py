"""One split's decoded images, wherever they are: cache files or memory.

An :class:`ImageStore` knows every image's label and file, and reads images on
demand: one at a time for a streaming ``Dataset``, or a chosen subset at once into
a single new tensor for the in-memory path. Nothing is held twice: building a
training set allocates its tensor once and reads its rows straight into it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from imbalance_lab.data.cache import Rows, decode_class, list_class
from imbalance_lab.data.imageset import ImageSet
from imbalance_lab.errors import DataError

# Reads of a part with fewer channels go through a buffer of at most this many bytes.
_CHUNK_BYTES = 64 << 20


@dataclass(frozen=True)
class ImageStore:
    """Images in ``parts`` (one per class folder, or one for a split held in memory), in order."""

    parts: tuple[Rows, ...]  # the rows of all parts, one after another, are the store's images
    labels: np.ndarray  # int64 label of every image; index i is label of classes[i]
    classes: tuple[str, ...]
    files: tuple[str, ...] = ()  # source file of every image, when known
    notes: dict = field(default_factory=dict, compare=False)  # what loading skipped or converted

    def __post_init__(self):
        assert sum(len(p) for p in self.parts) == self.labels.size
        sizes = {p.shape[2:] for p in self.parts}
        assert len(sizes) == 1, sizes

    def __len__(self) -> int:
        return int(self.labels.size)

    @cached_property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W); a part with one channel among three-channel parts is repeated to three."""
        c = max(p.shape[1] for p in self.parts)
        return (c, *self.parts[0].shape[2:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def nbytes(self, count: int | None = None) -> int:
        """Decoded bytes of ``count`` images (default: all of them)."""
        return (len(self) if count is None else count) * int(np.prod(self.image_shape))

    @cached_property
    def _starts(self) -> list[int]:
        """Index of each part's first image, and the total."""
        return np.cumsum([0] + [len(p) for p in self.parts]).tolist()

    def _locate(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        starts = np.asarray(self._starts)
        if index.size and (index.min() < 0 or index.max() >= len(self)):
            raise IndexError(f"image index out of range [0, {len(self)})")
        part = np.searchsorted(starts, index, side="right") - 1
        return part, index - starts[part]

    def read(self, i: int) -> torch.Tensor:
        """Image ``i`` as a uint8 (C, H, W) tensor."""
        if not 0 <= i < len(self):
            raise IndexError(f"image index {i} out of range [0, {len(self)})")
        part = bisect.bisect_right(self._starts, i) - 1  # plain Python: this runs once per sample
        image = self.parts[part].row(i - self._starts[part])
        c = self.image_shape[0]
        return image.expand(c, -1, -1) if image.shape[0] != c else image

    def take(self, indices=None) -> ImageSet:
        """The images at ``indices`` (default: all) as one new in-memory :class:`ImageSet`.

        The tensor is allocated once and every run of consecutive rows is read
        straight into it, so loading holds no second copy of the images.
        """
        index = np.arange(len(self)) if indices is None else np.asarray(indices, dtype=np.int64)
        out = torch.empty((index.size, *self.image_shape), dtype=torch.uint8)
        part, row = self._locate(index)
        # A run: positions whose rows follow each other in the same part.
        breaks = np.flatnonzero((np.diff(row) != 1) | (np.diff(part) != 0)) + 1
        for start, stop in zip(np.r_[0, breaks], np.r_[breaks, index.size], strict=True):
            if stop > start:
                self._read_run(int(part[start]), int(row[start]), out[start:stop])
        files = tuple(self.files[i] for i in index.tolist()) if self.files else ()
        labels = torch.from_numpy(self.labels[index])
        return ImageSet(out, labels, self.classes, files, dict(self.notes))

    def _read_run(self, part: int, row: int, out: torch.Tensor) -> None:
        rows = self.parts[part]
        if rows.shape[1] == out.shape[1]:
            rows.read_into(row, out)
            return
        step = max(1, _CHUNK_BYTES // rows.row_bytes)
        for start in range(0, out.shape[0], step):
            chunk = out[start : start + step]
            gray = torch.empty((chunk.shape[0], *rows.shape[1:]), dtype=torch.uint8)
            rows.read_into(row + start, gray)
            chunk.copy_(gray.expand_as(chunk))


# Seconds before the decoding bar appears: none for a folder decoded at once, so that a bad
# image in a small folder leaves its one error line alone on stderr.
BAR_DELAY = 1.0


def memory_store(images: torch.Tensor, labels, classes, files=(), notes=None) -> ImageStore:
    """A store over images already in memory (any strides, e.g. an NHWC array permuted)."""
    rows = Rows(tuple(images.shape), array=images)
    return ImageStore((rows,), np.asarray(labels, dtype=np.int64), tuple(classes), tuple(files),
                      notes or {})  # fmt: skip


def folder_store(
    split_dir: Path,
    classes: list[str],
    image_size: int | None,
    skip_bad: bool,
    *,
    workers: int = 0,
    progress: bool | None = None,
) -> ImageStore:
    """The classes' folders under ``split_dir``, decoded once (cached) and read on demand.

    ``progress``: show a bar while decoding (None: only on a terminal).
    """
    listed = []
    for name in classes:
        class_dir = split_dir / name
        if not class_dir.is_dir():
            raise DataError(f"class folder not found: {class_dir}")
        listed.append(list_class(class_dir, image_size, skip_bad))
    to_decode = sum(len(f.images) for f in listed if f.cached is None)
    # tqdm's disable=None: a bar on a terminal only.
    disable = True if progress is False or not to_decode else (None if progress is None else False)
    bar = tqdm(
        total=to_decode, desc=f"decoding {split_dir.name}", unit="img", leave=False,
        dynamic_ncols=True, disable=disable, delay=BAR_DELAY,
    )  # fmt: skip
    with bar:
        parts = [decode_class(f, image_size, skip_bad, workers=workers, bar=bar) for f in listed]
    _check_sizes(listed, parts)
    notes = {"skipped_bad_images": 0, "ignored_non_images": 0, "converted_modes": {}}
    labels, files = [], []
    for label, (folder, rows) in enumerate(zip(listed, parts, strict=True)):
        labels.append(np.full(len(rows), label, dtype=np.int64))
        files.extend(str(folder.path / n) for n in rows.names)
        notes["skipped_bad_images"] += rows.notes["skipped"]
        notes["ignored_non_images"] += rows.notes["ignored"]
        for mode, n in rows.notes["converted"].items():
            notes["converted_modes"][mode] = notes["converted_modes"].get(mode, 0) + n
    channels = max(r.shape[1] for r in parts)
    gray = sum(len(r) for r in parts if r.shape[1] < channels)
    if gray:  # whole gray classes beside colour ones are repeated to three channels
        notes["converted_modes"]["L"] = notes["converted_modes"].get("L", 0) + gray
    return ImageStore(tuple(parts), np.concatenate(labels), tuple(classes), tuple(files), notes)


def _check_sizes(listed, parts) -> None:
    ref_folder, ref = listed[0], parts[0]
    for folder, rows in zip(listed, parts, strict=True):
        if rows.shape[2:] != ref.shape[2:]:
            raise DataError(
                f"mixed image sizes: {folder.path / rows.names[0]} is {rows.shape[3]}x{rows.shape[2]}, "
                f"but {ref_folder.path / ref.names[0]} is {ref.shape[3]}x{ref.shape[2]}; "
                "pass --image-size N to resize every image to NxN"
            )
