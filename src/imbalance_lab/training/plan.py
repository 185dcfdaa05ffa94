"""What the trainer feeds the model each epoch: indices, upsampled copies, augmentation, loss.

Everything here acts on the training split only, after every split was made:
resampling never moves an image across splits.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from imbalance_lab.data.imageset import ImageSet
from imbalance_lab.strategies.augment import AUGMENT_MODES, AugmentConfig
from imbalance_lab.strategies.autoaugment import AUTO_AUGMENTS
from imbalance_lab.strategies.class_weights import WEIGHT_SCHEMES, class_weight_scheme
from imbalance_lab.strategies.losses import LOSSES, create_loss
from imbalance_lab.strategies.mix import MIXES
from imbalance_lab.strategies.samplers import SAMPLERS


class EpochPlan:
    """The order of training indices for an epoch, and which of them are upsampled copies."""

    def __init__(self, cfg, labels: torch.Tensor):
        n = labels.numel()
        self.batch_size = cfg.batch_size
        self.weighted = None
        self.base = torch.arange(n)
        self.copies = torch.zeros(n, dtype=torch.bool)
        if cfg.sampler == "weighted-sampler":
            self.weighted = SAMPLERS.get("weighted-sampler")(random_state=cfg.run_seed).fit(
                labels.numpy()
            )
        elif cfg.sampler is not None:
            sampler = SAMPLERS.get(cfg.sampler)(sampling_strategy="auto", random_state=cfg.run_seed)
            self.base = torch.from_numpy(sampler.fit_resample(labels.numpy()))
            mask = getattr(sampler, "repeated_mask_", None)
            self.copies = (
                torch.from_numpy(mask)
                if mask is not None
                else torch.zeros(len(self.base), dtype=torch.bool)
            )
        self.which = AUGMENT_MODES.get(cfg.augment)  # copies mask -> images to augment
        self.augment = None
        if cfg.augment != "none":
            self.augment = AugmentConfig(
                crop_pad=4, pad_mode=cfg.pad_mode, flip=True, jitter=cfg.jitter, cutout=cfg.cutout
            )
        # A step that augments its own views (GLMC) gets the crop settings, the batches none.
        self.step_augment = None
        if cfg.step != "standard":
            self.step_augment, self.augment = self.augment, None
            self.which = AUGMENT_MODES.get("none")
        # An automatic policy after the crop and flip, and a mix of each batch with itself.
        self.policy = None
        if cfg.auto_augment is not None:
            self.policy = AUTO_AUGMENTS.get(cfg.auto_augment)(
                **_settings(AUTO_AUGMENTS, cfg.auto_augment, cfg)
            )
        self.mix = None
        if cfg.mix is not None:
            mix, settings = MIXES.get(cfg.mix), _settings(MIXES, cfg.mix, cfg)
            self.mix = lambda images, labels, classes, gen: mix(
                images, labels, classes, gen, alpha=settings["mix_alpha"]
            )

    def __len__(self) -> int:
        return len(self.base) if self.weighted is None else self.weighted.num_samples_

    @property
    def batches(self) -> int:
        """Optimiser steps per epoch (the last batch may be smaller)."""
        return -(-len(self) // self.batch_size)

    def epoch(self, epoch: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(indices into the training set, mask of upsampled copies) in this epoch's order."""
        if self.weighted is not None:
            # A fresh class-balanced draw every epoch, a pure function of (seed, epoch).
            idx = torch.from_numpy(self.weighted.sample(epoch))
            return idx, torch.zeros(len(idx), dtype=torch.bool)
        perm = torch.randperm(len(self.base), generator=gen)
        return self.base[perm], self.copies[perm]

    def augment_mask(self, copies: torch.Tensor) -> torch.Tensor | None:
        """Which images of a batch to augment (None: none)."""
        return self.which(copies)

    def policy_mask(self, copies: torch.Tensor) -> torch.Tensor:
        """Which images the automatic policy transforms: those augmented, or all of them."""
        mask = self.which(copies)
        return torch.ones_like(copies) if mask is None else mask


def _settings(registry, name: str, cfg) -> dict:
    """The run's values of the settings that the entry ``name`` of ``registry`` declares."""
    return {p.name: getattr(cfg, p.name) for p in registry.entry(name).params}


def class_weights_for(cfg, counts: list[int]) -> tuple[float, ...] | None:
    if cfg.class_weights is not None:
        weights = cfg.class_weights
    elif cfg.weight_scheme is not None:
        settings = _settings(WEIGHT_SCHEMES, cfg.weight_scheme, cfg)
        weights = class_weight_scheme(cfg.weight_scheme, counts, **settings)
    else:
        return None
    if cfg.normalize_weights:
        total = sum(weights)
        weights = tuple(w / total for w in weights)
    return tuple(weights)


def build_loss(cfg, train: ImageSet) -> nn.Module:
    """The run's loss for its training counts, with the settings the loss declares."""
    counts = class_counts(train.labels, train.num_classes)
    return create_loss(cfg.loss, class_counts=counts, class_weights=class_weights_for(cfg, counts),
                       epochs=cfg.epochs, **_settings(LOSSES, cfg.loss, cfg))  # fmt: skip


def class_counts(labels: torch.Tensor, num_classes: int) -> list[int]:
    return np.bincount(labels.numpy(), minlength=num_classes).tolist()
