"""The article study's results, read from its folder: summary.md, summary.csv and plots/.

What the report knows of the article's runs (names, labels, the article's own figures)
comes from article.json, which ``reproduce article`` writes beside study.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imbalance_lab.io import atomic_write_text
from imbalance_lab.reports.plots import training_loss, validation_curves
from imbalance_lab.reports.render import render
from imbalance_lab.reports.tables import Table, csv_text, fmt_mean_std, mean_std
from imbalance_lab.rundir import ARTICLE, STUDY, RunFolder, read_study_file

MODES = ("faithful", "corrected")
COLUMNS = (  # (header, log key of the final epoch, index into a per-class list)
    ("train acc", "training_accuracy", None),
    ("val acc", "validation_accuracy", None),
    ("val recall (dog)", "validation_recall", None),
    ("val recall (cat)", "validation_per_class_recall", 0),
    ("val precision (dog)", "validation_precision", None),
    ("val F1 (dog)", "validation_f1", None),
    ("val balanced acc", "validation_balanced_accuracy", None),
)
HEADER = ["mode", "run", "seeds", *(c[0] for c in COLUMNS), "article (final epoch)"]


@dataclass(frozen=True)
class Finding:
    headline: str  # one sentence, set in bold
    text: str  # the numbers behind it


@dataclass(frozen=True)
class Row:
    mode: str  # "faithful" or "corrected"
    run: dict  # the run's entry in article.json: name, label, article, note
    logs: list[dict]  # log.json of each finished seed

    def values(self) -> list[list[float]]:
        """Per column, the final-epoch value of each seed."""
        return [[_final(log, key, index) for log in self.logs] for _, key, index in COLUMNS]

    @property
    def article(self) -> str:
        """What the article reports for this run."""
        if self.run["note"]:
            return self.run["note"]
        return ", ".join(
            f"{k.replace('validation_', 'val ').replace('training_', 'train ')} {v:.2f}"
            for k, v in self.run["article"].items()
        )


@dataclass(frozen=True)
class ArticleResults:
    study: dict  # study.json: data, epochs, seeds, modes
    runs: list[dict]  # article.json's runs, in the article's order
    base: str  # the run whose config the others change a field or two of
    logs: dict[str, dict[str, list[dict]]]  # {mode: {run: [log.json of each finished seed]}}

    @property
    def modes(self) -> list[str]:
        return _modes(self.study)

    def rows(self) -> list[Row]:
        return [
            Row(mode, run, logs)
            for mode, by_run in self.logs.items()
            for run in self.runs
            if (logs := by_run.get(run["name"]))
        ]

    def table(self) -> Table:
        cells = [
            [
                row.mode,
                row.run["label"],
                str(len(row.logs)),
                *map(fmt_mean_std, row.values()),
                row.article,
            ]
            for row in self.rows()
        ]
        return Table(HEADER, cells)

    def csv(self) -> str:
        cells = [
            [
                row.mode,
                row.run["name"],
                len(row.logs),
                *(round(mean_std(v)[0], 4) for v in row.values()),
                row.article,
            ]
            for row in self.rows()
        ]
        return csv_text(HEADER, cells)

    def mean(self, mode: str, run: str, key: str, index: int | None = None) -> float | None:
        logs = self.logs.get(mode, {}).get(run)
        return mean_std([_final(log, key, index) for log in logs])[0] if logs else None

    def findings(self) -> list[Finding]:
        """What the study shows, in this folder's numbers."""
        found = []
        if (recall := self.mean("faithful", self.base, "validation_recall")) is not None:
            accuracy = self.mean("faithful", self.base, "validation_accuracy")
            found.append(
                Finding(
                    "Faithful mode reproduces the article's collapse.",
                    f"On 4:1 data the ConvNet ends at validation recall {recall:.3f} and accuracy "
                    f"{accuracy:.3f}: like the mock model, it calls (almost) every image a cat.",
                )
            )
        if (dog := self.mean("corrected", self.base, "validation_recall")) is not None:
            cat = self.mean("corrected", self.base, "validation_per_class_recall", 0)
            accuracy = self.mean("corrected", self.base, "validation_accuracy")
            text = (
                f"On the same 4:1 data it learns (validation accuracy {accuracy:.3f}), but dog "
                f"recall is {dog:.3f} against cat recall {cat:.3f}: the rare class is the one it misses."
            )
            if (balanced := self.mean("corrected", "balanced", "validation_recall")) is not None:
                text += f" Trained on balanced data, dog recall is {balanced:.3f}."
            found.append(Finding("The corrected model shows the real effect of imbalance.", text))
        return found


def read_article(out: Path) -> ArticleResults:
    study = read_study_file(out, STUDY)
    article = read_study_file(out, ARTICLE)
    logs: dict[str, dict[str, list[dict]]] = {}
    for mode in _modes(study):
        for run in article["runs"]:
            for seed in study["seeds"]:
                folder = RunFolder(out / mode / run["name"] / f"seed-{seed}")
                if folder.result() is not None:
                    logs.setdefault(mode, {}).setdefault(run["name"], []).append(folder.log())
    return ArticleResults(study, article["runs"], article["base"], logs)


def write_article_report(out: Path) -> dict:
    out = Path(out)
    results = read_article(out)
    plots = _plots(results, out)
    text = render(
        "article/summary.md",
        study=results.study,
        table=results.table(),
        plots=plots,
        findings=results.findings(),
    )
    atomic_write_text(out / "summary.md", text)
    atomic_write_text(out / "summary.csv", results.csv())
    return {"summary": out / "summary.md", "csv": out / "summary.csv", "plots": plots}


def _plots(results: ArticleResults, out: Path) -> list[Path]:
    titles = {run["name"]: run["label"] for run in results.runs}
    plots = []
    for mode, by_run in results.logs.items():
        plots.append(
            validation_curves(
                by_run,
                titles,
                out / "plots" / f"{mode}-validation-metrics.png",
                f"{mode}: validation metrics per epoch (mean, min-max over seeds)",
            )
        )
        plots.append(
            training_loss(
                by_run,
                titles,
                out / "plots" / f"{mode}-training-loss.png",
                f"{mode}: training loss",
            )
        )
    return plots


def _modes(study: dict) -> list[str]:
    return [mode for mode in MODES if mode in study["modes"]]


def _final(log: dict, key: str, index: int | None) -> float:
    value = log[f"{key}_per_epoch"][-1]
    return float(value[index] if index is not None else value)
