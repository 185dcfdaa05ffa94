"""The ``compare`` report: a ranked table (Markdown, CSV) and its plots."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from imbalance_lab.evaluation.objectives import parse_objective
from imbalance_lab.io import atomic_write_text
from imbalance_lab.reports.plots import confusion_grid, metric_curves, pr_curves
from imbalance_lab.reports.tables import csv_text, markdown_table, mean_std

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


def interval95(values: list[float]) -> tuple[float, float]:
    """Student-t 95% interval of the mean over seeds (the mean itself for one seed)."""
    from scipy import stats

    m, s = mean_std(values)
    if len(values) < 2:
        return m, m
    half = stats.t.ppf(0.975, len(values) - 1) * s / math.sqrt(len(values))
    return m - half, m + half


def cell(values: list[float]) -> str:
    if not values:
        return "–"
    m, s = mean_std(values)
    if len(values) < 2:
        return f"{m:.3f}"
    lo, hi = interval95(values)
    return f"{m:.3f} ± {s:.3f} [{lo:.3f}, {hi:.3f}]"


def collect(out: Path, study: dict) -> dict[str, list[dict]]:
    """{strategy: [result of each finished seed]} with the run folder added."""
    found: dict[str, list[dict]] = {}
    for name in study["strategies"]:
        for seed in study["seeds"]:
            run_dir = out / name / f"seed-{seed}"
            try:
                result = json.loads((run_dir / "result.json").read_text())
            except (OSError, ValueError):
                continue
            result["dir"] = run_dir
            found.setdefault(name, []).append(result)
    return found


def write_compare_report(out: Path) -> dict:
    out = Path(out)
    study = json.loads((out / "study.json").read_text())
    objective = parse_objective(study["base"]["objective"])
    results = collect(out, study)
    ranked = []
    for name, runs in results.items():
        calib = [objective.score(r["final"]["operating_point"]["calibration"]) for r in runs]
        met = sum(r["final"]["operating_point"]["met_on_calibration"] for r in runs)
        ranked.append((float(np.mean(calib)), name, runs, met))
    ranked.sort(key=lambda row: -row[0])
    header = [
        "rank",
        "strategy",
        "seeds",
        f"calibration {objective.target_metric}",
        "met on calibration",
    ]
    header += [c[0] for c in COLUMNS]
    md_rows, csv_rows = [], []
    for rank, (_score, name, runs, met) in enumerate(ranked, 1):
        calib_values = [
            r["final"]["operating_point"]["calibration"][objective.target_metric] for r in runs
        ]
        cols = [[r["final"][block][metric] for r in runs] for _, block, metric in COLUMNS]
        md_rows.append(
            [str(rank), name, str(len(runs)), cell(calib_values), f"{met}/{len(runs)}"]
            + [cell(v) for v in cols]
        )
        csv_row = [rank, name, len(runs), round(mean_std(calib_values)[0], 4), met]
        for v in cols:
            csv_row += [round(x, 4) for x in (*mean_std(v), *interval95(v))]
        csv_rows.append(csv_row)
    plots = _plots(out, ranked, objective)
    seeds = ", ".join(map(str, study["seeds"]))
    base = study["base"]
    text = [
        "# Strategy comparison\n",
        f"Objective: `{objective}`. Data: `{base['data']}`, classes {', '.join(base['classes']) or 'all'}, "
        f"model `{base['model']}`, {base['epochs']} epochs, seeds {seeds}. Each run chooses its "
        f"operating point on its calibration split ({base['val']} of the training data, stratified), "
        "and strategies are ranked by the objective on that split; the test split is only reported. "
        "Cells: mean ± sample std [95% t-interval] over seeds. '@point' is the chosen operating point, "
        "'@default' is argmax.\n",
        markdown_table(header, md_rows),
        "\nPlots: " + ", ".join(f"[{p.name}]({p.relative_to(out)})" for p in plots) + "\n",
    ]
    unmet = [name for _, name, runs, met in ranked if met < len(runs)]
    if unmet:
        text.append(
            f"\n{objective} could not be met on the calibration split by: {', '.join(unmet)} "
            "(for some seeds); their rows report the closest point.\n"
        )
    atomic_write_text(out / "compare.md", "\n".join(text))
    csv_header = [
        "rank",
        "strategy",
        "seeds",
        f"calibration_{objective.target_metric}",
        "met_on_calibration",
    ]
    for _, block, metric in COLUMNS:
        csv_header += [
            f"{block}_{metric}_{stat}" for stat in ("mean", "std", "ci95_low", "ci95_high")
        ]
    atomic_write_text(out / "compare.csv", csv_text(csv_header, csv_rows))
    return {
        "summary": out / "compare.md",
        "csv": out / "compare.csv",
        "plots": plots,
        "ranked": [r[1] for r in ranked],
    }


def _plots(out: Path, ranked, objective) -> list[Path]:
    plots = []
    curves, matrices, logs = {}, {}, {}
    for _, name, runs, _ in ranked:
        first = runs[0]["dir"]
        scores = np.load(first / "scores.npz")
        curves[name] = (scores["test_labels"], scores["test_scores"])
        matrices[name] = np.sum(
            [r["final"]["test_at_point"]["confusion_matrix"] for r in runs], axis=0
        )
        logs[name] = [json.loads((r["dir"] / "log.json").read_text()) for r in runs]
    classes = ranked[0][2][0]["config"]["classes"] if ranked else []
    if ranked and curves[ranked[0][1]][1].shape[1] == 2:
        plots.append(pr_curves(curves, out / "plots" / "pr-curves.png", "test split, seed 0"))
    if ranked:
        plots.append(confusion_grid(matrices, classes, out / "plots" / "confusion-matrices.png",
                                    f"test split at the chosen point ({objective}), summed over seeds"))  # fmt: skip
        plots.append(
            metric_curves(
                logs, ("balanced_accuracy", "recall"), out / "plots" / "metrics-per-epoch.png"
            )
        )
    return plots
