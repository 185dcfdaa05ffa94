"""The sweep's results, read from its folder: sweep.md, trials.csv and plots/.

The sweep writes what this needs (sweep.json, trials.json, and best.json with the
best trial's test metrics), so a report never opens the Optuna study or a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imbalance_lab.io import atomic_write_text
from imbalance_lab.reports.plots import optimisation_history, tradeoff_curve
from imbalance_lab.reports.points import interval_text
from imbalance_lab.reports.render import render
from imbalance_lab.reports.tables import Table, csv_text
from imbalance_lab.rundir import BEST, SWEEP, TRIALS, read_study_file

TRIAL_METRICS = (  # (header, user attribute of the trial, metric)
    ("precision @point", "calibration", "precision"),
    ("recall @point", "calibration", "recall"),
    ("threshold", "operating_point", "value"),
    ("recall @default", "calibration_default", "recall"),
    ("precision @default", "calibration_default", "precision"),
    ("accuracy @default", "calibration_default", "accuracy"),
)


@dataclass(frozen=True)
class SweepResults:
    record: dict  # sweep.json: study name, base config, searched params, trials wanted
    trials: list[dict]  # trials.json: number, state, params, value, user_attrs
    best: dict | None  # best.json; None until a trial completes

    @property
    def study_name(self) -> str:
        return self.record["study_name"]

    @property
    def objective(self) -> str:
        return self.record["base"]["objective"]

    @property
    def val(self) -> str:
        return self.record["base"]["val"]

    @property
    def wanted(self) -> int:
        return self.record["trials"]

    @property
    def complete(self) -> list[dict]:
        return [t for t in self.trials if t["state"] == "COMPLETE"]

    def table(self) -> Table:
        params = sorted({k for t in self.trials for k in t["params"]})
        header = [
            "trial",
            "state",
            *params,
            "objective (calibration)",
            *(c[0] for c in TRIAL_METRICS),
        ]
        rows = [
            [
                str(t["number"]),
                t["state"],
                *(_param(t["params"].get(k, "")) for k in params),
                _f(t["value"]),
                *(_f(t["user_attrs"].get(attr, {}).get(key)) for _, attr, key in TRIAL_METRICS),
            ]
            for t in self.trials
        ]
        return Table(header, rows)

    def csv(self) -> str:
        table = self.table()
        return csv_text(table.header, table.rows)

    def best_table(self) -> Table | None:
        """The best trial's setting and its test metrics, as (what, value) rows."""
        if self.best is None:
            return None
        best = self.best
        rows = [
            ["trial", str(best["trial"])],
            ["parameters", ", ".join(f"{k}={_param(v)}" for k, v in best["params"].items())],
        ]
        if "config" in best:
            weights = best["config"]["class_weights"]
            rows.append(["class weights", str(tuple(weights) if weights is not None else None)])
        chosen = best["operating_point"]
        rows.append(["operating point", chosen.get("message", "")])
        if chosen.get("interval"):  # absent from sweeps before intervals were reported
            rows.append(["calibration interval", interval_text(chosen["interval"])])
        if chosen.get("warning"):
            rows.append(["warning", chosen["warning"]])
        rows.append(["calibration objective", f"{best['value']:.4f}"])
        if "test_at_point" in best:
            point, default = best["test_at_point"], best["test_at_default"]
            rows += [
                [
                    "test recall / precision @point",
                    f"{point['recall']:.4f} / {point['precision']:.4f}",
                ],
                ["test balanced accuracy @point", f"{point['balanced_accuracy']:.4f}"],
                [
                    "test recall / precision @default",
                    f"{default['recall']:.4f} / {default['precision']:.4f}",
                ],
                ["model", f"{best['run']}/model.pt"],
            ]
        else:
            where = f"{best['run']} is on the machine that ran the trial"
            rows.append(["test metrics", f"not computed here: {where}"])
        return Table(["what", "value"], rows)


def read_sweep(out: Path) -> SweepResults:
    record = read_study_file(out, SWEEP)
    trials = read_study_file(out, TRIALS)["trials"]
    complete = any(t["state"] == "COMPLETE" for t in trials)
    return SweepResults(record, trials, read_study_file(out, BEST) if complete else None)


def write_sweep_report(out: Path) -> dict:
    out = Path(out)
    results = read_sweep(out)
    atomic_write_text(out / "trials.csv", results.csv())
    plots = _plots(out, results)
    text = render(
        "sweep/sweep.md",
        sweep=results,
        best=results.best_table(),
        table=results.table(),
        plots=plots,
    )
    atomic_write_text(out / "sweep.md", text)
    return {"summary": out / "sweep.md", "csv": out / "trials.csv", "plots": plots}


def _plots(out: Path, results: SweepResults) -> list[Path]:
    complete = results.complete
    plots = []
    if complete and "weight" in complete[0]["params"]:
        points = sorted(
            ((t["params"]["weight"], t["user_attrs"]["calibration_default"]) for t in complete),
            key=lambda point: point[0],
        )
        plots.append(tradeoff_curve(points, out / "plots" / "tradeoff.png"))
    if complete:
        plots.append(
            optimisation_history(complete, results.objective, out / "plots" / "history.png")
        )
    return plots


def _param(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _f(value) -> str:
    return "" if value is None else f"{value:.4f}"
