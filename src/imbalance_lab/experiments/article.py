"""The article's study, end to end: mock model, 4:1 CNN, class weights, balanced data.

"Class Imbalance in Image Datasets & Its Effect on CNNs" (O. Olu-Ipinlaye): cats
(label 0) vs dogs (label 1) from CIFAR-10, 4800 cats and 1200 dogs for training,
the balanced test split (1000 + 1000) for validation, the article's ConvNet, Adam
lr 1e-3, batch 64, 10 epochs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imbalance_lab.config import RunConfig
from imbalance_lab.experiments.runner import PlannedRun, claim_study, run_all
from imbalance_lab.io import atomic_write_json
from imbalance_lab.rundir import ARTICLE


@dataclass(frozen=True)
class ArticleRun:
    name: str  # folder and table name
    label: str  # what the article calls it
    changes: dict  # RunConfig fields that differ from the article's base config
    article: dict  # the article's own figures for this run (final epoch), as reported


ARTICLE_RUNS = (
    ArticleRun(
        "mock", "Mock model (always 'cat')", {"model": "majority"},
        {"training_accuracy": 0.80, "validation_accuracy": 0.50, "validation_recall": 0.0, "validation_precision": 0.0},
    ),
    ArticleRun(
        "cnn-4to1", "ConvNet on 4:1 data", {},
        {"training_accuracy": 0.80, "validation_accuracy": 0.50, "validation_recall": 0.0},
    ),
    ArticleRun(
        "weights-0-1", "Class weights (0, 1)", {"class_weights": (0.0, 1.0)},
        {"validation_accuracy": 0.50, "validation_recall": 1.0, "validation_precision": 0.50},
    ),
    ArticleRun(
        "weights-0.15-0.85", "Class weights (0.15, 0.85)", {"class_weights": (0.15, 0.85)},
        {"validation_accuracy": 0.65, "validation_recall": 0.70},
    ),
    ArticleRun(
        "balanced", "ConvNet on balanced data (5000/5000)", {"ratio": "1"},
        {"validation_accuracy": 0.70},
    ),
)  # fmt: skip

# Notes on the article's figures that a number alone cannot carry.
ARTICLE_NOTES = {
    "weights-0.15-0.85": "≈0.65 accuracy and ≈0.70 recall",
    "balanced": "> 0.70 accuracy; recall dips under 0.50 at epoch 5",
}


# The article's setting: Adam lr 1e-3, batch 64, 10 epochs, the balanced test split as
# validation (monitored only), 4800 cats and 1200 dogs.
ARTICLE_BASE = dict(
    classes=("cat", "dog"), ratio="4", model="article-convnet", epochs=10, batch_size=64, lr=1e-3,
)  # fmt: skip


def write_article_runs(out: Path) -> None:
    """article.json: the runs as the report names them, beside the article's own figures."""
    base = next(spec.name for spec in ARTICLE_RUNS if not spec.changes)
    runs = [
        {
            "name": spec.name,
            "label": spec.label,
            "article": spec.article,
            "note": ARTICLE_NOTES.get(spec.name),
        }
        for spec in ARTICLE_RUNS
    ]
    atomic_write_json(out / ARTICLE, {"base": base, "runs": runs})


# reproduce article's defaults: the article's setting (shown in --help).
DEFAULTS = {
    "data": ("cifar10:", "the article's CIFAR-10, downloaded by torchvision when online"),
    **{key: (value, "the article's setting") for key, value in ARTICLE_BASE.items()},
}


def plan_article(base: RunConfig, *, seeds: list[int], modes: list[str]) -> list[PlannedRun]:
    runs = []
    for mode in modes:
        for spec in ARTICLE_RUNS:
            for seed in seeds:
                cfg = base.replace(seed=seed, faithful=mode == "faithful", **spec.changes)
                if spec.name == "mock":
                    cfg = cfg.replace(epochs=1, faithful=False)
                runs.append(PlannedRun(f"{mode}/{spec.name}/seed-{seed}", cfg))
    return runs


def reproduce_article(
    base: RunConfig,
    out: str | Path,
    *,
    seeds: int = 1,
    modes: tuple[str, ...] = ("corrected",),
    progress: bool = True,
    force: bool = False,
    workers: int = 1,
    echo=print,
) -> dict:
    """Run the study on ``base`` (the article's setting, see ARTICLE_BASE), skipping runs
    already finished in ``out``, and write its summary and plots."""
    from imbalance_lab.reports.article import write_article_report

    out = Path(out)
    seed_list = list(range(base.seed, base.seed + seeds))
    runs = plan_article(base, seeds=seed_list, modes=list(modes))
    study = {
        "study": "article",
        "data": base.data,
        "epochs": base.epochs,
        "seeds": seed_list,
        "modes": list(modes),
    }
    claim_study(out, study, same=("data", "epochs"), merge=("modes", "seeds"), force=force)
    write_article_runs(out)
    run_all(runs, out, workers=workers, progress=progress, echo=echo, force=force)
    return write_article_report(out)
