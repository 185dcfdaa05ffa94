"""Per-image training augmentation for images larger than CIFAR's.

At 32 px and below, the trainer augments whole uint8 batches at once
(:mod:`imbalance_lab.strategies.augment`: shift-crop and flip, no per-image
Python). Above, each image gets a random resized crop and a flip from
``torchvision.transforms.v2`` (Szegedy et al. 2015, "Going deeper with
convolutions": crops of random area and aspect ratio, resized back), run in the
DataLoader's worker processes. Evaluation needs no transform: every image is
already fitted to NxN when decoded (:func:`imbalance_lab.data.decode.fit_square`).
"""

from __future__ import annotations

from collections.abc import Callable

BATCHED_UP_TO = 32  # image sizes up to this are augmented batch-wise by the trainer
# The crops come from the NxN image already fitted at decode time, not from the full
# photo, so the smallest crop is a quarter of its area (half its side, at most 2x
# upsampling) instead of ImageNet's 8 % of a full-resolution photo.
CROP_SCALE = (0.25, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)


def per_image_augment(image_size: int) -> bool:
    """True when images of this size are augmented one by one in the loader."""
    return image_size > BATCHED_UP_TO


def train_transform(image_size: int) -> Callable | None:
    """Random resized crop + horizontal flip on a uint8 (C, N, N) tensor; None at batched sizes."""
    if not per_image_augment(image_size):
        return None
    from torchvision.transforms import v2  # on first use, see decode.fit_square

    return v2.Compose(
        [
            v2.RandomResizedCrop(image_size, scale=CROP_SCALE, ratio=CROP_RATIO, antialias=True),
            v2.RandomHorizontalFlip(),
        ]
    )
