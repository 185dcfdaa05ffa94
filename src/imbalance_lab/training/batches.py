"""The training batches of one epoch: from a uint8 tensor in memory, or through a DataLoader.

In memory, at batched sizes (up to 32 px), a batch is an index into the uint8 tensor,
and its augmentation is one batched pass drawn from the run's generator (the airbench
way; no per-image Python). Otherwise (a split streamed from the decoded cache, or
images above 32 px, which get a random resized crop each) DataLoader workers read and
transform the images. Each sample's crop is seeded by (run seed, epoch, position), and
the batched extras (crop+flip at 32 px, jitter, cutout) by (run seed, epoch, batch), so a
resumed run, or one with another number of workers, sees the same batches.

With DDP (torchrun), the run's generator draws the same epoch order on every rank and
each rank trains on its part of every global batch: every world-th image from its rank
on. Together the ranks see exactly the single-process epoch; ``--batch-size`` stays the
global batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from imbalance_lab.data.imageset import ImageSet
from imbalance_lab.data.streaming import ImageDataset, epoch_keys, make_loader
from imbalance_lab.data.transforms import per_image_augment, train_transform
from imbalance_lab.strategies.augment import AugmentConfig, augment_batch


def epoch_batches(
    s, order: torch.Tensor, copies: torch.Tensor, epoch: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(uint8 images, labels, indices into the training set) of this rank's part of each
    batch, in the epoch's ``order``."""
    train, size = s.task.train, s.task.train.image_shape[1]
    if isinstance(train, ImageSet) and not per_image_augment(size):
        yield from _from_memory(s, train, order, copies)
    else:
        yield from _through_loader(s, train, order, copies, epoch)


def _from_memory(s, train: ImageSet, order, copies):
    batch_size, world, rank = s.cfg.batch_size, s.dist.world_size, s.dist.rank
    for b in range(s.plan.batches):
        batch = slice(b * batch_size, (b + 1) * batch_size)
        idx = order[batch]
        images = train.images[idx]
        mask = s.plan.augment_mask(copies[batch])
        if mask is not None and mask.any():
            images = augment_batch(images, s.plan.augment, s.gen, mask)
        labels = train.labels[idx]
        if world > 1:  # the whole batch is augmented on every rank, so all draw alike
            images, labels, idx = images[rank::world], labels[rank::world], idx[rank::world]
        yield images, labels, idx


def _through_loader(s, train, order, copies, epoch: int):
    cfg, world, rank = s.cfg, s.dist.world_size, s.dist.rank
    size = train.image_shape[1]
    data = train if isinstance(train, ImageDataset) else ImageDataset.from_image_set(train)
    mask = s.plan.augment_mask(copies)
    per_image = s.plan.augment is not None and per_image_augment(size)
    data = data.with_transform(train_transform(size) if per_image else None)
    keys = epoch_keys(order.numpy(), cfg.seed, epoch, augment=mask)
    parts = [keys[b * cfg.batch_size : (b + 1) * cfg.batch_size][rank::world]
             for b in range(s.plan.batches)]  # fmt: skip
    loader = make_loader(data, batches=parts, workers=cfg.loader_workers, device=s.device)
    batched = _batched_extras(s.plan.augment, per_image)
    for b, (images, labels) in enumerate(loader):
        if batched is not None and mask is not None:
            part_mask = mask[b * cfg.batch_size : (b + 1) * cfg.batch_size][rank::world]
            if part_mask.any():
                images = augment_batch(images, batched, _batch_generator(cfg.seed, epoch, b),
                                       part_mask)  # fmt: skip
        yield images, labels, torch.tensor([i for i, _ in parts[b]], dtype=torch.long)


def _batched_extras(augment: AugmentConfig | None, per_image: bool) -> AugmentConfig | None:
    """What is still done batch-wise after loading: everything at batched sizes; above
    them, only colour jitter and cutout (the crop and flip were per image)."""
    if augment is None or not per_image:
        return augment
    if augment.jitter == 0 and augment.cutout == 0:
        return None
    return AugmentConfig(crop_pad=0, flip=False, jitter=augment.jitter, cutout=augment.cutout)


def _batch_generator(seed: int, epoch: int, batch: int) -> torch.Generator:
    state = np.random.SeedSequence([seed, epoch, batch]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))
