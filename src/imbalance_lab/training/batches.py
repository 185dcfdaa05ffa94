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
from typing import NamedTuple

import numpy as np
import torch

from imbalance_lab.data.imageset import ImageSet
from imbalance_lab.data.streaming import ImageDataset, epoch_keys, make_loader
from imbalance_lab.data.transforms import per_image_augment, train_transform
from imbalance_lab.strategies.augment import AugmentConfig, augment_batch
from imbalance_lab.strategies.autoaugment import auto_augment_batch


class Batch(NamedTuple):
    images: torch.Tensor  # uint8 (N, C, H, W), augmented (and mixed)
    labels: torch.Tensor  # the images' classes (for the training accuracy)
    targets: torch.Tensor  # what the loss is taken against: labels, or mixed (N, C) targets
    indices: torch.Tensor  # positions in the training set


def epoch_batches(s, order: torch.Tensor, copies: torch.Tensor, epoch: int) -> Iterator[Batch]:
    """This rank's part of each batch, in the epoch's ``order``."""
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
        batch_ = _policy_and_mix(s, s.gen, images, train.labels[idx], copies[batch], idx)
        if world > 1:  # the whole batch is drawn on every rank, so all draw alike
            batch_ = Batch(*(part[rank::world] for part in batch_))
        yield batch_


def _through_loader(s, train, order, copies, epoch: int):
    cfg, world, rank = s.cfg, s.dist.world_size, s.dist.rank
    size = train.image_shape[1]
    data = train if isinstance(train, ImageDataset) else ImageDataset.from_image_set(train)
    mask = s.plan.augment_mask(copies)
    per_image = s.plan.augment is not None and per_image_augment(size)
    data = data.with_transform(train_transform(size) if per_image else None)
    keys = epoch_keys(order.numpy(), cfg.run_seed, epoch, augment=mask)
    parts = [keys[b * cfg.batch_size : (b + 1) * cfg.batch_size][rank::world]
             for b in range(s.plan.batches)]  # fmt: skip
    loader = make_loader(data, batches=parts, workers=cfg.loader_workers, device=s.device)
    batched = _batched_extras(s.plan.augment, per_image)
    for b, (images, labels) in enumerate(loader):
        gen = _batch_generator(cfg.run_seed, epoch, b)
        part_copies = copies[b * cfg.batch_size : (b + 1) * cfg.batch_size][rank::world]
        part_mask = None if mask is None else mask[b * cfg.batch_size : (b + 1) * cfg.batch_size][rank::world]  # fmt: skip
        if batched is not None and part_mask is not None and part_mask.any():
            images = augment_batch(images, batched, gen, part_mask)
        idx = torch.tensor([i for i, _ in parts[b]], dtype=torch.long)
        yield _policy_and_mix(s, gen, images, labels, part_copies, idx)


def _policy_and_mix(s, gen, images, labels, copies, idx) -> Batch:
    """The automatic augmentation policy, then the batch mix, when the run asks for them."""
    if s.plan.policy is not None:
        images = auto_augment_batch(images, s.plan.policy, gen, s.plan.policy_mask(copies))
    targets = labels
    if s.plan.mix is not None:
        mixed = s.plan.mix(images, labels, s.task.train.num_classes, gen)
        images, targets = mixed.images, mixed.target
    return Batch(images, labels, targets, idx)


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
