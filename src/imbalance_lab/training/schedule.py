"""Learning rate as a pure function of training progress (nanoGPT's get_lr habit).

Being a function of (epoch, batch) alone, it needs no state in a checkpoint: a
resumed run gets exactly the rates an uninterrupted one would.
"""

from __future__ import annotations

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
