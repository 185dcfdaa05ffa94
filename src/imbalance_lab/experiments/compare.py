"""``compare``: every strategy with the same model, budget and seeds, ranked by an objective.

The operating point of every run is chosen on its calibration data (a stratified
split carved from the training data, or with ``--calibration cv:K`` the out-of-fold
scores of K fold models); strategies are ranked by the objective on those same
scores. The test split is only reported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imbalance_lab.config import RunConfig
from imbalance_lab.errors import ConfigError
from imbalance_lab.experiments.runner import PlannedRun, claim_study, run_all
from imbalance_lab.io import atomic_write_json
from imbalance_lab.rundir import RANKING, RunFolder
from imbalance_lab.strategies.registry import STRATEGIES, Strategy

# compare's own defaults, and why they differ from a single run's (shown in --help).
DEFAULTS = {
    "val": (0.2, "compare chooses each run's operating point, and ranks the strategies, on a "
                 "calibration split carved from the training data, never on test"),
    "objective": ("max-f1", "compare ranks the strategies by an objective"),
}  # fmt: skip

# The strategy settings: each strategy starts from these, then sets its own; the rest of
# the base config (model, budget, augmentation, schedule, seeds) is the same for all.
STRATEGY_RESET = dict(sampler=None, weight_scheme=None, class_weights=None, loss="weighted-ce")


def plan_compare(base: RunConfig, strategies: list[Strategy], seeds: int) -> list[PlannedRun]:
    if (base.val_fraction is None and base.folds is None) or base.objective is None:
        raise ConfigError(
            "compare chooses operating points on calibration data and ranks by an objective; "
            "pass --val 0.2 (not test) or --calibration cv:5, and --objective"
        )
    runs = []
    for strategy in strategies:
        changes = {**STRATEGY_RESET, **strategy.changes}
        if base.augment == "all":
            changes.pop("augment", None)  # every image is augmented already
        for seed in range(base.seed, base.seed + seeds):
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
    runs = plan_compare(base, strategies, seeds)  # refuses a base it cannot compare on
    study = {
        "study": "compare",
        "base": base.identity(),
        "strategies": [s.name for s in strategies],
        "seeds": list(range(base.seed, base.seed + seeds)),
    }
    study = claim_study(out, study, same=("base",), merge=("strategies", "seeds"), force=force)
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
    objective = base.objective
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
