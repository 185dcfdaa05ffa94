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
    axes[0][0].legend(loc="lower left", fontsize=8)
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
