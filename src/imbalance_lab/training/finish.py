"""The end of a run: final metrics, the operating point, and the run folder's files.

The operating point is chosen on the calibration split only; the test split is
scored once, here, at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from imbalance_lab.data.imageset import ImageSet
from imbalance_lab.evaluation.metrics import classification_metrics, score_metrics
from imbalance_lab.evaluation.thresholds import (
    choose_operating_point,
    interval_warning,
    predict_at,
)
from imbalance_lab.models.saved import model_meta, save_model
from imbalance_lab.rundir import MODEL, RunFolder
from imbalance_lab.training.checkpoint import remove_checkpoints
from imbalance_lab.training.device import machine
from imbalance_lab.training.evaluate import evaluate
from imbalance_lab.training.plan import class_counts

SAMPLES_PER_CLASS = 8  # images per class kept for reports: enough to see the classes
SAMPLE_CLASSES = 20  # at most this many classes get sample images
SAMPLE_SIZE = 96  # larger samples are scaled down to this side for the report


@dataclass
class TrainResult:
    model: nn.Module  # the model after the last epoch (with ema, its weight average), in eval mode
    log: dict  # per-batch losses and per-epoch metrics (the article's log_dict keys and more)
    final: dict  # metrics of the last epoch: {"train": ..., "val": ..., "test": ...}
    out_dir: Path | None  # where log, model and result were written
    resumed_from: int = 0  # epochs that came from a checkpoint


def finish(
    s, log: dict, *, resumed: int, evaluate_test: bool = True, val_probs=None
) -> TrainResult:
    """Final metrics and scores of the session ``s`` (training/trainer.py); writes its run folder."""
    cfg, task, model = s.cfg, s.task, s.scored
    final = _last_epoch(log) if "training_accuracy_per_epoch" in log else _mock_metrics(s, log)
    # Probabilities on the validation (calibration) and test splits: PR curves, AP, ROC-AUC.
    # They are computed in fp32, as predict and an exported model compute them, so that a
    # threshold chosen here decides the same way there (bf16 scores differ in the last
    # digits, enough to move images across a threshold). With TTA, the final metrics are
    # those of the averaged views (the per-epoch log stays single-view). A last epoch's
    # validation pass that was already single-view fp32 is reused.
    scores = {}
    if task.val is None:
        final.pop("val", None)
    elif cfg.tta != "none" or s.bf16 or val_probs is None:
        metrics, _, val_probs = evaluate(
            model, task.val, s.loss_fn, s.device, False, cfg.tta, workers=cfg.loader_workers
        )
        if cfg.tta != "none" or s.bf16:
            final["val"].update({k: v for k, v in metrics.items() if k != "loss"})
    if task.val is not None:
        scores["val"] = val_probs.numpy()
        final["val"].update(score_metrics(task.val.labels.numpy(), scores["val"]))
    if not task.val_is_test and evaluate_test:
        final["test"], _, test_probs = evaluate(
            model, task.test, s.loss_fn, s.device, False, cfg.tta, workers=cfg.loader_workers
        )
        scores["test"] = test_probs.numpy()
        final["test"].update(score_metrics(task.test.labels.numpy(), scores["test"]))
    if cfg.objective is not None and task.val is not None:
        # Chosen on the calibration split only; the test split is scored once, at the end.
        # (A cv:K run's model refit on all the data has none: its point comes from the
        # folds' out-of-fold scores, experiments/crossfit.py.)
        prior = np.asarray(class_counts(task.train.labels, task.train.num_classes), dtype=float)
        prior /= prior.sum()
        point = choose_operating_point(
            task.val.labels.numpy(), scores["val"], cfg.objective, prior,
            rule=cfg.threshold_rule, delta=cfg.delta,
        )  # fmt: skip
        if "test" in scores:
            final["test_at_point"] = test_metrics_at(task.test, scores["test"], point, prior)
        final["operating_point"] = point_record(point, cfg, prior)
    model.eval()
    if s.writes:
        where = machine(s.device, s.bf16)
        _write(s.folder, cfg, task, model, log, final, scores, s.dist.world_size, where)
        scored = {k: (getattr(task, k).labels.numpy(), v) for k, v in scores.items()}
        s.sinks.on_finish(final, scored, s.folder.path / MODEL)
    return TrainResult(model, log, final, None if s.folder is None else s.folder.path, resumed)


def _calibrated_on(cfg) -> str:
    if cfg.calibration is None:
        return f"split:{cfg.val:g}"
    if cfg.fold is None:
        return cfg.calibration
    repetition = f" of repetition {cfg.repeat}" if cfg.repeat else ""
    return f"fold {cfg.fold}{repetition} of {cfg.calibration}"


def point_record(point, cfg, prior: np.ndarray) -> dict:
    """result.json's ``final["operating_point"]``."""
    warning = point.warning
    if cfg.folds is not None and warning is not None:  # cv:K counts every positive already
        warning = interval_warning(
            point.interval, "add positives: every training positive informs this point already"
        )
    return {
        "kind": point.kind, "value": point.value, "met_on_calibration": point.met,
        "objective": str(cfg.objective), "calibration": point.calibration,
        "message": point.message, "prior": prior.tolist(), "interval": point.interval,
        "warning": warning, "rule": cfg.threshold_rule,
        "calibrated_on": _calibrated_on(cfg),
    }  # fmt: skip


def point_meta(point: dict) -> dict:
    """What a model file keeps of a chosen point, for predict and export."""
    return {point["kind"]: point["value"], "prior": point["prior"],
            "interval": point.get("interval"), "warning": point.get("warning")}  # fmt: skip


def _last_epoch(log: dict) -> dict:
    final = {}
    for split, prefix in (("train", "training"), ("val", "validation")):
        final[split] = {
            k[len(prefix) + 1 : -len("_per_epoch")]: v[-1]
            for k, v in log.items()
            if k.startswith(prefix + "_") and k.endswith("_per_epoch")
        }
    return final


def _mock_metrics(s, log: dict) -> dict:
    """The mock model has no epochs: one evaluation of each split, logged as one epoch."""
    final = {}
    for split, prefix, data in (("train", "training", s.task.train), ("val", "validation", s.task.val)):  # fmt: skip
        if data is None:
            continue
        metrics, _, _ = evaluate(s.scored, data, s.loss_fn, s.device, s.bf16)
        for key, value in metrics.items():
            log.setdefault(f"{prefix}_{key}_per_epoch", []).append(value)
        final[split] = metrics
    return final


def _write(
    folder: RunFolder, cfg, task, model, log: dict, final: dict, scores: dict, world_size: int,
    where: dict,
) -> None:  # fmt: skip
    meta = model_meta(model, classes=task.classes, image_shape=task.train.image_shape,
                      faithful=cfg.faithful, tta=cfg.tta, config=cfg.to_dict())  # fmt: skip
    if "operating_point" in final:
        meta.update(point_meta(final["operating_point"]))
    save_model(folder.path / MODEL, model, meta)
    folder.write_scores({k: (getattr(task, k).labels.numpy(), v) for k, v in scores.items()})
    folder.write_samples(*sample_images(task.test))
    folder.write_log(log)
    folder.write_result(cfg.to_dict(), final, task.notes, world_size=world_size, machine=where)
    remove_checkpoints(folder.path)


def sample_images(data) -> tuple[np.ndarray, np.ndarray]:
    """The first few images of each class (of the first classes), scaled down when large.

    ``data`` is an ImageSet or a streamed dataset: only these few images are read.
    """
    labels = data.labels.numpy()
    keep = np.concatenate(
        [np.flatnonzero(labels == c)[:SAMPLES_PER_CLASS] for c in range(min(data.num_classes, SAMPLE_CLASSES))]
    )  # fmt: skip
    part = data.subset(keep)
    images = part.images if isinstance(part, ImageSet) else part.load().images
    if max(images.shape[2:]) > SAMPLE_SIZE:
        scale = SAMPLE_SIZE / max(images.shape[2:])
        size = [max(1, round(d * scale)) for d in images.shape[2:]]
        images = F.interpolate(images.float(), size=size, mode="bilinear", antialias=True)
        images = images.round().clamp(0, 255).to(torch.uint8)
    return images.numpy(), labels[keep]


def test_metrics_at(test: ImageSet, test_scores: np.ndarray, point, prior) -> dict:
    """Metrics of ``test`` at an operating point (None: argmax), with the score metrics."""
    labels = test.labels.numpy()
    metrics = classification_metrics(
        labels, predict_at(test_scores, point, prior), test.num_classes
    )
    return {**metrics, **score_metrics(labels, test_scores)}


def finished(out_dir: str | Path, cfg) -> dict | None:
    """The saved result of a finished run with this exact config, or None."""
    result = RunFolder(out_dir).result()
    return result if result is not None and cfg.same_run(result["config"]) else None
