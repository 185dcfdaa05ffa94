"""Learning rate as a pure function of training progress (nanoGPT's get_lr habit).

Being a function of (epoch, batch) alone, it needs no state in a checkpoint: a
resumed run gets exactly the rates an uninterrupted one would.
"""

from __future__ import annotations

import math

from imbalance_lab.config import RunConfig


def lr_at(cfg: RunConfig, epoch: int, batch: int, batches_per_epoch: int) -> float:
    """Base lr, linear warm-up over ``warmup_epochs``, then step factors (or a linear decay)."""
    progress = epoch + batch / batches_per_epoch  # in epochs
    if cfg.warmup_epochs > 0 and progress < cfg.warmup_epochs:
        return cfg.lr * (progress + 1.0 / batches_per_epoch) / cfg.warmup_epochs
    if cfg.lr_decay == "linear":
        # Linear decay to zero suits a fixed budget best of the schedules compared by
        # Li, Yumer & Ramanan 2020, "Budgeted Training" (ICLR).
        start = min(cfg.warmup_epochs, cfg.epochs)
        return cfg.lr * max(0.0, 1.0 - (progress - start) / max(cfg.epochs - start, 1e-9))
    factor = 1.0
    for fraction, step_factor in sorted(cfg.lr_steps):
        if epoch >= round(fraction * cfg.epochs):
            factor = step_factor
    return cfg.lr * factor


def cosine_lr(
    base_lr: float,
    epoch: int,
    batch: int,
    batches_per_epoch: int,
    epochs: int,
    warmup_epochs: float = 0.0,
    final_lr: float = 0.0,
    per_epoch: bool = False,
) -> float:
    """Linear warm-up (the same ramp as :func:`lr_at`), then half a cosine from
    ``base_lr`` down to ``final_lr`` at the end of training: Loshchilov & Hutter 2017,
    "SGDR: Stochastic Gradient Descent with Warm Restarts", eq. 5 without restarts,
    lr = final + (base - final) (1 + cos(pi T_cur / T)) / 2.

    ``per_epoch=True`` holds the rate for a whole epoch, as torch's CosineAnnealingLR
    stepped once per epoch does (GLMC's CIFAR schedule); the default updates it every batch.
    """
    progress = epoch + batch / batches_per_epoch  # in epochs
    if warmup_epochs > 0 and progress < warmup_epochs:
        return base_lr * (progress + 1.0 / batches_per_epoch) / warmup_epochs
    if per_epoch:
        progress = float(epoch)
    start = min(warmup_epochs, epochs)
    done = min(max((progress - start) / max(epochs - start, 1e-9), 0.0), 1.0)
    return final_lr + (base_lr - final_lr) * 0.5 * (1.0 + math.cos(math.pi * done))
