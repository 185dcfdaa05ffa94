"""The in-memory image container every part of imbalance-lab works on."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass(frozen=True)
class ImageSet:
    """Images held as one uint8 tensor, as airbench does: a subset is an index.

    Keeping pixels as uint8 until the batch is on its way into the model costs a
    quarter of the memory of float32 and makes resampling a free index operation.
    """

    images: torch.Tensor  # uint8, (N, C, H, W)
    labels: torch.Tensor  # int64, (N,), values in [0, len(classes))
    classes: tuple[str, ...]  # class names; index i is label i
    files: tuple[str, ...] = ()  # source file of each image, when known
    notes: dict = field(default_factory=dict, compare=False)  # what loading skipped or converted

    def __post_init__(self):
        assert self.images.dtype == torch.uint8 and self.images.ndim == 4, self.images.shape
        assert self.labels.shape == (self.images.shape[0],)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def subset(self, indices) -> ImageSet:
        """The images at ``indices``: a view sharing this tensor when they are a run of
        consecutive indices, else one copy of just those images."""
        index = np.asarray(indices, dtype=np.int64).reshape(-1)
        files = tuple(self.files[i] for i in index.tolist()) if self.files else ()
        if index.size and np.array_equal(index, np.arange(index[0], index[0] + index.size)):
            part = slice(int(index[0]), int(index[0]) + index.size)
            if index[0] >= 0 and part.stop <= len(self):
                return ImageSet(
                    self.images[part], self.labels[part], self.classes, files, dict(self.notes)
                )
        idx = torch.from_numpy(index)
        return ImageSet(self.images[idx], self.labels[idx], self.classes, files, dict(self.notes))

    def class_counts(self) -> dict[str, int]:
        counts = torch.bincount(self.labels, minlength=self.num_classes).tolist()
        return dict(zip(self.classes, counts, strict=True))
