"""The HTML report: one self-contained page for a results folder.

``write_html_report(results_dir)`` reads what ``reproduce article``, ``compare`` or
``train`` left in a folder and writes ``report.html`` beside it. Every figure is
embedded as a ``data:image/png`` URI, so the page is one file that opens from disk,
mailed or copied, with no server and no other file. Every piece of text that comes
from the user or the data (class names, paths, config values, Markdown) is escaped.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imbalance_lab.config import EXECUTION_KEYS
from imbalance_lab.errors import OutputError
from imbalance_lab.io import atomic_write_text

REPORT = "report.html"
LAYOUT_HELP = (
    "a results folder must hold study.json (written by `reproduce article`, `compare` or "
    "`sweep`) "
    "or result.json (written by `train`)"
)
SAMPLES_PER_CLASS = 8  # test images shown per class: enough to see the classes, small to embed
MAX_SAMPLE_CLASSES = 20  # rows of the image grid; more classes are named, not shown
METRICS = ("accuracy", "balanced_accuracy", "recall", "precision", "f1")

CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       margin: 0; background: #fff; }
main { max-width: 1100px; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2.2rem; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
nav a { margin-right: .9rem; }
.meta, figcaption, .note { color: #555; font-size: .88rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .85rem; }
th, td { border: 1px solid #bbb; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; }
img { max-width: 100%; height: auto; }
code { background: #f2f2f2; padding: 0 .2rem; border-radius: 3px; }
"""


@dataclass(frozen=True)
class Run:
    name: str  # folder below the results folder, e.g. "corrected/cnn-4to1/seed-0" ("" = itself)
    dir: Path  # the run folder
    result: dict  # result.json: config, final metrics, data notes
    log: dict  # log.json: per-epoch metrics ({} when missing)

    @property
    def group(self) -> str:
        """The run without its seed: what a table row or a plot line stands for."""
        return re.sub(r"/?seed-\d+$", "", self.name) or self.dir.name


@dataclass(frozen=True)
class Section:
    id: str  # anchor of the section
    title: str  # heading and table-of-contents entry
    body: str  # HTML, already escaped


def write_html_report(results_dir: str | Path) -> Path:
    """Write ``results_dir/report.html`` (atomically) and return its path."""
    folder = Path(results_dir)
    kind, study = _layout(folder)
    with tempfile.TemporaryDirectory(prefix="imbalance-lab-report-") as tmp:
        title, sections = PAGES[kind](folder, study, Path(tmp))
    path = folder / REPORT
    atomic_write_text(path, _page(title, folder, sections))
    return path


def _layout(folder: Path) -> tuple[str, dict]:
    study_path = folder / "study.json"
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
    if (folder / "result.json").is_file():
        return "train", {}
    raise OutputError(f"{folder} is not a results folder: {LAYOUT_HELP}")


# --- one page per kind of folder ---------------------------------------------------------------


def _train_page(folder: Path, _study: dict, tmp: Path) -> tuple[str, list[Section]]:
    run = _read_run(folder, "")
    if run is None:
        raise OutputError(f"cannot read {folder / 'result.json'}; {LAYOUT_HELP}")
    config = run.result.get("config", {})
    final = run.result.get("final", {})
    overview = _final_metrics_table(final, config.get("classes") or _class_names(run))
    point = final.get("operating_point")
    if point:
        overview += (
            f"<p>Operating point ({_esc(point.get('objective'))}): {_esc(point.get('message'))}</p>"
        )
    sections = [
        Section("overview", "Final metrics", overview),
        _config_section(config, "The resolved configuration of this run.", []),
        _data_section(run, config, tmp),
        Section("curves", "Metric curves", _epoch_curves(run, tmp)),
    ]
    pr = _pr_figure({run.group: run}, tmp / "pr.png", "this run")
    if pr:
        sections.append(Section("pr", "Precision-recall curve", pr))
    matrices = {
        label: final[block]["confusion_matrix"]
        for block, label in (("val", "validation"), ("test", "test"), ("test_at_point", "test @point"))
        if "confusion_matrix" in final.get(block, {})
    }  # fmt: skip
    sections.append(
        Section(
            "confusion",
            "Confusion matrices",
            _confusion_figure(matrices, _class_names(run), tmp / "cm.png", "final epoch"),
        )
    )
    return f"Training run: {folder.resolve().name}", sections


def _article_page(folder: Path, study: dict, tmp: Path) -> tuple[str, list[Section]]:
    from imbalance_lab.experiments.article import ARTICLE_RUNS
    from imbalance_lab.reports.article import MODES

    modes = [m for m in MODES if m in study.get("modes", [])]
    names = [
        f"{mode}/{spec.name}/seed-{seed}"
        for mode in modes
        for spec in ARTICLE_RUNS
        for seed in study.get("seeds", [])
    ]
    runs = [run for name in names if (run := _read_run(folder, name)) is not None]
    # The corrected 4:1 ConvNet is the article's base config; the other runs change a field or two.
    base = min(
        runs,
        key=lambda r: ("/cnn-4to1/" not in r.name, not r.name.startswith("corrected/")),
        default=None,
    )
    intro, explanation = _split_summary(_read_text(folder / "summary.md"))
    seeds = len(study.get("seeds", []))
    table = _csv_table(
        folder / "summary.csv",
        f"Final-epoch metrics, mean over {seeds} seed(s) (summary.md adds the standard "
        "deviations); the last column is what the article reports.",
    )
    sections = [
        Section("overview", "Results", _markdown(intro) + table),
        Section("article", "Comparison with the article", _markdown(explanation)),
        _config_section(
            base.result["config"] if base else {},
            f"The resolved configuration of run {base.name if base else '–'}.",
            runs,
        ),
        _data_section(base, base.result["config"] if base else {}, tmp, runs),
    ]
    plots = _plot_files(folder)
    captions = {
        "validation-metrics": "validation accuracy, recall and precision per epoch (line: mean "
        "over seeds, band: min to max)",
        "training-loss": "training loss per batch, first seed",
    }
    curves = [
        _figure_file(plots.pop(f"{mode}-{name}.png"), f"{mode} mode: {caption}")
        for mode in modes
        for name, caption in captions.items()
        if f"{mode}-{name}.png" in plots
    ]
    sections.append(Section("curves", "Metric curves", "".join(curves) or _none("no plots")))
    pr, cm = [], []
    for mode in modes:
        in_mode = [r for r in runs if r.name.startswith(mode + "/")]
        first_seed: dict[str, Run] = {}
        for run in in_mode:
            first_seed.setdefault(run.group.split("/", 1)[1], run)
        pr.append(_pr_figure(first_seed, tmp / f"pr-{mode}.png", f"{mode}, first seed"))
        matrices = _summed_matrices(in_mode, short=True)
        title = f"{mode}: validation (= test split), final epoch, summed over seeds"
        cm.append(_confusion_figure(matrices, _class_names(base), tmp / f"cm-{mode}.png", title))
    sections.append(Section("pr", "Precision-recall curves", "".join(pr) or _none("binary tasks only")))  # fmt: skip
    sections.append(Section("confusion", "Confusion matrices", "".join(cm) or _none("no runs")))
    sections += _other_plots(plots)
    return "The article's study, reproduced", sections


def _compare_page(folder: Path, study: dict, tmp: Path) -> tuple[str, list[Section]]:
    from imbalance_lab.strategies.registry import STRATEGIES

    names = [f"{s}/seed-{seed}" for s in study.get("strategies", []) for seed in study.get("seeds", [])]  # fmt: skip
    runs = [run for name in names if (run := _read_run(folder, name)) is not None]
    base = study.get("base", {})
    intro, rest = _split_summary(_read_text(folder / "compare.md"))
    table = _csv_table(
        folder / "compare.csv",
        "Strategies ranked by the objective on the calibration split; cells are the mean "
        "± sample std [95% t-interval] over seeds.",
    )
    strategies = _table(
        ["strategy", "what it does", "config changes"],
        [
            [name, (STRATEGIES.get(name).summary if name in STRATEGIES else "–"),
             _changes(STRATEGIES.get(name).changes if name in STRATEGIES else {})]
            for name in study.get("strategies", [])
        ],
    )  # fmt: skip
    sections = [
        Section("overview", "Strategy table", _markdown(intro) + table + _markdown(rest)),
        _config_section(base, "The base configuration every strategy changes.", [], strategies),
        _data_section(runs[0] if runs else None, base, tmp, runs),
    ]
    plots = _plot_files(folder)
    for sid, title, name, caption in (
        ("curves", "Metric curves", "metrics-per-epoch.png",
         "Calibration-split metrics per epoch, mean over seeds."),
        ("pr", "Precision-recall curves", "pr-curves.png",
         "Precision-recall of the positive class on the test split, first seed."),
        ("confusion", "Confusion matrices", "confusion-matrices.png",
         "Test split at each run's chosen operating point, summed over seeds."),
    ):  # fmt: skip
        missing = _none(f"{name} was not written (PR curves need a binary task)")
        body = _figure_file(plots.pop(name), caption) if name in plots else missing
        sections.append(Section(sid, title, body))
    sections += _other_plots(plots)
    return "Strategy comparison", sections


def _sweep_page(folder: Path, study: dict, tmp: Path) -> tuple[str, list[Section]]:
    try:
        best = json.loads((folder / "best.json").read_text())
    except (OSError, ValueError):
        best = {}
    model = best.get("summary", {}).get("model")
    run = _read_run(folder, str(Path(model).parent)) if model else None
    base = study.get("base", {})
    summary = _read_text(folder / "sweep.md").split("\n## Trials")[0]
    sections = [
        Section("overview", "Summary", _markdown(_without_title(summary))),
        Section("trials", "Trials", _csv_table(folder / "trials.csv", "Every trial; the "
                "objective and the @point metrics are measured on the calibration split.")),
        _config_section(base, "The base configuration every trial changes.", [run] if run else []),
        _data_section(run, base, tmp),
    ]  # fmt: skip
    plots = _plot_files(folder)
    curves = _epoch_curves(run, tmp) if run else ""
    curves += "".join(_figure_file(path, name) for name, path in plots.items())
    sections.append(Section("curves", "Metric curves", curves or _none("no plots")))
    if run:
        pr = _pr_figure({"best trial": run}, tmp / "pr.png", "best trial")
        if pr:
            sections.append(Section("pr", "Precision-recall curve", pr))
        matrices = {
            "calibration": run.result.get("final", {}).get("val", {}).get("confusion_matrix")
        }
        for key, label in (("test_at_point", "test @point"), ("test_at_default", "test @default")):
            matrices[label] = best.get(key, {}).get("confusion_matrix")
        matrices = {k: v for k, v in matrices.items() if v is not None}
        title = "best trial, final epoch"
        body = _confusion_figure(matrices, _class_names(run), tmp / "cm.png", title)
        sections.append(Section("confusion", "Confusion matrices", body))
    return "Sweep", sections


PAGES = {
    "train": _train_page,
    "article": _article_page,
    "compare": _compare_page,
    "sweep": _sweep_page,
}


# --- sections shared by the pages ----------------------------------------------------------


def _config_section(config: dict, note: str, runs: list[Run], extra: str = "") -> Section:
    body = f'<p class="note">{_esc(note)}</p>' + _kv_table(config)
    rows, seen = [], set()
    for run in runs:
        if run.group in seen:
            continue
        seen.add(run.group)
        rows.append([run.group, _changes(_differences(config, run.result.get("config", {})))])
    if len(rows) > 1 or any(changes != "none" for _, changes in rows):
        body += "<h3>How the runs differ from it</h3>" + _table(["run", "changes"], rows)
    if extra:
        body += "<h3>Strategies</h3>" + extra
    return Section("config", "Configuration", body)


def _data_section(
    run: Run | None, config: dict, tmp: Path, runs: list[Run] | tuple = ()
) -> Section:
    if run is None:
        return Section("data", "Data", _none("no finished run in this folder yet"))
    notes = run.result.get("data", {})
    splits = {"train": notes.get("train"), "val": notes.get("val"), "test": notes.get("test")}
    if notes.get("val_is_test"):
        splits = {"train": splits["train"], "test (= validation)": splits["test"]}
    splits = {k: v for k, v in splits.items() if isinstance(v, dict)}
    body = ""
    if run.name:
        body += f'<p class="note">Counts of run <code>{_esc(run.name)}</code>.</p>'
    body += (
        f"<p>Source <code>{_esc(notes.get('source', config.get('data', '?')))}</code>, "
        f"imbalance {_esc(notes.get('imbalance', '–'))}.{_loading_note(notes.get('loading', {}))}</p>"
    )
    if splits:
        classes = list(dict.fromkeys(c for counts in splits.values() for c in counts))
        columns = {**splits, "available for training": notes.get("available_train") or {}}
        body += _table(
            ["class", *columns], [[c, *(str(v.get(c, "–")) for v in columns.values())] for c in classes]
        )  # fmt: skip
        from imbalance_lab.reports.plots import class_count_bars

        chart = class_count_bars(splits, tmp / "counts.png", "images per class and split")
        body += _figure_file(chart, "class counts per split")
    trains = {r.group: r.result.get("data", {}).get("train") for r in runs}
    if len({json.dumps(v) for v in trains.values()}) > 1:
        classes = list(dict.fromkeys(c for v in trains.values() if v for c in v))
        body += "<h3>Training counts per run</h3>" + _table(
            ["run", *classes], [[g, *(str((v or {}).get(c, "–")) for c in classes)] for g, v in trains.items()]
        )  # fmt: skip
    body += "<h3>Sample images</h3>" + _samples(config, tmp)
    return Section("data", "Data", body)


def _samples(config: dict, tmp: Path) -> str:
    from imbalance_lab.reports.plots import image_grid

    images = _sample_images(config)
    if isinstance(images, str):
        return (
            f'<p class="note">The images could not be loaded, so none are shown: {_esc(images)}</p>'
        )
    shown = dict(list(images.items())[:MAX_SAMPLE_CLASSES])
    grid = image_grid(shown, tmp / "samples.png", f"test images, {SAMPLES_PER_CLASS} per class")
    body = _figure_file(grid, f"The first {SAMPLES_PER_CLASS} test images of each class.")
    if len(images) > len(shown):
        body += f'<p class="note">{len(images) - len(shown)} more classes are not shown.</p>'
    return body


def _sample_images(config: dict) -> dict[str, np.ndarray] | str:
    """The first test images of each class, or why they cannot be loaded."""
    from imbalance_lab.config import RunConfig
    from imbalance_lab.data import build_task

    try:
        task = build_task(RunConfig.from_dict(config, source="the run's config"))
    except Exception as exc:  # data moved, offline, damaged: the rest of the report still stands
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"{type(exc).__name__}: {first[:300]}"
    labels = task.test.labels.numpy()
    return {
        name: task.test.images[np.flatnonzero(labels == i)[:SAMPLES_PER_CLASS]].numpy()
        for i, name in enumerate(task.test.classes)
    }


def _epoch_curves(run: Run, tmp: Path) -> str:
    from imbalance_lab.reports.plots import epoch_metrics

    if not run.log.get("validation_accuracy_per_epoch"):
        return _none("log.json holds no per-epoch metrics")
    split = "test split" if run.result.get("data", {}).get("val_is_test") else "validation split"
    path = epoch_metrics(run.log, METRICS, tmp / "curves.png", f"{split} metrics per epoch")
    rows = [
        [str(epoch + 1), *(_num(run.log.get(f"validation_{m}_per_epoch", [])[epoch:epoch + 1]) for m in METRICS)]
        for epoch in range(len(run.log["validation_accuracy_per_epoch"]))
    ]  # fmt: skip
    return _figure_file(path, f"Validation metrics per epoch ({split}).") + _table(
        ["epoch", *(m.replace("_", " ") for m in METRICS)], rows
    )


def _pr_figure(runs: dict[str, Run], path: Path, subtitle: str) -> str:
    """PR curves of the positive class, one line per run; '' unless the task is binary."""
    from imbalance_lab.reports.plots import pr_curves

    curves, split = {}, "test"
    for label, run in runs.items():
        try:
            scores = np.load(run.dir / "scores.npz")
        except (OSError, ValueError):
            continue
        split = "test" if "test_scores" in scores else "val"
        if scores[f"{split}_scores"].ndim != 2 or scores[f"{split}_scores"].shape[1] != 2:
            return ""
        curves[label] = (scores[f"{split}_labels"], scores[f"{split}_scores"])
    if not curves:
        return ""
    val_is_test = next(iter(runs.values())).result.get("data", {}).get("val_is_test")
    where = {"test": "test split", "val": "validation split"}[split]
    if split == "val" and val_is_test:
        where = "validation (= test) split"
    return _figure_file(pr_curves(curves, path, f"{subtitle}, {where}"), f"{subtitle}, {where}")


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


def _confusion_figure(matrices: dict, classes: list[str], path: Path, title: str) -> str:
    from imbalance_lab.reports.plots import confusion_grid

    if not matrices:
        return _none("no confusion matrix in result.json")
    matrices = {k: np.asarray(v) for k, v in matrices.items()}
    return _figure_file(confusion_grid(matrices, classes, path, title), title)


def _final_metrics_table(final: dict, classes: list[str]) -> str:
    header = ["split", *(m.replace("_", " ") for m in METRICS), "AP", "ROC-AUC", "recall per class"]
    rows = []
    for block, label in (("train", "train"), ("val", "validation"), ("test", "test"), ("test_at_point", "test @point")):  # fmt: skip
        metrics = final.get(block)
        if not metrics:
            continue
        per_class = metrics.get("per_class_recall") or []
        rows.append(
            [label, *(_num([metrics.get(m)]) for m in (*METRICS, "average_precision", "roc_auc")),
             ", ".join(f"{c} {v:.3f}" for c, v in zip(classes, per_class, strict=False))]
        )  # fmt: skip
    return _table(header, rows) if rows else _none("result.json holds no final metrics")


def _other_plots(plots: dict[str, Path]) -> list[Section]:
    if not plots:
        return []
    body = "".join(_figure_file(path, name) for name, path in plots.items())
    return [Section("other-plots", "Other plots", body)]


# --- reading the folder ----------------------------------------------------------------------


def _read_run(folder: Path, name: str) -> Run | None:
    run_dir = folder / name if name else folder
    try:
        result = json.loads((run_dir / "result.json").read_text())
    except (OSError, ValueError):
        return None
    try:
        log = json.loads((run_dir / "log.json").read_text())
    except (OSError, ValueError):
        log = {}
    return Run(name, run_dir, result, log)


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _plot_files(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted((folder / "plots").glob("*.png"))}


def _class_names(run: Run | None) -> list[str]:
    if run is None:
        return []
    return list(run.result.get("config", {}).get("classes") or run.result.get("data", {}).get("test", {}))  # fmt: skip


def _differences(base: dict, other: dict) -> dict:
    skip = ("seed", *EXECUTION_KEYS)
    return {k: other.get(k) for k in other if k not in skip and other.get(k) != base.get(k)}


def _split_summary(text: str) -> tuple[str, str]:
    """(what comes before the results table, what comes after it), minus the title and plot links."""
    lines = _without_title(text).splitlines()
    table = [i for i, line in enumerate(lines) if line.lstrip().startswith("|")]
    if not table:
        cut = next((i for i, line in enumerate(lines) if line.startswith("## ")), len(lines))
        return "\n".join(lines[:cut]), "\n".join(lines[cut:])
    end = table[0]
    while end < len(lines) and lines[end].lstrip().startswith("|"):
        end += 1
    return "\n".join(lines[: table[0]]), "\n".join(lines[end:])


def _without_title(text: str) -> str:
    """The Markdown less its title (the page has its own) and its links to the plot files."""
    return "\n".join(line for line in text.splitlines() if not line.startswith(("# ", "Plots: ")))


def _csv_table(path: Path, caption: str) -> str:
    """A CSV file as a table; ``X_mean, X_std, X_ci95_low, X_ci95_high`` become one cell."""
    try:
        rows = list(csv.reader(io.StringIO(path.read_text())))
    except OSError:
        return _none(f"{path.name} not found")
    if not rows:
        return _none(f"{path.name} is empty")
    header, body = rows[0], rows[1:]
    columns: list[tuple[str, list[int]]] = []
    i = 0
    while i < len(header):
        stem = header[i].removesuffix("_mean")
        group = [f"{stem}_{s}" for s in ("mean", "std", "ci95_low", "ci95_high")]
        if header[i].endswith("_mean") and header[i : i + 4] == group:
            columns.append((stem.replace("_at_point", " @point").replace("_", " "), [i, i + 1, i + 2, i + 3]))  # fmt: skip
            i += 4
        else:
            columns.append((header[i].replace("_", " "), [i]))
            i += 1
    table = [
        [_csv_cell([row[j] for j in idx if j < len(row)]) for _, idx in columns] for row in body
    ]
    download = (
        f'<a download="{_esc(path.name)}" href="data:text/csv;base64,'
        f'{base64.b64encode(path.read_bytes()).decode()}">{_esc(path.name)}</a>'
    )
    return f'<p class="note">{_esc(caption)} The data: {download}.</p>' + _table(
        [name for name, _ in columns], table
    )


def _csv_cell(values: list[str]) -> str:
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        return " ".join(values)
    if len(numbers) == 4:
        mean, std, lo, hi = numbers
        return (
            f"{mean:.3f}"
            if std == 0 and lo == hi
            else f"{mean:.3f} ± {std:.3f} [{lo:.3f}, {hi:.3f}]"
        )
    value = numbers[0]
    return str(int(value)) if value.is_integer() and "." not in values[0] else f"{value:.3f}"


# --- HTML pieces -------------------------------------------------------------------------------


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _none(text: str) -> str:
    return f'<p class="note">{_esc(text)}</p>'


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


def _kv_table(values: dict) -> str:
    if not values:
        return _none("no configuration found")
    return _table(["key", "value"], [[k, _value(v)] for k, v in values.items()])


def _table(header: list[str], rows: list[list[str]]) -> str:
    """A table of plain-text cells; every cell is escaped here, numbers are right-aligned."""

    def cell(text: str, tag: str) -> str:
        numeric = tag == "td" and re.fullmatch(r"[-+]?[\d.]+( ± .*)?|–", text) is not None
        return f"<{tag}{' class=num' if numeric else ''}>{_esc(text)}</{tag}>"

    head = "".join(cell(h, "th") for h in header)
    body = "".join("<tr>" + "".join(cell(str(c), "td") for c in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _figure_file(path: Path, caption: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_esc(caption)}">'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _loading_note(loading: dict) -> str:
    parts = []
    if loading.get("skipped_bad_images"):
        parts.append(f"{loading['skipped_bad_images']} unreadable images skipped")
    if loading.get("ignored_non_images"):
        parts.append(f"{loading['ignored_non_images']} non-image files ignored")
    for mode, n in (loading.get("converted_modes") or {}).items():
        parts.append(f"{n} {mode} images converted to RGB")
    return (" Loading: " + _esc("; ".join(parts)) + ".") if parts else ""


def _page(title: str, folder: Path, sections: list[Section]) -> str:
    nav = "".join(f'<a href="#{s.id}">{_esc(s.title)}</a>' for s in sections)
    body = "".join(f'<section id="{s.id}"><h2>{_esc(s.title)}</h2>{s.body}</section>' for s in sections)  # fmt: skip
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{_esc(title)}</h1>\n"
        f'<p class="meta">imbalance-lab report of <code>{_esc(folder.resolve())}</code></p>\n'
        f"<nav>{nav}</nav>\n{body}\n</main>\n</body>\n</html>\n"
    )


# --- a small Markdown subset: headings, paragraphs, lists, tables, `code`, **bold** ------------


def _markdown(text: str) -> str:
    """The Markdown the summaries use, as HTML; headings move down one level under the page's h2."""
    out, block = [], []
    for line in [*text.splitlines(), ""]:
        if line.strip():
            block.append(line)
            continue
        if block:
            out.append(_markdown_block(block))
            block = []
    # Blank lines between list items give one list per item; join them back.
    return re.sub(r"</(ul|ol)><\1>", "", "".join(out))


def _markdown_block(lines: list[str]) -> str:
    parts, i = [], 0
    while i < len(lines):
        line = lines[i]
        heading = re.match(r"(#{1,5})\s+(.*)", line)
        if heading:
            level = min(len(heading.group(1)) + 1, 6)
            parts.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            i += 1
        elif line.lstrip().startswith("|"):
            j = i
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            parts.append(_markdown_table(lines[i:j]))
            i = j
        elif _list_item(line):
            tag = "ol" if _list_item(line)[0] == "ol" else "ul"
            items: list[str] = []
            while i < len(lines) and (_list_item(lines[i]) or lines[i].startswith(" ")):
                item = _list_item(lines[i])
                if item and item[0] == tag:
                    items.append(item[1])
                elif item:
                    break
                else:  # an indented continuation of the item before
                    items[-1] += " " + lines[i].strip()
                i += 1
            parts.append(
                f"<{tag}>" + "".join(f"<li>{_inline(t)}</li>" for t in items) + f"</{tag}>"
            )
        else:
            j = i
            while j < len(lines) and not (
                _list_item(lines[j]) or lines[j].lstrip().startswith(("|", "#"))
            ):
                j += 1
            j = max(j, i + 1)
            parts.append(f"<p>{_inline(' '.join(s.strip() for s in lines[i:j]))}</p>")
            i = j
    return "".join(parts)


def _list_item(line: str) -> tuple[str, str] | None:
    match = re.match(r"\s{0,3}(?:([-*])|(\d+)\.)\s+(.*)", line)
    if not match:
        return None
    return ("ul" if match.group(1) else "ol"), match.group(3)


def _markdown_table(lines: list[str]) -> str:
    rows = [
        [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        for line in lines
        if not re.fullmatch(r"\|?[\s:|-]+\|?", line.strip())
    ]
    if not rows:
        return ""
    head = "".join(f"<th>{_inline(c)}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in rows[1:]
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _inline(text: str) -> str:
    """Escape, then `code`, **bold**, *emphasis*; a link keeps its text only (no URL leaves the page)."""
    # Code spans are set aside first (their text is literal), so **bold `code`** still works.
    codes: list[str] = []

    def keep(match: re.Match) -> str:
        codes.append(f"<code>{_esc(match.group(1))}</code>")
        return f"\x00{len(codes) - 1}\x00"

    text = re.sub(r"`([^`]+)`", keep, text.replace("\x00", ""))
    text = _esc(re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text))
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", text)
    return re.sub("\x00(\\d+)\x00", lambda m: codes[int(m.group(1))], text)
