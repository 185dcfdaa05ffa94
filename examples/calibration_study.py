"""Where to choose a recall operating point: split:0.1, split:0.2, cv:5 (ensemble or refit)
or cv:5x3 (matched).

Trains, per seed, one run per calibration and scores each chosen point twice:

- on the training images the run's imbalanced set left out (never the test split): what
  the choices below (deployed model, threshold rule) were made on;
- on the test split, reported only: the chosen point's recall, and the gap between its
  precision and the best precision any threshold reaches at recall >= the target there.

    python examples/calibration_study.py --data ../shared/datasets/cifar10 \\
        --out runs/calibration --task article --seeds 0,1,2 --workers 2

``--task article`` is the article's 4:1 cats-vs-dogs set (4800 + 1200); ``--task few`` keeps
50 dogs beside 1000 cats; ``--task fashion-few`` 50 coats beside 1000 pullovers of
Fashion-MNIST (``--data fashion-mnist:/usr/share/datasets/fashion-mnist``). The cv:5 ensemble reuses the refit run's fold models. Reruns skip
finished runs. Prints one table per task and writes study.json beside the runs.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
from score_left_out import left_out_probabilities  # examples/, beside this script

from imbalance_lab.config import RunConfig
from imbalance_lab.evaluation.metrics import classification_metrics
from imbalance_lab.evaluation.thresholds import THRESHOLD_RULES, choose_operating_point
from imbalance_lab.experiments.runner import PlannedRun, run_all
from imbalance_lab.rundir import RunFolder

TASKS = {
    "article": dict(classes=("cat", "dog"), ratio="4"),
    "few": dict(classes=("cat", "dog"), counts="1000,50"),
    # A second real dataset: coats, rare among pullovers (--data fashion-mnist:DIR).
    "fashion-few": dict(classes=("Pullover", "Coat"), counts="1000,50"),
}
CALIBRATIONS = {
    "split-0.1": dict(calibration="split:0.1"),
    "split-0.2": dict(calibration="split:0.2"),
    "cv-5-refit": dict(calibration="cv:5", cv_model="refit"),
    "cv-5-ensemble": dict(calibration="cv:5", cv_model="ensemble"),
    "cv-5x3-matched": dict(calibration="cv:5x3", cv_model="matched"),
}
TRAININGS = {"split-0.1": 1, "split-0.2": 1, "cv-5-refit": 6, "cv-5-ensemble": 5,
             "cv-5x3-matched": 15}  # fmt: skip


def configs(data: str, task: str, seeds: list[int], epochs: int, objective: str, extra: dict):
    base = dict(data=data, model="article-convnet", epochs=epochs, batch_size=64, lr=1e-3,
                objective=objective, **TASKS[task], **extra)  # fmt: skip
    return {
        (name, seed): RunConfig(**base, **changes, seed=seed)
        for name, changes in CALIBRATIONS.items()
        for seed in seeds
    }


def best_precision_at(labels: np.ndarray, p: np.ndarray, target: float) -> float:
    """The highest precision any threshold reaches with recall >= target on (labels, p)."""
    order = np.argsort(-p, kind="stable")
    hits = np.cumsum(labels[order] == 1)
    predicted = np.arange(1, len(p) + 1)
    # Only thresholds between distinct scores are attainable.
    last = np.r_[p[order][1:] != p[order][:-1], True]
    recall, precision = hits / max(1, (labels == 1).sum()), hits / predicted
    ok = last & (recall >= target - 1e-12)
    return float(precision[ok].max()) if ok.any() else float("nan")


def plain_threshold(labels: np.ndarray, p: np.ndarray, target: float) -> float:
    """The highest threshold that recalls a fraction ``target`` of the calibration positives,
    with no correction: on new data it recalls about 1/(n+1) less in expectation."""
    pos = np.sort(p[labels == 1])
    return float(pos[int(np.floor(len(pos) * (1 - target) + 1e-9))])


def interpolated_threshold(labels: np.ndarray, p: np.ndarray, target: float) -> float:
    """The (1 - target) quantile of the positives' scores, interpolated between order
    statistics at the position (1 - target)(n + 1): the k-th of n sorted scores falls, in
    expectation, at the k/(n + 1) quantile of the score distribution (Hyndman & Fan 1996,
    definition 6), so the recall on new data is ``target`` in expectation without the
    expected rule's rounding up; not offered as a rule (docs/calibration.md says why)."""
    pos = np.sort(p[labels == 1])
    h = min(max((1 - target) * (len(pos) + 1) - 1, 0.0), len(pos) - 1.0)
    lo = int(np.floor(h))
    hi = min(lo + 1, len(pos) - 1)
    return float(pos[lo] + (h - lo) * (pos[hi] - pos[lo]))


def at_threshold(labels: np.ndarray, p: np.ndarray, t: float) -> dict:
    m = classification_metrics(labels, (p >= t).astype(np.int64), 2)
    return {"recall": m["recall"], "precision": m["precision"]}


def left_out_scores(run: Path) -> tuple[np.ndarray, np.ndarray]:
    images, probs, _ = left_out_probabilities(run)
    return images.labels.numpy(), probs[:, 1]


def measure(run: Path, cfg: RunConfig, target: float, delta: float) -> dict:
    result = RunFolder(run).result()
    scores = RunFolder(run).scores()
    cal_labels, cal_scores = scores["val"]
    test_labels, test_p = scores["test"][0], scores["test"][1][:, 1]
    held_labels, held_p = left_out_scores(run)
    row = {"positives": int((cal_labels == 1).sum()), "rules": {}}
    for rule in THRESHOLD_RULES.names():
        point = choose_operating_point(cal_labels, cal_scores, cfg.objective, rule=rule,
                                       delta=delta)  # fmt: skip
        test = at_threshold(test_labels, test_p, point.value)
        row["rules"][rule] = {
            "threshold": point.value,
            "met_on_calibration": point.met,
            "interval": point.interval,
            "left_out": at_threshold(held_labels, held_p, point.value),
            "test": test,
            "test_precision_gap": best_precision_at(test_labels, test_p, target)
            - test["precision"],
        }
    for name, find in (("plain", plain_threshold), ("interpolated", interpolated_threshold)):
        t = find(cal_labels, cal_scores[:, 1], target)
        test = at_threshold(test_labels, test_p, t)
        row["rules"][name] = {
            "threshold": t,
            "left_out": at_threshold(held_labels, held_p, t),
            "test": test,
            "test_precision_gap": best_precision_at(test_labels, test_p, target)
            - test["precision"],
        }
    row["test_best_precision"] = best_precision_at(test_labels, test_p, target)
    row["left_out_best_precision"] = best_precision_at(held_labels, held_p, target)
    row["training_seconds"] = (
        result["final"]
        .get("cross_fitting", {})
        .get("training_seconds", float(np.sum(RunFolder(run).log().get("epoch_seconds", []))))
    )
    return row


def mean_std(values: list[float]) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.3f}±{v.std(ddof=1) if len(v) > 1 else 0:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--task", choices=sorted(TASKS), default="article")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--objective", default="recall>=0.9")
    parser.add_argument("--delta", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--calibrations", default=",".join(CALIBRATIONS))
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another run parameter for every run, e.g. augment=all",
    )
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    chosen = args.calibrations.split(",")
    out = args.out / args.task
    extra = dict(item.split("=", 1) for item in args.set)
    runs = configs(args.data, args.task, seeds, args.epochs, args.objective, extra)
    planned = [PlannedRun(f"{name}/seed-{seed}", cfg) for (name, seed), cfg in runs.items()
               if name in chosen and name != "cv-5-ensemble"]  # fmt: skip
    run_all(planned, out, workers=args.workers, progress=False)
    if "cv-5-ensemble" in chosen:  # the refit run's fold models, deployed as their ensemble
        for seed in seeds:
            folds = out / "cv-5-ensemble" / f"seed-{seed}" / "folds"
            folds.parent.mkdir(parents=True, exist_ok=True)
            if not folds.exists():
                os.symlink(Path("..", "..", "cv-5-refit", f"seed-{seed}", "folds"), folds)
        run_all([PlannedRun(f"cv-5-ensemble/seed-{seed}", runs["cv-5-ensemble", seed])
                 for seed in seeds], out, progress=False)  # fmt: skip
    target = float(args.objective.split(">=")[1])
    table = {}
    for (name, seed), cfg in runs.items():
        if name in chosen:
            table.setdefault(name, {})[seed] = measure(out / name / f"seed-{seed}", cfg, target,
                                                       args.delta)  # fmt: skip
    saved = out / "study.json"  # the calibrations measured before stay beside these
    earlier = json.loads(saved.read_text()) if saved.exists() else {}
    saved.write_text(json.dumps({**earlier, **table}, indent=1))
    print(f"task {args.task}, {args.objective}, seeds {seeds}; mean ± std over the seeds")
    header = (f"{'calibration':<14}{'rule':<17}{'pos':>6}{'left-out recall':>17}"
              f"{'test recall':>15}{'test prec':>13}{'gap to best':>15}{'train s':>9}")  # fmt: skip
    print(header)
    for name, per_seed in table.items():
        rows = list(per_seed.values())
        for rule in [*THRESHOLD_RULES.names(), "plain", "interpolated"]:
            cells = [[r["rules"][rule]["left_out"]["recall"] for r in rows],
                     [r["rules"][rule]["test"]["recall"] for r in rows],
                     [r["rules"][rule]["test"]["precision"] for r in rows],
                     [r["rules"][rule]["test_precision_gap"] for r in rows]]  # fmt: skip
            text = [mean_std(values) for values in cells]
            print(f"{name:<14}{rule:<17}{np.mean([r['positives'] for r in rows]):>6.0f}"
                  f"{text[0]:>17}{text[1]:>15}{text[2]:>13}{text[3]:>15}"
                  f"{np.mean([r['training_seconds'] for r in rows]):>9.0f}")  # fmt: skip
        for seed, r in per_seed.items():
            e = r["rules"]["expected"]
            print(f"    seed {seed}: expected rule test recall {e['test']['recall']:.4f}, "
                  f"precision {e['test']['precision']:.4f} (best {r['test_best_precision']:.4f}), "
                  f"left-out recall {e['left_out']['recall']:.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
