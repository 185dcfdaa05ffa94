"""Learning rate as a pure function of training progress (nanoGPT's get_lr habit).

Being a function of (epoch, batch) alone, it needs no state in a checkpoint: a
resumed run gets exactly the rates an uninterrupted one would. A linear warm-up
over ``warmup_epochs`` comes first, whatever the schedule (``lr_decay``) after it.
"""

from __future__ import annotations

import math

from imbalance_lab.errors import ConfigError
from imbalance_lab.params import Param
from imbalance_lab.registry import Registry


def parse_lr_steps(value) -> tuple[tuple[float, float], ...]:
    """``"0.5:0.1,0.75:0.01"`` or ``[[0.5, 0.1], [0.75, 0.01]]`` -> ((0.5, 0.1), (0.75, 0.01))."""
    pairs = (
        [p.split(":") for p in value.split(",") if p.strip()] if isinstance(value, str) else value
    )
    try:
        steps = tuple((float(at), float(factor)) for at, factor in pairs)
    except (TypeError, ValueError):
        raise ConfigError(
            f"must be fraction:factor pairs, e.g. 0.5:0.1,0.75:0.01; got {value!r}"
        ) from None
    for at, factor in steps:
        if not (0 <= at <= 1 and factor >= 0):
            raise ConfigError(f"needs fractions in [0, 1] and factors >= 0; got {value!r}")
    return steps


LR_STEPS = Param(
    "lr_steps", (),
    "the steps of --lr-decay steps: fraction-of-epochs:lr-factor pairs, e.g. 0.5:0.1,0.75:0.01",
    "optimisation", parse=parse_lr_steps, example="0.5:0.1,0.75:0.01", metavar="F:X,F:X",
    dump=lambda steps: [list(s) for s in steps],
)  # fmt: skip

# factor(cfg, epoch, progress in epochs) -> multiplier of cfg.lr after the warm-up
SCHEDULES = Registry("lr schedule")


@SCHEDULES.register(
    "steps", "the lr times the factor of the last lr_steps entry passed", params=(LR_STEPS,)
)
def _steps(cfg, epoch: int, progress: float) -> float:
    factor = 1.0
    for fraction, step_factor in sorted(cfg.lr_steps):
        if epoch >= round(fraction * cfg.epochs):
            factor = step_factor
    return factor


@SCHEDULES.register("linear", "linear decay to zero at the end (Li et al. 2020, Budgeted Training)")
def _linear(cfg, epoch: int, progress: float) -> float:
    # Linear decay to zero suits a fixed budget best of the schedules compared by
    # Li, Yumer & Ramanan 2020, "Budgeted Training" (ICLR).
    start = min(cfg.warmup_epochs, cfg.epochs)
    return max(0.0, 1.0 - (progress - start) / max(cfg.epochs - start, 1e-9))


def _cosine_done(cfg, progress: float) -> float:
    start = min(cfg.warmup_epochs, cfg.epochs)
    return min(max((progress - start) / max(cfg.epochs - start, 1e-9), 0.0), 1.0)


@SCHEDULES.register(
    "cosine", "half a cosine from lr down to 0 at the end (Loshchilov & Hutter 2017, SGDR)"
)
def _cosine(cfg, epoch: int, progress: float) -> float:
    # SGDR's eq. 5 without restarts: (1 + cos(pi T_cur / T)) / 2, updated every batch.
    return 0.5 * (1.0 + math.cos(math.pi * _cosine_done(cfg, progress)))


@SCHEDULES.register(
    "cosine-epochs", "cosine held for whole epochs: CosineAnnealingLR stepped per epoch (GLMC)"
)
def _cosine_epochs(cfg, epoch: int, progress: float) -> float:
    # torch's CosineAnnealingLR(T_max=epochs) stepped once per epoch, GLMC's CIFAR schedule.
    return 0.5 * (1.0 + math.cos(math.pi * _cosine_done(cfg, float(max(epoch, 0)))))


def lr_at(cfg, epoch: int, batch: int, batches_per_epoch: int) -> float:
    """Base lr, linear warm-up over ``warmup_epochs``, then the ``lr_decay`` schedule."""
    progress = epoch + batch / batches_per_epoch  # in epochs
    if cfg.warmup_epochs > 0 and progress < cfg.warmup_epochs:
        return cfg.lr * (progress + 1.0 / batches_per_epoch) / cfg.warmup_epochs
    return cfg.lr * SCHEDULES.get(cfg.lr_decay)(cfg, epoch, progress)
