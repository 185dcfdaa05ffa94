"""The streaming path: a ``torch.utils.data.Dataset`` over a store, and its DataLoader.

One sample is ``(uint8 (C, H, W) tensor, int label)``, read from the decoded
cache when it is asked for, so a split of any size trains with a DataLoader whose
workers share the cache through the page cache. Anything that takes a map-style
dataset takes an :class:`ImageDataset`: a user's own DataLoader, a
``ClassBalancedSampler``, torchvision's transforms.

Augmentation in the workers is reproducible: keys ``(index, seed)`` (see
:func:`epoch_keys`) run a batch's transforms under a seed drawn from (run seed,
epoch, position in the epoch), so the crops do not depend on which worker reads
the batch or on whether the run was resumed; ``(index, None)`` reads the image as
it is. A plain integer key uses torch's global generator, as torchvision datasets do.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from imbalance_lab.data.imageset import ImageSet
from imbalance_lab.data.store import ImageStore, memory_store


class ImageDataset(Dataset):
    """``(image, label)`` for each of ``indices`` (default: all) of ``store``.

    Shares the read-only side of :class:`~imbalance_lab.data.imageset.ImageSet`:
    ``labels`` (a tensor), ``classes``, ``num_classes``, ``image_shape``, ``files``,
    ``class_counts()``, ``subset()``; it has no ``images`` tensor, on purpose.
    """

    def __init__(self, store: ImageStore, indices=None, transform: Callable | None = None):
        self.store = store
        self.indices = np.arange(len(store)) if indices is None else np.asarray(indices, np.int64)
        self.transform = transform
        self.labels = torch.from_numpy(store.labels[self.indices])

    @classmethod
    def from_image_set(cls, data: ImageSet, transform: Callable | None = None) -> ImageDataset:
        """The same images, read one by one from the ImageSet's tensor (no copy)."""
        store = memory_store(data.images, data.labels.numpy(), data.classes, data.files, data.notes)
        return cls(store, transform=transform)

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, key) -> tuple[torch.Tensor, int]:
        return self.__getitems__([key])[0]

    def __getitems__(self, keys: list) -> list[tuple[torch.Tensor, int]]:
        """A batch of samples: what a DataLoader asks a worker for, in one call.

        Keys ``(index, seed)`` run the batch's transforms under the first seed in it
        (one reseeding per batch, not per image), so a batch's augmentation depends
        only on its keys; ``(index, None)`` is read as it is; plain indices use
        torch's global generator.
        """
        pairs = [key if isinstance(key, tuple) else (key, -1) for key in keys]
        seeds = [s for _, s in pairs if s is not None and s >= 0]
        with torch.random.fork_rng(devices=[], enabled=bool(seeds)):
            if seeds:
                torch.manual_seed(seeds[0])
            return [self._sample(int(i), seed is not None) for i, seed in pairs]

    def _sample(self, i: int, augment: bool) -> tuple[torch.Tensor, int]:
        image = self.store.read(int(self.indices[i]))
        if augment and self.transform is not None:
            image = self.transform(image)
        return image, int(self.label_list[i])

    @cached_property
    def label_list(self) -> list[int]:
        return self.labels.tolist()

    @property
    def classes(self) -> tuple[str, ...]:
        return self.store.classes

    @property
    def num_classes(self) -> int:
        return self.store.num_classes

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.store.image_shape

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(self.store.files[i] for i in self.indices.tolist()) if self.store.files else ()

    @property
    def notes(self) -> dict:
        return self.store.notes

    def nbytes(self) -> int:
        return self.store.nbytes(len(self))

    def class_counts(self) -> dict[str, int]:
        counts = torch.bincount(self.labels, minlength=self.num_classes).tolist()
        return dict(zip(self.classes, counts, strict=True))

    def subset(self, indices) -> ImageDataset:
        """A view of some of these images (positions into this dataset); nothing is read."""
        return ImageDataset(self.store, self.indices[np.asarray(indices, np.int64)], self.transform)

    def with_transform(self, transform: Callable | None) -> ImageDataset:
        return ImageDataset(self.store, self.indices, transform)

    def load(self) -> ImageSet:
        """These images in memory, as one tensor (no transform)."""
        return self.store.take(self.indices)


def epoch_keys(
    indices, seed: int, epoch: int, augment: np.ndarray | torch.Tensor | None = None
) -> list[tuple[int, int | None]]:
    """Keys ``(index, sample seed)`` for one epoch's order of ``indices``; None where not ``augment``.

    A sample's seed is a pure function of (seed, epoch, position), so its
    augmentation is the same in a resumed run and whatever the number of workers;
    pass the list as a DataLoader's ``sampler``.
    """
    indices = np.asarray(indices, dtype=np.int64)
    seeds = np.random.default_rng([seed, epoch]).integers(0, 2**62, size=indices.size)
    keep = np.ones(indices.size, bool) if augment is None else np.asarray(augment, dtype=bool)
    return [
        (i, s if a else None)
        for i, s, a in zip(indices.tolist(), seeds.tolist(), keep.tolist(), strict=True)
    ]


def make_loader(
    dataset: Dataset,
    *,
    batch_size: int | None = None,
    sampler=None,
    batches=None,
    workers: int = 0,
    device: torch.device | str = "cpu",
    prefetch: int = 2,
) -> DataLoader:
    """A DataLoader for training or evaluation: workers, pinned memory on CUDA, keys in order.

    ``sampler``: any iterable of keys (a torch Sampler, :func:`epoch_keys`, a list of
    indices) cut into batches of ``batch_size``; or ``batches``: the keys of each batch
    (lists of keys); neither reads the dataset in order (evaluation). Workers start
    afresh each epoch, so they see the dataset as it is then; at the start of each
    epoch they cost a fork, not a copy: the images stay in the page cache.
    """
    device = torch.device(device)
    batching = (
        {"batch_sampler": batches}
        if batches is not None
        else {"batch_size": batch_size, "sampler": sampler, "shuffle": False}
    )
    return DataLoader(
        dataset, **batching, num_workers=workers, pin_memory=device.type == "cuda",
        prefetch_factor=prefetch if workers else None, persistent_workers=False,
    )  # fmt: skip


def eval_batches(data, batch_size: int, *, workers: int = 0, device="cpu"):
    """``(uint8 images, labels)`` batches of ``data`` in order: an ImageSet's slices, or a loader."""
    if isinstance(data, ImageSet):
        for start in range(0, len(data), batch_size):
            yield data.images[start : start + batch_size], data.labels[start : start + batch_size]
        return
    yield from make_loader(
        data.with_transform(None), batch_size=batch_size, workers=workers, device=device
    )
