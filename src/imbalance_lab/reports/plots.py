"""Matplotlib figures, written as PNG files (no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from imbalance_lab.io import atomic_write_bytes  # noqa: E402

METRIC_STYLE = {"accuracy": "tab:blue", "recall": "tab:red", "precision": "tab:green"}


def _save(fig, path: Path) -> Path:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _band(ax, series: list[list[float]], color: str, label: str) -> None:
    """Mean over seeds as a line, min-max over seeds as a band."""
    arr = np.asarray(series, dtype=float)
    x = np.arange(1, arr.shape[1] + 1)
    ax.plot(x, arr.mean(axis=0), color=color, marker="o", ms=3, label=label)
    if arr.shape[0] > 1:
        ax.fill_between(x, arr.min(axis=0), arr.max(axis=0), color=color, alpha=0.2)


def validation_curves(
    runs: dict[str, list[dict]], titles: dict[str, str], path: Path, suptitle: str
) -> Path:
    """One panel per run: validation accuracy, recall and precision per epoch (the article's figures)."""
    names = [
        n for n, logs in runs.items() if logs and len(logs[0]["validation_accuracy_per_epoch"]) > 1
    ]
    fig, axes = plt.subplots(
        1, max(len(names), 1), figsize=(4.2 * max(len(names), 1), 3.4), squeeze=False
    )
    for ax, name in zip(axes[0], names, strict=False):
        for metric, color in METRIC_STYLE.items():
            _band(ax, [log[f"validation_{metric}_per_epoch"] for log in runs[name]], color, metric)
        ax.set_title(titles.get(name, name), fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation metric")
    if names:
        axes[0][0].legend(loc="lower left", fontsize=8)
    else:
        axes[0][0].text(0.5, 0.5, "no run has more than one epoch", ha="center", va="center")
    fig.suptitle(suptitle, fontsize=11)
    return _save(fig, path)


def training_loss(
    runs: dict[str, list[dict]], titles: dict[str, str], path: Path, suptitle: str
) -> Path:
    """Training loss per batch, one line per run (first seed), smoothed over 20 batches."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for name, logs in runs.items():
        losses = (
            np.asarray(logs[0]["training_loss_per_batch"], dtype=float) if logs else np.array([])
        )
        if losses.size < 2:
            continue
        k = min(20, losses.size)
        smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
        ax.plot(np.arange(k, losses.size + 1), smooth, label=titles.get(name, name), lw=1.2)
    ax.set_xlabel("training batch")
    ax.set_ylabel("loss (20-batch mean)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(suptitle, fontsize=11)
    return _save(fig, path)


def pr_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, subtitle: str) -> Path:
    """Precision-recall curve of the positive class, one line per strategy."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig, ax = plt.subplots(figsize=(6.4, 5))
    for name, (labels, scores) in curves.items():
        precision, recall, _ = precision_recall_curve(labels, scores[:, 1])
        ap = average_precision_score(labels, scores[:, 1])
        ax.plot(recall, precision, lw=1.3, label=f"{name} (AP {ap:.3f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title(f"Precision-recall per strategy ({subtitle})", fontsize=10)
    return _save(fig, path)


def confusion_grid(
    matrices: dict[str, np.ndarray], classes: list[str], path: Path, title: str
) -> Path:
    """One row-normalised confusion matrix per strategy, with the counts written in."""
    n = len(matrices)
    cols = min(n, 5)
    rows = -(-n // cols)
    size = 2.4 if len(classes) <= 3 else 3.6
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + 0.6), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, (name, cm) in zip(axes.flat, matrices.items(), strict=False):
        cm = np.asarray(cm)
        rates = cm / np.clip(cm.sum(axis=1, keepdims=True), 1, None)
        ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
        if len(classes) <= 4:
            for i in range(cm.shape[0]):
                for j in range(cm.shape[1]):
                    ax.text(j, i, f"{cm[i, j]}", ha="center", va="center", fontsize=8,
                            color="white" if rates[i, j] > 0.6 else "black")  # fmt: skip
        ticks = range(len(classes))
        ax.set_xticks(ticks, classes, fontsize=7, rotation=90 if len(classes) > 4 else 0)
        ax.set_yticks(ticks, classes, fontsize=7)
        ax.set_title(name, fontsize=9)
    fig.supxlabel("predicted", fontsize=9)
    fig.supylabel("true", fontsize=9)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def metric_curves(logs: dict[str, list[dict]], metrics: tuple[str, ...], path: Path) -> Path:
    """Validation metrics per epoch, one line per strategy (mean over seeds)."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.8), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for name, runs in logs.items():
            arr = np.asarray([log[f"validation_{metric}_per_epoch"] for log in runs], dtype=float)
            ax.plot(np.arange(1, arr.shape[1] + 1), arr.mean(axis=0), lw=1.2, label=name)
        ax.set_title(f"calibration-split {metric.replace('_', ' ')} per epoch", fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    return _save(fig, path)


def class_count_bars(counts: dict[str, dict[str, int]], path: Path, title: str) -> Path:
    """Images per class in each split, as grouped bars with the counts written on top."""
    splits = list(counts)
    classes = list(dict.fromkeys(name for per_class in counts.values() for name in per_class))
    x = np.arange(len(classes))
    width = 0.8 / max(len(splits), 1)
    fig, ax = plt.subplots(figsize=(min(4 + 0.5 * len(classes) * len(splits), 11), 3.6))
    for i, split in enumerate(splits):
        values = [counts[split].get(name, 0) for name in classes]
        bars = ax.bar(x + (i - (len(splits) - 1) / 2) * width, values, width, label=split)
        if len(classes) * len(splits) <= 30:
            ax.bar_label(bars, fontsize=7)
    ax.set_xticks(x, classes, fontsize=8, rotation=45 if len(classes) > 6 else 0)
    ax.set_ylabel("images")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def image_grid(images: dict[str, np.ndarray], path: Path, title: str) -> Path:
    """One row of sample images per class; ``images[name]`` is uint8 (N, C, H, W)."""
    cols = max((len(batch) for batch in images.values()), default=1) or 1
    rows = max(len(images), 1)
    fig, axes = plt.subplots(
        rows, cols, figsize=(0.85 * cols + 1.4, 0.85 * rows + 0.6), squeeze=False
    )
    for row, (name, batch) in zip(axes, images.items(), strict=False):
        for j, ax in enumerate(row):
            # Ticks and spines off by hand: axis("off") would hide the class name too.
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j < len(batch):
                pixels = np.moveaxis(np.asarray(batch[j]), 0, -1)
                gray = pixels.shape[-1] == 1
                ax.imshow(pixels[..., 0] if gray else pixels, cmap="gray" if gray else None,
                          vmin=0, vmax=255, interpolation="nearest")  # fmt: skip
        row[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def epoch_metrics(log: dict, metrics: tuple[str, ...], path: Path, title: str) -> Path:
    """One run: validation metrics per epoch, and the training and validation loss beside them."""
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.6))
    for metric in metrics:
        values = log.get(f"validation_{metric}_per_epoch") or []
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, values, marker="o", ms=4, lw=1.2, label=metric.replace("_", " "))
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("validation metric")
    for key, label in (("training_loss_per_epoch", "training"), ("validation_loss_per_epoch", "validation")):  # fmt: skip
        values = log.get(key) or []
        ax_loss.plot(np.arange(1, len(values) + 1), values, marker="o", ms=4, lw=1.2, label=label)
    ax_loss.set_ylabel("loss")
    n_epochs = len(log.get("validation_accuracy_per_epoch") or [])
    for axis in (ax, ax_loss):
        axis.set_xlabel("epoch")
        if n_epochs <= 20:
            axis.set_xticks(np.arange(1, n_epochs + 1))
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def tradeoff_curve(points: list[tuple[float, dict]], path: Path) -> Path:
    """The article's trade-off: recall, precision and accuracy against the minority weight."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    w = [p[0] for p in points]
    for metric, color in METRIC_STYLE.items():
        ax.plot(w, [p[1][metric] for p in points], marker="o", ms=4, color=color, label=metric)
    ax.set_xlabel("minority-class weight w (class weights (1 - w, w))")
    ax.set_ylabel("calibration-split metric (argmax)")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Trade-off against the class weight", fontsize=10)
    return _save(fig, path)


def optimisation_history(trials: list[dict], objective: str, path: Path) -> Path:
    """Objective of every completed trial (trials.json entries), in order, and the best so far."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    numbers = [t["number"] for t in trials]
    values = [t["value"] for t in trials]
    ax.scatter(numbers, values, s=18, label="trial")
    ax.step(
        numbers, np.maximum.accumulate(values), where="post", color="tab:red", label="best so far"
    )
    ax.set_xlabel("trial")
    ax.set_ylabel(f"objective ({objective}) on calibration")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Optimisation history", fontsize=10)
    return _save(fig, path)
