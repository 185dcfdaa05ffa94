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

import json
from pathlib import Path

from imbalance_lab.config import RunConfig
from imbalance_lab.errors import ConfigError
from imbalance_lab.evaluation.metrics import SHOT_SPLITS, shot_accuracy
from imbalance_lab.experiments.compare import STRATEGY_RESET
from imbalance_lab.experiments.runner import PlannedRun, claim_study, run_all
from imbalance_lab.io import atomic_write_json
from imbalance_lab.rundir import BENCHMARK, STUDY, RunFolder
from imbalance_lab.strategies.registry import STRATEGIES, Strategy

PROTOCOL_EPOCHS = 200
SHOT_SPLIT = "cifar10-lt"  # many > 1500, few < 200 training images (evaluation/metrics.py)


def protocol(given: dict) -> dict:
    """The CIFAR-10-LT protocol's settings; the milestones scale with the epochs given."""
    epochs = given.get("epochs", PROTOCOL_EPOCHS)
    settings = dict(
        long_tail=100.0, val="none", model="resnet32", epochs=PROTOCOL_EPOCHS, batch_size=128,
        optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=2e-4,
        warmup_epochs=5 * epochs / PROTOCOL_EPOCHS, lr_steps=((0.8, 0.01), (0.9, 0.0001)),
        augment="all", pad_mode="zeros",
        beta=0.9999,  # Cui et al. 2019's effective-number beta on CIFAR-LT
    )  # fmt: skip
    if given.get("lr_decay", "steps") != "steps":
        del settings["lr_steps"]  # another schedule given: the protocol's steps do not apply
    return settings


# What a method's paper used in this protocol, beyond its strategy's own settings.
METHOD_SETTINGS = {
    "focal": {"gamma": 1.0},  # the focal baseline of Cao et al. 2019's code and Table 2
    # The authors' optimisation (their README and code): SGD lr 0.01, weight decay 5e-3,
    # batch 64, cosine annealing stepped per epoch, no warm-up; at the standard width 16.
    "glmc": {"batch_size": 64, "lr": 0.01, "weight_decay": 5e-3, "lr_decay": "cosine-epochs",
             "lr_steps": (), "warmup_epochs": 0.0},
}  # fmt: skip

# The methods run by default: the rows of docs/long-tail.md.
DEFAULT_METHODS = (
    "baseline", "focal", "cb-focal", "ldam-drw", "balanced-softmax", "logit-adjusted", "glmc",
)  # fmt: skip


def method_config(base: RunConfig, strategy: Strategy, seed: int) -> RunConfig:
    changes = {**STRATEGY_RESET, **strategy.changes, **METHOD_SETTINGS.get(strategy.name, {})}
    return base.replace(**changes, seed=seed)


# Published top-1 (%) on CIFAR-10-LT with ResNet-32, by imbalance factor, with the source.
PUBLISHED = {
    "baseline": {100: 70.36, 10: 86.39, "source": "Cao et al. 2019, Table 2 (ERM: error 29.64 / 13.61)"},
    "focal": {100: 70.38, 10: 86.66, "source": "Cao et al. 2019, Table 2 (Focal: error 29.62 / 13.34)"},
    "cb-focal": {100: 74.57, 10: 87.10,
                 "source": "Cui et al. 2019 via Cao et al. 2019, Table 2 (CB Focal: error 25.43 / 12.90)"},
    "ldam-drw": {100: 77.03, 10: 88.16, "source": "Cao et al. 2019, Table 2 (LDAM-DRW: error 22.97 / 11.84)"},
    "balanced-softmax": {100: 83.1, 10: 90.9,
                         "source": "Ren et al. 2020, Table 5 (mean of 3 runs); not this protocol: "
                                   "13k iterations at batch 512 (about 537 epochs at rho 100)"},
    "logit-adjusted": {100: 77.67,
                       "source": "Menon et al. 2021, Table 3 of arXiv v1 (balanced error 22.33, mean "
                                 "of 5 trials; weight decay 1e-4); no rho 10 figure"},
    "glmc": {100: 87.75, 10: 94.04,
             "source": "Du et al. 2023, the authors' README (88.50 / 94.87 after they fixed "
                       "sampling with replacement); a 4x-wide ResNet-32 (7.4M weights), batch 64"},
}  # fmt: skip


def group_name(base: RunConfig) -> str:
    """The runs of one imbalance factor and schedule: e.g. rho100-e200."""
    return f"rho{base.long_tail:g}-e{base.epochs}"


def plan_benchmark(base: RunConfig, methods: list[Strategy], seeds: int) -> list[PlannedRun]:
    if base.val != "none" or base.long_tail is None:
        raise ConfigError(
            "benchmark follows the published protocol: a long-tail profile (--long-tail) and "
            f"every training image trained on (--val none); got --val {base.val}"
        )
    group = group_name(base)
    return [
        PlannedRun(f"{group}/{m.name}/seed-{seed}", method_config(base, m, seed))
        for m in methods
        for seed in range(base.seed, base.seed + seeds)
    ]


def run_benchmark(
    base: RunConfig, methods: list[Strategy], seeds: int, out: str | Path, *,
    workers: int = 1, progress: bool = True, force: bool = False, echo=print,
) -> dict:  # fmt: skip
    """Train every method and seed not finished yet in ``out`` (a killed run resumes), then
    summarise every group of runs the folder holds into benchmark.json."""
    out = Path(out)
    runs = plan_benchmark(base, methods, seeds)
    study = {"study": "benchmark", "task": "cifar10-lt", "data": base.data,
             "groups": [group_name(base)]}  # fmt: skip
    claim_study(out, study, same=("task", "data"), merge=("groups",), force=force)
    run_all(runs, out, workers=workers, progress=progress, echo=echo, force=force)
    return summarise(out)


def summarise(out: Path) -> dict:
    """benchmark.json: per group and method, top-1 over seeds, shot groups, wall time, machine."""
    study = read_study(out)
    rows = []
    for group in study["groups"]:
        for method_dir in sorted((out / group).iterdir()) if (out / group).is_dir() else []:
            results = [r for r in (RunFolder(d).result() for d in sorted(method_dir.glob("seed-*"))) if r]  # fmt: skip
            if results:
                rows.append(_row(group, method_dir.name, method_dir, results))
    summary = {"task": "cifar10-lt", "protocol": __doc__.split("\n\n")[1], "rows": rows}
    atomic_write_json(out / BENCHMARK, summary)
    return summary


def _row(group: str, method: str, method_dir: Path, results: list[dict]) -> dict:
    cfg = results[0]["config"]
    counts = list(results[0]["data"]["train"].values())
    many, few = SHOT_SPLITS[SHOT_SPLIT]
    shots = [
        shot_accuracy(r["final"]["test"]["per_class_recall"], counts, many, few) for r in results
    ]
    logs = [RunFolder(method_dir / f"seed-{r['config']['seed']}").log() for r in results]
    published = PUBLISHED.get(method, {})
    return {
        "group": group, "method": method, "imbalance": cfg["long_tail"], "epochs": cfg["epochs"],
        "summary": STRATEGIES.get(method).summary if method in STRATEGIES else "",
        "seeds": [r["config"]["seed"] for r in results],
        "top1": [100 * r["final"]["test"]["accuracy"] for r in results],
        "shots": {k: [None if s[k] is None else 100 * s[k] for s in shots]
                  for k in ("many", "medium", "few")},
        "shot_classes": {k: shots[0][f"{k}_classes"] for k in ("many", "medium", "few")},
        "wall_seconds": [sum(log.get("epoch_seconds", [])) for log in logs],
        "machine": results[0].get("machine"),
        "published": published.get(int(cfg["long_tail"])) if cfg["epochs"] == PROTOCOL_EPOCHS else None,
        "source": published.get("source"),
    }  # fmt: skip


def read_study(out: Path) -> dict:
    return json.loads((Path(out) / STUDY).read_text())


def parse_methods(text: str) -> list[Strategy]:
    from imbalance_lab.strategies.registry import parse_strategies

    if text.strip() == "default":
        return [STRATEGIES.get(name) for name in DEFAULT_METHODS]
    return parse_strategies(text)
