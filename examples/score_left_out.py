"""Score finished runs on the training images their imbalanced set left out.

The 4:1 cats-vs-dogs set picks 4800 of CIFAR-10's 5000 training cats and 1200 of its
5000 dogs, so 200 cats and 3800 dogs are never seen by the run. They are not the test
split, so choosing between recipes on them keeps the test split for the final report
only. The best recipe's settings were chosen this way (README, "A recipe that meets").

    python examples/score_left_out.py results/best/seed-0 results/best/seed-1 ...

Prints, per run and as mean ± std over the runs: balanced accuracy at the default
point (argmax of the averaged test-time views) and ROC-AUC; for a binary run with a
saved threshold, also the positive class's recall at that threshold (with 3800 dogs,
a far closer estimate than the calibration split's 120 can give).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from imbalance_lab.config import RunConfig
from imbalance_lab.data import left_out
from imbalance_lab.errors import ImbalanceLabError
from imbalance_lab.evaluation.metrics import classification_metrics, score_metrics
from imbalance_lab.evaluation.thresholds import predict_at
from imbalance_lab.models.inference import class_probabilities
from imbalance_lab.models.predict import saved_operating_point
from imbalance_lab.models.saved import load_saved_model, prepare_images
from imbalance_lab.training.device import set_threads


def left_out_probabilities(run: Path):
    """(the left-out images, the run's saved model's class probabilities on them, its meta)."""
    cfg = RunConfig.from_dict(json.loads((run / "result.json").read_text())["config"])
    images = left_out(cfg)
    model, meta = load_saved_model(run / "model.pt")
    with torch.no_grad():
        probs = torch.cat([
            class_probabilities(model, prepare_images(images.images[i : i + 500], meta),
                                tta=meta["tta"], faithful=meta["faithful"])[0]
            for i in range(0, len(images), 500)
        ]).numpy()  # fmt: skip
    return images, probs, meta


def score(run: Path) -> dict:
    images, probs, meta = left_out_probabilities(run)
    labels = images.labels.numpy()
    metrics = classification_metrics(labels, probs.argmax(axis=1), images.num_classes)
    row = {"images": images.class_counts(), **metrics, **score_metrics(labels, probs)}
    point, _ = saved_operating_point(meta)
    if point is not None and point.kind == "threshold":
        at_point = classification_metrics(labels, predict_at(probs, point), 2)
        row["recall_at_threshold"] = at_point["recall"]
    return row


def main(runs: list[str]) -> None:
    if not runs:
        sys.exit(__doc__)
    rows = []
    for run in map(Path, runs):
        if not (run / "result.json").is_file():
            sys.exit(f"error: {run} holds no finished run (no result.json)")
        try:
            row = score(run)
        except ImbalanceLabError as exc:
            sys.exit(f"error: {run}: {exc}")
        rows.append(row)
        at_point = (f"  recall at the threshold {row['recall_at_threshold']:.4f}"
                    if "recall_at_threshold" in row else "")  # fmt: skip
        print(f"{run}: {row['images']}  balanced accuracy {row['balanced_accuracy']:.4f}  "
              f"ROC-AUC {row['roc_auc']:.4f}{at_point}")  # fmt: skip
    for key in ("balanced_accuracy", "roc_auc", "recall_at_threshold"):
        values = np.array([row[key] for row in rows if key in row])
        if len(values) == 0:
            continue
        spread = values.std(ddof=1) if len(values) > 1 else 0.0
        print(f"{key}: {values.mean():.4f} ± {spread:.4f} over {len(values)} runs")


if __name__ == "__main__":
    set_threads(None)  # all cores, or IMBALANCE_LAB_THREADS
    main(sys.argv[1:])
