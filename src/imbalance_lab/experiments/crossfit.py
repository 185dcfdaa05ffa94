"""Cross-fitted calibration, ``--calibration cv:K``: every training image informs the point.

A split:F run chooses its operating point on a fraction F of the training data: with a
rare class, that is few positives, and the point swings between seeds. A cv:K run
trains K fold models, each on K-1 stratified folds (drawn after the imbalance), and
scores the fold it did not see. The K folds' out-of-fold scores cover every training
image once; the operating point is chosen on all of them (cross-fitting: Chernozhukov
et al. 2018, "Double/debiased machine learning", Sec. 3; the out-of-fold threshold of
cross-conformal prediction, Vovk 2015, and its jackknife+ variant, Barber et al. 2021).

The out-of-fold scores describe single fold models on images they did not see. What is
deployed (``--cv-model``) is either the ensemble of the K fold models (no training beyond
the K) or one model refit on all the training data (one more training); both are other
models than the ones scored. ``matched`` deploys models of the kind that was scored:
with ``cv:KxM`` the K-fold split is drawn M times (each repetition a fresh split and fresh
trainings on the same imbalanced set), each image's M out-of-fold scores are averaged,
and the deployed model averages M fold models, fold 0's of each repetition: each of
those M saw none of a new image, as each of an image's M scorers saw none of it. See
docs/calibration.md for which holds the chosen recall on held-out images.

The run folder::

    <run>/folds/fold-<k>/   each fold model's own run folder (resumable like any run)
    <run>/folds/repeat-<r>/fold-<k>/   the folds of repetition r >= 1 of cv:KxM
    <run>/refit/            the model refit on all the data (--cv-model refit)
    <run>/result.json ...   the run: "val" is the out-of-fold scores, "test" the deployed
                            model's, model.pt the deployed model (an ensemble is one file),
                            log.json fold 0's (its per-epoch validation is its own fold)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from imbalance_lab.data.task import held_out_positions
from imbalance_lab.errors import OutputError
from imbalance_lab.evaluation.metrics import classification_metrics, score_metrics
from imbalance_lab.evaluation.thresholds import choose_operating_point, predict_at
from imbalance_lab.models.ensemble import ensemble_of
from imbalance_lab.models.factory import is_factory_reference
from imbalance_lab.models.saved import load_saved_model, model_meta, save_model
from imbalance_lab.rundir import LOG, MODEL, SAMPLES, RunFolder
from imbalance_lab.training.finish import point_meta, point_record

FOLDS = "folds"
REFIT = "refit"


def is_cross_fitted(cfg) -> bool:
    """A cv:K run as a whole (not one of its folds)."""
    return cfg.folds is not None and cfg.fold is None


def member_runs(name: str, cfg) -> list[tuple[str, object]]:
    """(run folder name, config) of the trainings a cv:K run needs: K folds (+ the refit)."""
    prefix = f"{name}/" if name else ""
    # What is deployed is no part of a fold's identity (config.without_execution_details):
    # the folds of an ensemble run and of a refit run are the same runs.
    runs = [
        (f"{prefix}{path}", cfg.replace(fold=k, repeat=r or None)) for r, k, path in _fold_runs(cfg)
    ]
    if cfg.cv_model == "refit":
        runs.append((f"{prefix}{REFIT}", refit_config(cfg)))
    return runs


def _fold_runs(cfg) -> list[tuple[int, int, str]]:
    """(repetition, fold, folder in the run) of every fold run, repetition by repetition."""
    return [
        (r, k, f"{FOLDS}/fold-{k}" if r == 0 else f"{FOLDS}/repeat-{r}/fold-{k}")
        for r in range(cfg.repeats)
        for k in range(cfg.folds)
    ]


def refit_config(cfg):
    """The refit: all the training data, for as many optimiser steps as one fold model.

    The out-of-fold scores describe models after E epochs over (K-1)/K of the data. Given
    E epochs over all of it (a quarter more steps at K = 5), the refit drifted away from
    them: on two tasks with 50 positives it recalled 0.73 and 0.80 of new positives at a
    point chosen for 0.9, against 0.92 and 0.91 with matched steps (docs/calibration.md).
    Epochs are whole, so the match is to the nearest epoch; a warm-up in epochs shrinks
    with them, and every other schedule setting is a fraction of the run already.
    """
    share = (cfg.folds - 1) / cfg.folds
    return cfg.replace(epochs=max(1, round(cfg.epochs * share)),
                       warmup_epochs=cfg.warmup_epochs * share)  # fmt: skip


def combine(folder: str | Path, cfg) -> dict:
    """Choose the point on the out-of-fold scores and write the run folder of the deployed
    model; returns its ``final`` metrics. The test split is scored, never used to choose."""
    folder = Path(folder)
    folds = [RunFolder(folder / path) for _, _, path in _fold_runs(cfg)]
    results = [f.result() for f in folds]
    if any(r is None for r in results):
        missing = next(f.path for f, r in zip(folds, results, strict=True) if r is None)
        raise OutputError(f"{missing} has not finished; rerun the command to train it")
    scores = [f.scores() for f in folds]
    oof_labels, oof_scores = _out_of_fold(cfg, scores)
    classes = list(results[0]["data"]["train"])
    counts = np.bincount(oof_labels, minlength=len(classes)).astype(float)
    prior = counts / counts.sum()  # every training image is out of fold exactly once
    point = choose_operating_point(
        oof_labels, oof_scores, cfg.objective, prior, rule=cfg.threshold_rule, delta=cfg.delta
    )
    factory = cfg.model if is_factory_reference(cfg.model) else None
    if cfg.cv_model in ("ensemble", "matched"):
        # ensemble: the K fold models of the one split; matched: fold 0 of each repetition.
        members = range(cfg.folds) if cfg.cv_model == "ensemble" else range(0, len(folds), cfg.folds)  # fmt: skip
        loaded = [load_saved_model(folds[i] / MODEL, factory=factory) for i in members]
        meta0 = loaded[0][1]
        c, h, _ = meta0["input_shape"]
        model = loaded[0][0] if len(loaded) == 1 else ensemble_of([m for m, _ in loaded], c, h)
        test_labels = scores[0]["test"][0]
        test_scores = np.mean([scores[i]["test"][1] for i in members], axis=0)
        train_metrics = _mean_metrics([results[i]["final"]["train"] for i in members])
    else:
        source = RunFolder(folder / REFIT)
        model, meta0 = load_saved_model(source / MODEL, factory=factory)
        test_labels, test_scores = source.scores()["test"]
        train_metrics = source.result()["final"]["train"]
    n_classes = len(classes)
    test_threshold_free = score_metrics(test_labels, test_scores)
    final = {
        "train": train_metrics,
        "val": {
            **classification_metrics(oof_labels, oof_scores.argmax(axis=1), n_classes),
            **score_metrics(oof_labels, oof_scores),
        },
        "test": {
            **classification_metrics(test_labels, test_scores.argmax(axis=1), n_classes),
            **test_threshold_free,
        },
        "test_at_point": {
            **classification_metrics(test_labels, predict_at(test_scores, point, prior), n_classes),
            **test_threshold_free,
        },
        "operating_point": point_record(point, cfg, prior),
        "cross_fitting": _cost(folder, cfg, results),
    }
    meta = model_meta(model, classes=classes, image_shape=tuple(meta0["input_shape"]),
                      tta=cfg.tta, config=cfg.to_dict())  # fmt: skip
    if cfg.cv_model == "ensemble":
        meta["ensemble"] = cfg.folds
    elif cfg.cv_model == "matched" and cfg.repeats > 1:
        meta["ensemble"] = cfg.repeats
    meta.update(point_meta(final["operating_point"]))
    out = RunFolder(folder)
    save_model(folder / MODEL, model, meta)
    out.write_scores({"val": (oof_labels, oof_scores), "test": (test_labels, test_scores)})
    for name in (SAMPLES, LOG):  # the report's sample images and curves: fold 0's, whose
        if (folds[0].path / name).exists():  # per-epoch validation is its held-out fold
            shutil.copyfile(folds[0].path / name, folder / name)
    data = dict(results[0]["data"])
    data["train"] = dict(zip(classes, counts.astype(int).tolist(), strict=True))
    data["val"] = dict(data["train"])  # out of fold: the same images
    data["calibration"] = f"{cfg.calibration}, out-of-fold scores of {cfg.folds} fold models" + (
        f", each image's averaged over {cfg.repeats} repetitions" if cfg.repeats > 1 else ""
    )
    out.write_result(cfg.to_dict(), final, data, world_size=results[0].get("world_size", 1),
                     machine=results[0].get("machine"))  # fmt: skip
    return final


def _out_of_fold(cfg, scores: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(labels, scores) out of fold: with cv:K each fold's held-out images, one after
    another; with cv:KxM each image's mean over the M repetitions, every repetition's
    scores put back in the imbalanced set's order first."""
    if cfg.repeats == 1:
        return (np.concatenate([s["val"][0] for s in scores]),
                np.concatenate([s["val"][1] for s in scores]))  # fmt: skip
    k, repetitions = cfg.folds, []
    for r, held in enumerate(held_out_positions(cfg)):
        order, part = np.concatenate(held), scores[r * k : (r + 1) * k]
        labels = np.empty(order.size, dtype=np.int64)
        probs = np.empty((order.size, part[0]["val"][1].shape[1]))
        labels[order] = np.concatenate([s["val"][0] for s in part])
        probs[order] = np.concatenate([s["val"][1] for s in part])
        repetitions.append((labels, probs))
    if any(not np.array_equal(labels, repetitions[0][0]) for labels, _ in repetitions):
        raise OutputError(
            "the repetitions' fold runs hold other images than the first's: they were trained "
            "on another data set; rerun them (--force)"
        )
    return repetitions[0][0], np.mean([probs for _, probs in repetitions], axis=0)


def _mean_metrics(blocks: list[dict]) -> dict:
    """The mean of the folds' scalar metrics (their training metrics, for the report)."""
    keys = [k for k, v in blocks[0].items() if isinstance(v, int | float)]
    return {k: float(np.mean([b[k] for b in blocks])) for k in keys}


def _cost(folder: Path, cfg, results: list[dict]) -> dict:
    """What the cross-fitting cost: trainings and their summed epoch time."""
    logs = [RunFolder(folder / path).log() for _, _, path in _fold_runs(cfg)]
    if cfg.cv_model == "refit":
        logs.append(RunFolder(folder / REFIT).log())
    seconds = sum(float(np.sum(log.get("epoch_seconds", []))) for log in logs)
    cost = {"folds": cfg.folds, "repeats": cfg.repeats, "deployed": cfg.cv_model, "trainings": len(logs),
            "training_seconds": seconds}  # fmt: skip
    if cfg.cv_model == "refit":
        cost["refit_epochs"] = refit_config(cfg).epochs
    return cost
