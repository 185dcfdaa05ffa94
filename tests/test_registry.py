"""One contract over every entry of every registry.

Each registry kind has a check that exercises an entry for real (a loss computes a
finite loss with a gradient, a model maps images to logits, a strategy trains one
epoch...). A registry without a check fails the first test, so a new registry cannot
slip past the contract.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import imbalance_lab.cli  # noqa: F401  (imports every registry)
from imbalance_lab.config import RunConfig, params_by_name, resolve_config
from imbalance_lab.data.task import build_task
from imbalance_lab.evaluation.objectives import parse_objective
from imbalance_lab.evaluation.thresholds import choose_operating_point
from imbalance_lab.experiments.presets import PRESETS, preset_values
from imbalance_lab.models.registry import create_model
from imbalance_lab.registry import Registry
from imbalance_lab.strategies.augment import AugmentConfig, augment_batch
from imbalance_lab.strategies.class_weights import class_weight_scheme
from imbalance_lab.strategies.losses import create_loss
from imbalance_lab.training.optim import create_optimizer
from imbalance_lab.training.schedule import lr_at
from imbalance_lab.training.trainer import fit

COUNTS = [30, 10]


def check_model(name, obj, tiny_folder):
    model = create_model(name, num_classes=3, in_channels=3, image_size=32)
    out = model(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 3) and torch.isfinite(out).all()


def check_loss(name, obj, tiny_folder):
    own = {p.name: p.default for p in obj_params("loss", name)}
    loss_fn = create_loss(name, class_counts=COUNTS, epochs=10, **own)
    logits = torch.randn(8, 2, requires_grad=True)
    loss = loss_fn(logits, torch.tensor([0, 1] * 4))
    loss.backward()
    assert torch.isfinite(loss) and logits.grad.abs().sum() > 0


def check_sampler(name, obj, tiny_folder):
    labels = np.array([0] * 30 + [1] * 10)
    sampler = obj(random_state=0)
    idx = sampler.fit_resample(labels)
    counts = np.bincount(labels[idx], minlength=2)
    assert idx.min() >= 0 and idx.max() < labels.size
    assert counts.max() / counts.min() < 3  # far more balanced than 3:1


def check_weight_scheme(name, obj, tiny_folder):
    weights = class_weight_scheme(name, COUNTS)
    assert len(weights) == 2 and weights[1] > weights[0] > 0  # the rare class weighs more


def check_strategy(name, obj, tiny_folder):
    from imbalance_lab.experiments.compare import STRATEGY_RESET

    base = RunConfig(data=str(tiny_folder), classes=("cat", "dog"), counts="40,10", val=0.2,
                     epochs=1, objective="max-f1", threads=1)  # fmt: skip
    cfg = base.replace(**{**STRATEGY_RESET, **obj.changes})
    result = fit(cfg, build_task(cfg), progress=False, warn=lambda *_: None)
    assert math.isfinite(result.final["train"]["loss"]) and "test_at_point" in result.final


def check_tta(name, obj, tiny_folder):
    x = torch.rand(2, 3, 8, 8)
    views = obj(x)
    assert views[0] is x and all(v.shape == x.shape for v in views)


def check_optimizer(name, obj, tiny_folder):
    weight = torch.nn.Parameter(torch.ones(3))
    cfg = RunConfig(optimizer=name, lr=0.1)
    optimizer = create_optimizer(cfg, [weight])
    weight.sum().backward()
    optimizer.step()
    assert (weight < 1).all()


def check_schedule(name, obj, tiny_folder):
    cfg = RunConfig(lr_decay=name, lr=0.1, epochs=4, warmup_epochs=1)
    rates = [lr_at(cfg, e, b, 5) for e in range(4) for b in range(5)]
    assert all(0 <= r <= 0.1 + 1e-12 for r in rates) and max(rates) == pytest.approx(0.1)


def check_augmentation(name, obj, tiny_folder):
    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    mask = obj(torch.tensor([True, False, True, False]))
    out = augment_batch(images, AugmentConfig(), torch.Generator().manual_seed(0), mask)
    assert out.shape == images.shape and out.dtype == torch.uint8


def check_sink(name, obj, tiny_folder):
    # The hooks the trainer calls, and the extra that installs it (exercised against the real
    # TensorBoard reader and MLflow client in tests/training/test_tracking.py).
    assert all(callable(getattr(obj, hook)) for hook in ("on_epoch", "on_finish", "close"))
    assert obj.module and obj.extra


def check_mix(name, obj, tiny_folder):
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    mixed = obj(images, torch.tensor([0, 1, 2, 0, 1, 2]), 3, torch.Generator().manual_seed(0))
    assert mixed.images.shape == images.shape and mixed.images.dtype == torch.uint8
    assert torch.allclose(mixed.target.sum(dim=1), torch.ones(6)) and 0 <= mixed.lam <= 1


def check_auto_augment(name, obj, tiny_folder):
    from imbalance_lab.strategies.autoaugment import auto_augment_batch

    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    out = auto_augment_batch(images, obj(), torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == torch.uint8


def check_step(name, obj, tiny_folder):
    if name == "standard":
        assert obj is None  # the trainer's own step
        return
    model = create_model("glmc-resnet32", num_classes=3)
    step = obj([30, 10, 5], prepare=lambda images: images.float() / 255)
    images = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    loss = step(model, images, torch.tensor([0, 1, 2] * 2), torch.Generator().manual_seed(0), 0.5)
    loss.backward()
    assert torch.isfinite(loss) and step.outputs.shape == (6, 3)


def check_threshold_rule(name, obj, tiny_folder):
    # Asked of n calibration positives, the rule's recall lies between R and 1 once n is
    # enough, and the chooser then meets it there.
    needed = obj.needed(0.9, 0.05)
    assert isinstance(needed, int) and needed >= 9  # R/(1-R): the least any rule needs
    asked = obj.ask(0.9, 200, 0.05)
    assert 0.9 < asked <= 1.0
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(300, int), np.ones(200, int)]
    p = 1 / (1 + np.exp(-(rng.normal(size=500) + 2 * labels)))
    point = choose_operating_point(labels, np.c_[1 - p, p], parse_objective("recall>=0.9"),
                                   rule=name, delta=0.05)  # fmt: skip
    assert point.met and point.calibration["recall"] >= asked - 1e-12


def check_preset(name, obj, tiny_folder):
    cfg = resolve_config(preset=lambda given: preset_values(name, given), flags={"data": "x"})
    assert cfg.objective is not None and cfg.val != "test"  # a preset is comparable
    assert obj.seeds >= 1


CONTRACTS = {
    "model": check_model,
    "loss": check_loss,
    "sampler": check_sampler,
    "weight scheme": check_weight_scheme,
    "strategy": check_strategy,
    "TTA mode": check_tta,
    "optimiser": check_optimizer,
    "lr schedule": check_schedule,
    "augmentation": check_augmentation,
    "batch mix": check_mix,
    "automatic augmentation": check_auto_augment,
    "training step": check_step,
    "preset": check_preset,
    "threshold rule": check_threshold_rule,
    "log sink": check_sink,
}


def obj_params(kind: str, name: str):
    registry = next(r for r in Registry.every if r.kind == kind)
    return registry.entry(name).params


def test_every_registry_has_a_contract_and_one_line_summaries():
    assert PRESETS in Registry.every
    for registry in Registry.every:
        assert registry.kind in CONTRACTS, f"no contract for the {registry.kind} registry"
        for entry in registry.entries():
            assert entry.summary and "\n" not in entry.summary and len(entry.summary) < 120
            for p in entry.params:  # a component's settings are run parameters
                assert params_by_name()[p.name] is p


ENTRIES = [(r.kind, e.name, e.obj) for r in Registry.every for e in r.entries()]


@pytest.mark.parametrize("kind, name, obj", ENTRIES, ids=[f"{k}:{n}" for k, n, _ in ENTRIES])
def test_registry_entry_contract(kind, name, obj, tiny_folder):
    CONTRACTS[kind](name, obj, tiny_folder)
