"""``benchmark cifar10-lt``: long-tail methods under the published CIFAR-10-LT protocol.

The protocol of Cao et al. 2019 (LDAM-DRW), which later papers follow: CIFAR-10's
training split cut to an exponential long tail (imbalance factor 100 or 10: 12,406 or
20,431 images), every one of them trained on (no validation split is carved), ResNet-32,
random crops of the image zero-padded by 4 pixels and horizontal flips, SGD with lr 0.1,
momentum 0.9, weight decay 2e-4, batch 128, 200 epochs with 5 epochs of linear warm-up
and the lr times 0.01 at epoch 160 and 0.0001 at epoch 180; deferred re-weighting from
epoch 160 for the methods that use it. Top-1 accuracy on the balanced 10,000-image test
split is read once, after the final epoch: no epoch is chosen on the test split (many
papers report the best test epoch instead, which flatters them). A shorter schedule
(--epochs) keeps every milestone at the same fraction of the run.

Each method is a strategy of the registry (imbalance-lab strategies) run on that base,
with the settings its paper used in this protocol (METHOD_SETTINGS).
"""

from __future__ import annotations

from pathlib import Path

from imbalance_lab.config import RunConfig
from imbalance_lab.errors import ConfigError
from imbalance_lab.experiments.compare import STRATEGY_RESET
from imbalance_lab.experiments.runner import PlannedRun, claim_study, run_all
from imbalance_lab.strategies.registry import STRATEGIES, Strategy

PROTOCOL_EPOCHS = 200


def protocol(given: dict) -> dict:
    """The CIFAR-10-LT protocol's settings; the milestones scale with the epochs given."""
    epochs = given.get("epochs", PROTOCOL_EPOCHS)
    return dict(
        long_tail=100.0, val="none", model="resnet32", epochs=PROTOCOL_EPOCHS, batch_size=128,
        optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=2e-4,
        warmup_epochs=5 * epochs / PROTOCOL_EPOCHS, lr_steps=((0.8, 0.01), (0.9, 0.0001)),
        augment="all", pad_mode="zeros",
        beta=0.9999,  # Cui et al. 2019's effective-number beta on CIFAR-LT
    )  # fmt: skip


# What a method's paper used in this protocol, beyond its strategy's own settings.
METHOD_SETTINGS = {
    "focal": {"gamma": 1.0},  # the focal baseline of Cao et al. 2019's code and Table 2
}

# The methods run by default: the rows of docs/long-tail.md.
DEFAULT_METHODS = (
    "baseline", "focal", "cb-focal", "ldam-drw", "balanced-softmax", "logit-adjusted",
)  # fmt: skip


def method_config(base: RunConfig, strategy: Strategy, seed: int) -> RunConfig:
    changes = {**STRATEGY_RESET, **strategy.changes, **METHOD_SETTINGS.get(strategy.name, {})}
    return base.replace(**changes, seed=seed)


def plan_benchmark(base: RunConfig, methods: list[Strategy], seeds: int) -> list[PlannedRun]:
    if base.val != "none":
        raise ConfigError(
            "benchmark follows the published protocol: it trains on every training image "
            f"(--val none), got --val {base.val}"
        )
    return [
        PlannedRun(f"{m.name}/seed-{seed}", method_config(base, m, seed))
        for m in methods
        for seed in range(base.seed, base.seed + seeds)
    ]


def run_benchmark(
    base: RunConfig, methods: list[Strategy], seeds: int, out: str | Path, *,
    workers: int = 1, progress: bool = True, force: bool = False, echo=print,
) -> list[PlannedRun]:  # fmt: skip
    """Train every method and seed not finished yet in ``out`` (a killed run resumes)."""
    out = Path(out)
    runs = plan_benchmark(base, methods, seeds)
    study = {
        "study": "benchmark",
        "base": base.identity(),
        "methods": [m.name for m in methods],
        "seeds": list(range(base.seed, base.seed + seeds)),
    }
    claim_study(out, study, same=("base",), merge=("methods", "seeds"), force=force)
    run_all(runs, out, workers=workers, progress=progress, echo=echo, force=force)
    return runs


def parse_methods(text: str) -> list[Strategy]:
    from imbalance_lab.strategies.registry import parse_strategies

    if text.strip() == "default":
        return [STRATEGIES.get(name) for name in DEFAULT_METHODS]
    return parse_strategies(text)
