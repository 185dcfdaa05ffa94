"""The sweep's outputs: best setting, trials table, trade-off and history plots, test metrics once."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from imbalance_lab.io import atomic_write_json, atomic_write_text
from imbalance_lab.reports.plots import optimisation_history, tradeoff_curve
from imbalance_lab.reports.tables import csv_text, markdown_table


def write_sweep_report(out: Path, spec) -> dict:
    from optuna.trial import TrialState

    from imbalance_lab.experiments.sweep import _load_study

    study, objective = _load_study(spec)
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    header = ["trial", "state", *sorted({k for t in trials for k in t.params}), "objective (calibration)",
              "precision @point", "recall @point", "threshold", "recall @default", "precision @default", "accuracy @default"]  # fmt: skip
    rows = []
    for t in trials:
        cal = t.user_attrs.get("calibration", {})
        default = t.user_attrs.get("calibration_default", {})
        point = t.user_attrs.get("operating_point", {})
        rows.append(
            [t.number, t.state.name]
            + [f"{t.params[k]:.4g}" if isinstance(t.params.get(k), float) else t.params.get(k, "") for k in header[2 : header.index("objective (calibration)")]]
            + [f"{t.value:.4f}" if t.value is not None else "", _f(cal.get("precision")), _f(cal.get("recall")),
               _f(point.get("value")), _f(default.get("recall")), _f(default.get("precision")), _f(default.get("accuracy"))]
        )  # fmt: skip
    atomic_write_text(out / "trials.csv", csv_text(header, rows))
    plots = []
    if complete and "weight" in complete[0].params:
        points = sorted((t.params["weight"], t.user_attrs["calibration_default"]) for t in complete)
        plots.append(tradeoff_curve(points, out / "plots" / "tradeoff.png"))
    if complete:
        plots.append(optimisation_history(complete, str(objective), out / "plots" / "history.png"))
    best = _best(out, study, complete, spec) if complete else None
    text = [
        "# Sweep\n",
        f"Study `{spec.study_name}`; objective `{objective}` measured on the calibration split "
        f"({spec.base.val} of the training data); {len(complete)} of {spec.trials} trials complete. "
        "The test split was scored once, for the best trial, after the search.\n",
    ]
    if best:
        text.append("## Best setting\n")
        text.append(markdown_table(["what", "value"], [[k, v] for k, v in best["summary"].items()]))
    text.append("\n## Trials\n")
    text.append(markdown_table(header, [[str(c) for c in r] for r in rows]))
    text.append("\nPlots: " + ", ".join(f"[{p.name}]({p.relative_to(out)})" for p in plots) + "\n")
    atomic_write_text(out / "sweep.md", "\n".join(text))
    return {"summary": out / "sweep.md", "csv": out / "trials.csv", "plots": plots, "best": best,
            "complete": len(complete)}  # fmt: skip


def _f(value) -> str:
    return "" if value is None else f"{value:.4f}"


def _best(out: Path, study, complete, spec) -> dict:
    """The best trial, with its test metrics computed once (cached in best.json)."""
    from imbalance_lab.config import RunConfig
    from imbalance_lab.data.task import build_task
    from imbalance_lab.evaluation.thresholds import OperatingPoint
    from imbalance_lab.models.saved import load_saved_model
    from imbalance_lab.training.device import resolve_device
    from imbalance_lab.training.trainer import predict_scores, test_metrics_at

    trial = max(complete, key=lambda t: t.value)
    path = out / "best.json"
    try:
        cached = json.loads(path.read_text())
        if cached.get("trial") == trial.number:
            return cached
    except (OSError, ValueError):
        pass
    run_dir = out / trial.user_attrs["run_dir"]
    if not (run_dir / "result.json").exists():
        # Another machine sharing the study (PostgreSQL) ran it: its model is there.
        summary = {
            "trial": trial.number,
            "parameters": ", ".join(f"{k}={v}" for k, v in trial.params.items()),
            "calibration objective": f"{trial.value:.4f}",
            "operating point": trial.user_attrs.get("operating_point", {}).get("message", ""),
            "test metrics": f"not computed here: {trial.user_attrs['run_dir']} is on the machine that ran the trial",
        }
        return {"trial": trial.number, "params": trial.params, "summary": summary}
    result = json.loads((run_dir / "result.json").read_text())
    cfg = RunConfig.from_dict(result["config"])
    task = build_task(cfg)
    model, meta = load_saved_model(run_dir / "model.pt")
    scores = predict_scores(model, task.test, resolve_device("cpu"), False, cfg.tta).numpy()
    op = result["final"]["operating_point"]
    prior = np.asarray(op["prior"])
    point = OperatingPoint(
        op["kind"], op["value"], op["met_on_calibration"], op["calibration"], op["message"]
    )
    at_point = test_metrics_at(task, scores, point, prior)
    at_default = test_metrics_at(task, scores, None, prior)
    summary = {
        "trial": trial.number,
        "parameters": ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items()
        ),
        "class weights": str(cfg.class_weights),
        "operating point": op["message"],
        "calibration objective": f"{trial.value:.4f}",
        "test recall / precision @point": f"{at_point['recall']:.4f} / {at_point['precision']:.4f}",
        "test balanced accuracy @point": f"{at_point['balanced_accuracy']:.4f}",
        "test recall / precision @default": f"{at_default['recall']:.4f} / {at_default['precision']:.4f}",
        "model": str(run_dir.relative_to(out) / "model.pt"),
    }
    best = {"trial": trial.number, "params": trial.params, "config": cfg.to_dict(), "operating_point": op,
            "test_at_point": at_point, "test_at_default": at_default, "summary": summary}  # fmt: skip
    atomic_write_json(path, best)
    return best
