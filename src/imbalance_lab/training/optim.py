"""Optimisers by name: ``--optimizer adam|sgd``, each with its own settings."""

from __future__ import annotations

import torch

from imbalance_lab.params import Param, number
from imbalance_lab.registry import Registry

# factory(parameters, *, lr, weight_decay, **own settings) -> torch.optim.Optimizer
OPTIMIZERS = Registry("optimiser")
MOMENTUM = Param(
    "momentum", 0.9, "SGD momentum (no Nesterov)", "optimisation",
    parse=number(min=0, below=1), example="0.8",
)  # fmt: skip


@OPTIMIZERS.register("adam", "Adam (Kingma & Ba 2015); weight decay as an L2 term")
def adam(parameters, *, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)


@OPTIMIZERS.register("sgd", "SGD with momentum; weight decay as an L2 term", params=(MOMENTUM,))
def sgd(parameters, *, lr: float, weight_decay: float, momentum: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=weight_decay)


def create_optimizer(cfg, parameters) -> torch.optim.Optimizer:
    """The optimiser ``cfg.optimizer`` with the settings its entry declares, read from ``cfg``."""
    entry = OPTIMIZERS.entry(cfg.optimizer)
    own = {p.name: getattr(cfg, p.name) for p in entry.params}
    return entry.obj(parameters, lr=cfg.lr, weight_decay=cfg.weight_decay, **own)
