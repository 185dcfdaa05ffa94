"""The HTML report: one self-contained page for a results folder.

``write_html_report(results_dir)`` reads what ``reproduce article``, ``compare``, ``sweep``
or ``train`` left in a folder and writes ``report.html`` beside it. The page is
templates/page.html around one template per section. Every figure is embedded as a
``data:image/png`` URI, so the page is one file that opens from disk, mailed or copied,
with no server and no other file. The templates escape every value they insert (class
names, paths, config values).
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from markupsafe import Markup

from imbalance_lab.config import EXECUTION_KEYS
from imbalance_lab.errors import OutputError
from imbalance_lab.io import atomic_write_text
from imbalance_lab.reports import plots
from imbalance_lab.reports.article import read_article
from imbalance_lab.reports.compare import read_compare
from imbalance_lab.reports.points import point_notes
from imbalance_lab.reports.render import Figure, csv_download, figure, render, render_html
from imbalance_lab.reports.sweep import read_sweep
from imbalance_lab.reports.tables import Table
from imbalance_lab.rundir import RESULT, STUDY, RunFolder

REPORT = "report.html"
LAYOUT_HELP = (
    "a results folder must hold study.json (written by `reproduce article`, `compare` or "
    "`sweep`) "
    "or result.json (written by `train`)"
)
SAMPLES_PER_CLASS = 8  # sample images shown per class: enough to see the classes, small to embed
MAX_SAMPLE_CLASSES = 20  # rows of the image grid; more classes are named, not shown
METRICS = ("accuracy", "balanced_accuracy", "recall", "precision", "f1")
COMPARE_PLOTS = (  # (section, title, file in plots/, caption)
    ("curves", "Metric curves", "metrics-per-epoch.png", "Calibration-split metrics per epoch, mean over seeds."),
    ("pr", "Precision-recall curves", "pr-curves.png", "Precision-recall of the positive class on the test split, first seed."),
    ("confusion", "Confusion matrices", "confusion-matrices.png", "Test split at each run's chosen operating point, summed over seeds."),
)  # fmt: skip
FINAL_BLOCKS = (
    ("train", "train"),
    ("val", "validation"),
    ("test", "test"),
    ("test_at_point", "test @point"),
)


@dataclass(frozen=True)
class Run:
    name: str  # folder below the results folder, e.g. "corrected/cnn-4to1/seed-0" ("" = itself)
    folder: RunFolder
    result: dict  # result.json: config, final metrics, data notes
    log: dict  # log.json: per-epoch metrics ({} when missing)

    @property
    def group(self) -> str:
        """The run without its seed: what a table row or a plot line stands for."""
        return re.sub(r"/?seed-\d+$", "", self.name) or self.folder.path.name


@dataclass(frozen=True)
class Section:
    id: str  # anchor of the section
    title: str  # heading and table-of-contents entry
    body: Markup  # a rendered section template


def write_html_report(results_dir: str | Path) -> Path:
    """Write ``results_dir/report.html`` (atomically) and return its path."""
    folder = Path(results_dir)
    kind, study = _layout(folder)
    with tempfile.TemporaryDirectory(prefix="imbalance-lab-report-") as tmp:
        title, sections = PAGES[kind](folder, study, Path(tmp))
    path = folder / REPORT
    atomic_write_text(
        path, render("page.html", title=title, folder=folder.resolve(), sections=sections)
    )
    return path


def _layout(folder: Path) -> tuple[str, dict]:
    study_path = folder / STUDY
    if study_path.is_file():
        try:
            study = json.loads(study_path.read_text())
        except (OSError, ValueError) as exc:
            raise OutputError(f"cannot read {study_path}: {exc}; {LAYOUT_HELP}") from None
        kind = study.get("study") if isinstance(study, dict) else None
        if kind not in PAGES or kind == "train":
            raise OutputError(
                f"{study_path} names study {kind!r}, not article, compare or sweep; {LAYOUT_HELP}"
            )
        return kind, study
    if (folder / RESULT).is_file():
        return "train", {}
    raise OutputError(f"{folder} is not a results folder: {LAYOUT_HELP}")


# --- one page per kind of folder ---------------------------------------------------------------


def _train_page(folder: Path, _study: dict, tmp: Path) -> tuple[str, list[Section]]:
    run = _read_run(folder, "")
    if run is None:
        raise OutputError(f"cannot read {folder / RESULT}; {LAYOUT_HELP}")
    final = run.result.get("final", {})
    sections = [
        _section(
            "overview",
            "Final metrics",
            "sections/final-metrics.html",
            table=_final_metrics_table(final, _class_names(run)),
            point=final.get("operating_point"),
            point_notes=point_notes(final.get("operating_point")),
        ),
        _config_section(
            run.result.get("config", {}), "The resolved configuration of this run.", []
        ),
        _data_section(run, tmp),
        _items("curves", "Metric curves", *_epoch_curves(run, tmp)),
    ]
    pr = _pr_figure({run.group: run}, tmp / "pr.png", "this run")
    if pr:
        sections.append(_items("pr", "Precision-recall curve", pr))
    matrices = {
        label: final[block]["confusion_matrix"]
        for block, label in FINAL_BLOCKS[1:]
        if "confusion_matrix" in final.get(block, {})
    }
    cm = _confusion_figure(matrices, _class_names(run), tmp / "cm.png", "final epoch")
    sections.append(_items("confusion", "Confusion matrices", cm))
    return f"Training run: {folder.resolve().name}", sections


def _article_page(folder: Path, study: dict, tmp: Path) -> tuple[str, list[Section]]:
    article = read_article(folder)
    names = [
        f"{mode}/{run['name']}/seed-{seed}"
        for mode in article.modes
        for run in article.runs
        for seed in study["seeds"]
    ]
    runs = _read_runs(folder, names)
    # The corrected base run is the article's base config; the other runs change a field or two.
    base = min(
        runs,
        key=lambda r: (r.group.split("/")[1] != article.base, not r.name.startswith("corrected/")),
        default=None,
    )
    sections = [
        _section(
            "overview",
            "Results",
            "article/results.html",
            study=study,
            table=article.table(),
            csv=csv_download("summary.csv", article.csv()),
        ),
        _section(
            "article",
            "Comparison with the article",
            "article/comparison.html",
            findings=article.findings(),
        ),
        _config_section(
            base.result["config"] if base else {},
            f"The resolved configuration of run {base.name if base else '–'}.",
            runs,
        ),
        _data_section(base, tmp, runs),
    ]
    files = _plot_files(folder)
    sections.append(_items("curves", "Metric curves", *_article_curves(files, article.modes)))
    pr, cm = [], []
    for mode in article.modes:
        in_mode = [r for r in runs if r.name.startswith(mode + "/")]
        first_seed: dict[str, Run] = {}
        for run in in_mode:
            first_seed.setdefault(run.group.split("/", 1)[1], run)
        pr.append(_pr_figure(first_seed, tmp / f"pr-{mode}.png", f"{mode}, first seed"))
        title = f"{mode}: validation (= test split), final epoch, summed over seeds"
        matrices = _summed_matrices(in_mode, short=True)
        cm.append(_confusion_figure(matrices, _class_names(base), tmp / f"cm-{mode}.png", title))
    pr = [f for f in pr if f is not None]
    sections.append(_items("pr", "Precision-recall curves", *(pr or ["binary tasks only"])))
    sections.append(_items("confusion", "Confusion matrices", *(cm or ["no runs"])))
    return "The article's study, reproduced", sections + _other_plots(files)


def _article_curves(files: dict[str, Path], modes: list[str]) -> list[Figure | str]:
    """The study's per-mode plots, taken out of ``files`` (the rest go to "Other plots")."""
    captions = {
        "validation-metrics": "validation accuracy, recall and precision per epoch (line: mean "
        "over seeds, band: min to max)",
        "training-loss": "training loss per batch, first seed",
    }
    curves = [
        figure(files.pop(f"{mode}-{name}.png"), f"{mode} mode: {caption}")
        for mode in modes
        for name, caption in captions.items()
        if f"{mode}-{name}.png" in files
    ]
    return curves or ["no plots"]


def _compare_page(folder: Path, study: dict, tmp: Path) -> tuple[str, list[Section]]:
    compare = read_compare(folder)
    names = [f"{s}/seed-{seed}" for s in study["strategies"] for seed in study["seeds"]]
    runs = _read_runs(folder, names)
    base = study["base"]
    strategies = Table(
        ["strategy", "what it does", "config changes"],
        [[s.name, s.summary, _changes(s.changes)] for s in compare.ranked],
    )
    sections = [
        _section(
            "overview",
            "Strategy table",
            "compare/table.html",
            compare=compare,
            table=compare.table(),
            csv=csv_download("compare.csv", compare.csv()),
        ),
        _config_section(base, "The base configuration every strategy changes.", [], strategies),
        _data_section(runs[0] if runs else None, tmp, runs),
    ]
    files = _plot_files(folder)
    for sid, title, name, caption in COMPARE_PLOTS:
        missing = f"{name} was not written (PR curves need a binary task)"
        body = figure(files.pop(name), caption) if name in files else missing
        sections.append(_items(sid, title, body))
    return "Strategy comparison", sections + _other_plots(files)


def _sweep_page(folder: Path, study: dict, tmp: Path) -> tuple[str, list[Section]]:
    sweep = read_sweep(folder)
    run = _read_run(folder, sweep.best["run"]) if sweep.best else None
    trials = sweep.table()
    sections = [
        _section("overview", "Summary", "sweep/summary.html", sweep=sweep, best=sweep.best_table()),
        _section(
            "trials",
            "Trials",
            "sweep/trials.html",
            table=trials,
            csv=csv_download("trials.csv", sweep.csv()),
        ),
        _config_section(
            study["base"], "The base configuration every trial changes.", [run] if run else []
        ),
        _data_section(run, tmp),
    ]
    curves = _epoch_curves(run, tmp) if run else []
    curves += [figure(path, name) for name, path in _plot_files(folder).items()]
    sections.append(_items("curves", "Metric curves", *(curves or ["no plots"])))
    if run:
        pr = _pr_figure({"best trial": run}, tmp / "pr.png", "best trial")
        if pr:
            sections.append(_items("pr", "Precision-recall curve", pr))
        matrices = {
            "calibration": run.result.get("final", {}).get("val", {}).get("confusion_matrix"),
            "test @point": sweep.best.get("test_at_point", {}).get("confusion_matrix"),
            "test @default": sweep.best.get("test_at_default", {}).get("confusion_matrix"),
        }
        matrices = {k: v for k, v in matrices.items() if v is not None}
        cm = _confusion_figure(
            matrices, _class_names(run), tmp / "cm.png", "best trial, final epoch"
        )
        sections.append(_items("confusion", "Confusion matrices", cm))
    return "Sweep", sections


PAGES = {
    "train": _train_page,
    "article": _article_page,
    "compare": _compare_page,
    "sweep": _sweep_page,
}


# --- sections shared by the pages ----------------------------------------------------------


def _section(id: str, title: str, template: str, **context) -> Section:
    return Section(id, title, render_html(template, **context))


def _items(id: str, title: str, *items: Figure | Table | str) -> Section:
    """A section of figures, tables and notes (strings), in order."""
    return _section(id, title, "sections/items.html", items=items)


def _config_section(
    config: dict, note: str, runs: list[Run], strategies: Table | None = None
) -> Section:
    rows, seen = [], set()
    for run in runs:
        if run.group not in seen:
            seen.add(run.group)
            rows.append([run.group, _changes(_differences(config, run.result.get("config", {})))])
    differs = len(rows) > 1 or any(changes != "none" for _, changes in rows)
    values = Table(["key", "value"], [[k, _value(v)] for k, v in config.items()])
    return _section(
        "config",
        "Configuration",
        "sections/config.html",
        note=note,
        config=values if config else None,
        differences=Table(["run", "changes"], rows) if differs else None,
        strategies=strategies,
    )


def _data_section(run: Run | None, tmp: Path, runs: list[Run] | tuple = ()) -> Section:
    if run is None:
        return _items("data", "Data", "no finished run in this folder yet")
    notes = run.result.get("data", {})
    splits = {"train": notes.get("train"), "val": notes.get("val"), "test": notes.get("test")}
    if notes.get("val_is_test"):
        splits = {"train": splits["train"], "test (= validation)": splits["test"]}
    splits = {k: v for k, v in splits.items() if isinstance(v, dict)}
    counts = chart = None
    if splits:
        classes = list(dict.fromkeys(c for per_class in splits.values() for c in per_class))
        columns = {**splits, "available for training": notes.get("available_train") or {}}
        counts = Table(
            ["class", *columns],
            [[c, *(str(v.get(c, "–")) for v in columns.values())] for c in classes],
        )
        bars = plots.class_count_bars(splits, tmp / "counts.png", "images per class and split")
        chart = figure(bars, "class counts per split")
    return _section(
        "data",
        "Data",
        "sections/data.html",
        run_name=run.name,
        source=notes.get("source", run.result.get("config", {}).get("data", "?")),
        imbalance=notes.get("imbalance", "–"),
        loading=_loading_notes(notes.get("loading", {})),
        counts=counts,
        chart=chart,
        training_counts=_training_counts(runs),
        samples=_samples(run, tmp),
    )


def _training_counts(runs: list[Run] | tuple) -> Table | None:
    """Training images per class of each run group, when the groups differ."""
    trains = {r.group: r.result.get("data", {}).get("train") for r in runs}
    if len({json.dumps(v) for v in trains.values()}) < 2:
        return None
    classes = list(dict.fromkeys(c for v in trains.values() if v for c in v))
    return Table(
        ["run", *classes],
        [[g, *(str((v or {}).get(c, "–")) for c in classes)] for g, v in trains.items()],
    )


def _samples(run: Run, tmp: Path) -> list[Figure | str]:
    saved = run.folder.samples()
    if saved is None:
        return ["No sample images were saved with this run (samples.npz)."]
    images, labels = saved
    classes = _class_names(run)
    by_class = {classes[i]: images[labels == i][:SAMPLES_PER_CLASS] for i in np.unique(labels)}
    shown = dict(list(by_class.items())[:MAX_SAMPLE_CLASSES])
    grid = plots.image_grid(
        shown, tmp / "samples.png", f"sample images, up to {SAMPLES_PER_CLASS} per class"
    )
    items: list[Figure | str] = [figure(grid, "Images of each class, saved with the run.")]
    if len(by_class) > len(shown):
        items.append(f"{len(by_class) - len(shown)} more classes are not shown.")
    return items


def _epoch_curves(run: Run, tmp: Path) -> list[Figure | Table | str]:
    if not run.log.get("validation_accuracy_per_epoch"):
        return ["log.json holds no per-epoch metrics"]
    split = "test split" if run.result.get("data", {}).get("val_is_test") else "validation split"
    path = plots.epoch_metrics(run.log, METRICS, tmp / "curves.png", f"{split} metrics per epoch")
    columns = [run.log.get(f"validation_{m}_per_epoch", []) for m in METRICS]
    epochs = range(len(run.log["validation_accuracy_per_epoch"]))
    rows = [[str(e + 1), *(_num(values[e : e + 1]) for values in columns)] for e in epochs]
    table = Table(["epoch", *(m.replace("_", " ") for m in METRICS)], rows)
    return [figure(path, f"Validation metrics per epoch ({split})."), table]


def _pr_figure(runs: dict[str, Run], path: Path, subtitle: str) -> Figure | None:
    """PR curves of the positive class, one line per run; None unless the task is binary."""
    curves, split = {}, "test"
    for label, run in runs.items():
        scores = run.folder.scores()
        if not scores:
            continue
        split = "test" if "test" in scores else "val"
        labels, probs = scores[split]
        if probs.ndim != 2 or probs.shape[1] != 2:
            return None
        curves[label] = (labels, probs)
    if not curves:
        return None
    val_is_test = next(iter(runs.values())).result.get("data", {}).get("val_is_test")
    where = {"test": "test split", "val": "validation split"}[split]
    if split == "val" and val_is_test:
        where = "validation (= test) split"
    return figure(plots.pr_curves(curves, path, f"{subtitle}, {where}"), f"{subtitle}, {where}")


def _summed_matrices(runs: list[Run], short: bool = False) -> dict[str, np.ndarray]:
    """Final confusion matrix of each run group, summed over its seeds."""
    out: dict[str, np.ndarray] = {}
    for run in runs:
        final = run.result.get("final", {})
        block = next((b for b in ("test_at_point", "test", "val") if b in final), None)
        if block is None or "confusion_matrix" not in final[block]:
            continue
        name = run.group.split("/", 1)[-1] if short else run.group
        out[name] = out.get(name, 0) + np.asarray(final[block]["confusion_matrix"])
    return out


def _confusion_figure(matrices: dict, classes: list[str], path: Path, title: str) -> Figure | str:
    if not matrices:
        return "no confusion matrix in result.json"
    matrices = {k: np.asarray(v) for k, v in matrices.items()}
    return figure(plots.confusion_grid(matrices, classes, path, title), title)


def _final_metrics_table(final: dict, classes: list[str]) -> Table | None:
    header = ["split", *(m.replace("_", " ") for m in METRICS), "AP", "ROC-AUC", "recall per class"]
    rows = []
    for block, label in FINAL_BLOCKS:
        metrics = final.get(block)
        if not metrics:
            continue
        per_class = metrics.get("per_class_recall") or []
        rows.append(
            [
                label,
                *(_num([metrics.get(m)]) for m in (*METRICS, "average_precision", "roc_auc")),
                ", ".join(f"{c} {v:.3f}" for c, v in zip(classes, per_class, strict=False)),
            ]
        )
    return Table(header, rows) if rows else None


def _other_plots(files: dict[str, Path]) -> list[Section]:
    if not files:
        return []
    return [
        _items("other-plots", "Other plots", *(figure(path, name) for name, path in files.items()))
    ]


# --- reading the folder ----------------------------------------------------------------------


def _read_run(folder: Path, name: str) -> Run | None:
    run = RunFolder(folder / name if name else folder)
    result = run.result()
    return None if result is None else Run(name, run, result, run.log())


def _read_runs(folder: Path, names: list[str]) -> list[Run]:
    return [run for name in names if (run := _read_run(folder, name)) is not None]


def _plot_files(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted((folder / "plots").glob("*.png"))}


def _class_names(run: Run | None) -> list[str]:
    if run is None:
        return []
    return list(
        run.result.get("config", {}).get("classes") or run.result.get("data", {}).get("test", {})
    )


def _differences(base: dict, other: dict) -> dict:
    skip = ("seed", *EXECUTION_KEYS)
    return {k: other.get(k) for k in other if k not in skip and other.get(k) != base.get(k)}


# --- cells -------------------------------------------------------------------------------------


def _num(values: list) -> str:
    value = values[0] if values else None
    return "–" if value is None else f"{float(value):.3f}"


def _value(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value) if value else "–"
    return str(value)


def _changes(changes: dict) -> str:
    return "; ".join(f"{k} = {_value(v)}" for k, v in changes.items()) or "none"


def _loading_notes(loading: dict) -> list[str]:
    notes = []
    if loading.get("skipped_bad_images"):
        notes.append(f"{loading['skipped_bad_images']} unreadable images skipped")
    if loading.get("ignored_non_images"):
        notes.append(f"{loading['ignored_non_images']} non-image files ignored")
    for mode, n in (loading.get("converted_modes") or {}).items():
        notes.append(f"{n} {mode} images converted to RGB")
    return notes
