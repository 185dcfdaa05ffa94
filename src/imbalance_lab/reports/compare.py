"""The ``compare`` study's results, read from its folder: compare.md, compare.csv and plots/.

The ranking is the experiment's (compare.json, by the objective on the calibration
split); this module only lays it out, with each strategy's test metrics over seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imbalance_lab.io import atomic_write_text
from imbalance_lab.reports.plots import confusion_grid, metric_curves, pr_curves
from imbalance_lab.reports.render import render
from imbalance_lab.reports.tables import (
    Table,
    csv_text,
    fmt_interval,
    interval95,
    mean_std,
)
from imbalance_lab.rundir import RANKING, STUDY, RunFolder, read_study_file

COLUMNS = (  # (header, which result block, metric)
    ("test recall @point", "test_at_point", "recall"),
    ("test precision @point", "test_at_point", "precision"),
    ("test F1 @point", "test_at_point", "f1"),
    ("test bal. acc @point", "test_at_point", "balanced_accuracy"),
    ("test recall @default", "test", "recall"),
    ("test precision @default", "test", "precision"),
    ("test bal. acc @default", "test", "balanced_accuracy"),
    ("test AP", "test", "average_precision"),
    ("test ROC-AUC", "test", "roc_auc"),
)


@dataclass(frozen=True)
class Ranked:
    name: str  # the strategy
    summary: str  # what it does, in one line
    changes: dict  # the config fields it sets
    runs: list[RunFolder]  # its finished runs, one per seed
    results: list[dict]  # their result.json

    def calibration(self, metric: str) -> list[float]:
        return [r["final"]["operating_point"]["calibration"][metric] for r in self.results]

    def interval(self) -> str:
        """How sure the seeds' points are: the mean half-width of their calibration interval
        and the calibration images it rests on (runs from before intervals: '-')."""
        found = [r["final"]["operating_point"].get("interval") for r in self.results]
        found = [i for i in found if i]
        if not found:
            return "-"
        width = float(np.mean([i["half_width"] for i in found]))
        counts = sorted({i["count"] for i in found})
        n = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
        return f"±{width:.3f} ({found[0]['metric']}, n={n})"

    @property
    def met(self) -> int:
        """Seeds whose operating point meets the objective on the calibration split."""
        return sum(r["final"]["operating_point"]["met_on_calibration"] for r in self.results)

    def columns(self) -> list[list[float]]:
        """Per column of COLUMNS, the value of each seed."""
        return [[r["final"][block][metric] for r in self.results] for _, block, metric in COLUMNS]


@dataclass(frozen=True)
class CompareResults:
    study: dict  # study.json: base config, strategies, seeds
    objective: str
    target_metric: str  # what the objective maximises, e.g. precision under a recall bound
    ranked: list[Ranked]  # best first

    @property
    def unmet(self) -> list[str]:
        """Strategies that missed the objective's constraint on the calibration split for some seed."""
        return [s.name for s in self.ranked if s.met < len(s.results)]

    def table(self) -> Table:
        header = [
            "rank",
            "strategy",
            "seeds",
            f"calibration {self.target_metric}",
            "met on calibration",
            "point's 95% CI",
            *(c[0] for c in COLUMNS),
        ]
        rows = [
            [
                str(rank),
                s.name,
                str(len(s.results)),
                fmt_interval(s.calibration(self.target_metric)),
                f"{s.met}/{len(s.results)}",
                s.interval(),
                *map(fmt_interval, s.columns()),
            ]
            for rank, s in enumerate(self.ranked, 1)
        ]
        return Table(header, rows)

    def csv(self) -> str:
        header = [
            "rank",
            "strategy",
            "seeds",
            f"calibration_{self.target_metric}",
            "met_on_calibration",
        ]
        for _, block, metric in COLUMNS:
            header += [
                f"{block}_{metric}_{stat}" for stat in ("mean", "std", "ci95_low", "ci95_high")
            ]
        rows = []
        for rank, s in enumerate(self.ranked, 1):
            row = [
                rank,
                s.name,
                len(s.results),
                round(mean_std(s.calibration(self.target_metric))[0], 4),
                s.met,
            ]
            for values in s.columns():
                row += [round(x, 4) for x in (*mean_std(values), *interval95(values))]
            rows.append(row)
        return csv_text(header, rows)


def read_compare(out: Path) -> CompareResults:
    study = read_study_file(out, STUDY)
    ranking = read_study_file(out, RANKING)
    ranked = []
    for entry in ranking["strategies"]:
        runs = [RunFolder(out / name) for name in entry["runs"]]
        results = [run.result() for run in runs]
        ranked.append(Ranked(entry["name"], entry["summary"], entry["changes"], runs, results))
    return CompareResults(study, ranking["objective"], ranking["target_metric"], ranked)


def write_compare_report(out: Path) -> dict:
    out = Path(out)
    results = read_compare(out)
    plots = _plots(out, results)
    text = render("compare/compare.md", compare=results, table=results.table(), plots=plots)
    atomic_write_text(out / "compare.md", text)
    atomic_write_text(out / "compare.csv", results.csv())
    return {"summary": out / "compare.md", "csv": out / "compare.csv", "plots": plots}


def _plots(out: Path, results: CompareResults) -> list[Path]:
    if not results.ranked:
        return []
    curves, matrices, logs = {}, {}, {}
    for s in results.ranked:
        curves[s.name] = s.runs[0].scores()["test"]
        matrices[s.name] = np.sum(
            [r["final"]["test_at_point"]["confusion_matrix"] for r in s.results], axis=0
        )
        logs[s.name] = [run.log() for run in s.runs]
    plots = []
    if curves[results.ranked[0].name][1].shape[1] == 2:
        plots.append(pr_curves(curves, out / "plots" / "pr-curves.png", "test split, seed 0"))
    classes = results.ranked[0].results[0]["config"]["classes"]
    plots.append(
        confusion_grid(
            matrices,
            classes,
            out / "plots" / "confusion-matrices.png",
            f"test split at the chosen point ({results.objective}), summed over seeds",
        )
    )
    plots.append(
        metric_curves(
            logs, ("balanced_accuracy", "recall"), out / "plots" / "metrics-per-epoch.png"
        )
    )
    return plots
