"""``compare``: every strategy with the same model, budget and seeds, ranked by an objective.

The operating point of every run is chosen on its calibration split (a stratified
split carved from the training data); strategies are ranked by the objective on
that split too. The test split is only reported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imbalance_lab.config import RunConfig
from imbalance_lab.errors import ConfigError
from imbalance_lab.evaluation.objectives import parse_objective
from imbalance_lab.experiments.runner import PlannedRun, claim_study, run_all
from imbalance_lab.io import atomic_write_json
from imbalance_lab.rundir import RANKING, RunFolder
from imbalance_lab.strategies.registry import STRATEGIES, Strategy, parse_strategies


def _lt_recipe(epochs: int) -> dict:
    # CIFAR-10-LT recipe of Cao et al. 2019 (LDAM-DRW): 200 epochs, SGD lr 0.1, momentum
    # 0.9, weight decay 2e-4, batch 128, 5 warm-up epochs, lr x0.01 at epoch 160 and
    # x0.0001 at 180, crop+flip, DRW from epoch 160. Shortened proportionally to `epochs`.
    return dict(
        optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=2e-4, batch_size=128,
        warmup_epochs=5 * epochs / 200, lr_steps=((0.8, 0.01), (0.9, 0.0001)), augment="all",
    )  # fmt: skip


PRESETS = {
    "article": {
        "summary": "the article's task: cats vs dogs 4:1, its ConvNet, 10 epochs, 3 seeds, recall>=0.9",
        "config": dict(classes=("cat", "dog"), ratio="4", model="article-convnet", epochs=10, val="0.2"),
        "seeds": 3, "strategies": "all", "objective": "recall>=0.9",
    },
    "cifar10-lt": {
        "summary": "CIFAR-10-LT: imbalance factor 100, ResNet-32, the LDAM-DRW recipe, balanced accuracy",
        "config": dict(long_tail=100.0, model="resnet32", epochs=200, val="0.1"),
        "seeds": 1, "strategies": "all", "objective": "balanced-accuracy", "recipe": _lt_recipe,
    },
}  # fmt: skip


def preset_names() -> list[str]:
    return list(PRESETS)


def resolve_compare(
    preset: str | None, overrides: dict
) -> tuple[RunConfig, list[Strategy], int, str]:
    """(base config, strategies, seed count, objective) from a preset and explicit flags."""
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose from: {', '.join(PRESETS)}")
    spec = PRESETS.get(
        preset, {"config": {}, "seeds": 3, "strategies": "all", "objective": "max-f1"}
    )
    flags = {k: v for k, v in overrides.items() if k not in ("seeds", "strategies", "objective")}
    epochs = flags.get("epochs", spec["config"].get("epochs", 10))
    recipe = spec["recipe"](epochs) if "recipe" in spec else {}
    values = {**spec["config"], **recipe, **flags}
    objective = overrides.get("objective") or spec["objective"]
    values["objective"] = objective
    values.setdefault("val", "0.2")
    if values.get("val") == "test":
        raise ConfigError(
            "compare chooses operating points on a calibration split; pass --val 0.2, not test"
        )
    if not values.get("data"):
        raise ConfigError("--data is required")
    base = RunConfig.from_dict(values, source="compare")
    strategies = parse_strategies(overrides.get("strategies") or spec["strategies"])
    return base, strategies, int(overrides.get("seeds") or spec["seeds"]), objective


def plan_compare(base: RunConfig, strategies: list[Strategy], seeds: int) -> list[PlannedRun]:
    runs = []
    for strategy in strategies:
        changes = dict(strategy.changes)
        if base.augment == "all":
            changes.pop("augment", None)  # every image is augmented already
        for seed in range(seeds):
            runs.append(
                PlannedRun(f"{strategy.name}/seed-{seed}", base.replace(**changes, seed=seed))
            )
    return runs


def run_compare(
    base: RunConfig, strategies: list[Strategy], seeds: int, out: str | Path, *,
    workers: int = 1, progress: bool = True, force: bool = False, echo=print,
) -> dict:  # fmt: skip
    from imbalance_lab.reports.compare import write_compare_report

    out = Path(out)
    study = {
        "study": "compare",
        "base": base.identity(),
        "strategies": [s.name for s in strategies],
        "seeds": list(range(seeds)),
    }
    study = claim_study(out, study, same=("base",), merge=("strategies", "seeds"), force=force)
    runs = plan_compare(base, strategies, seeds)
    atomic_write_json(
        out / "config.json",
        {"base": base.to_dict(), "strategies": study["strategies"], "seeds": study["seeds"]},
    )
    run_all(runs, out, workers=workers, progress=progress, echo=echo, force=force)
    write_ranking(out, base, study)
    return write_compare_report(out)


def write_ranking(out: Path, base: RunConfig, study: dict) -> None:
    """compare.json: the strategies with a finished run, best first by the objective on the
    calibration split (mean over seeds); the test split plays no part."""
    objective = parse_objective(base.objective)
    ranked = []
    for name in study["strategies"]:
        results = {
            f"{name}/seed-{seed}": result
            for seed in study["seeds"]
            if (result := RunFolder(out / name / f"seed-{seed}").result()) is not None
        }
        if not results:
            continue
        points = [r["final"]["operating_point"]["calibration"] for r in results.values()]
        strategy = STRATEGIES.get(name)
        ranked.append(
            {
                "name": name,
                "summary": strategy.summary,
                "changes": strategy.changes,
                "score": float(np.mean([objective.score(p) for p in points])),
                "runs": list(results),
            }
        )
    ranked.sort(key=lambda entry: -entry["score"])
    ranking = {"objective": str(objective), "target_metric": objective.target_metric}
    atomic_write_json(out / RANKING, {**ranking, "strategies": ranked})
