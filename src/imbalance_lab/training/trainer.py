"""The trainer: one readable loop over uint8 tensors held in memory.

Batches are indexed straight out of a uint8 tensor and normalised on the fly: no
Dataset, no DataLoader, no per-image Python (the airbench approach). Every epoch
ends with a checkpoint written atomically, so a killed run resumes where it
stopped and finishes with exactly the metrics of an uninterrupted one.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from imbalance_lab.config import RunConfig, without_execution_details
from imbalance_lab.data.imageset import ImageSet
from imbalance_lab.data.task import Task
from imbalance_lab.errors import ConfigError, OutputError, TrainingDiverged
from imbalance_lab.evaluation.metrics import classification_metrics, score_metrics
from imbalance_lab.evaluation.objectives import parse_objective
from imbalance_lab.evaluation.thresholds import choose_operating_point, predict_at
from imbalance_lab.io import atomic_write_bytes, atomic_write_json
from imbalance_lab.models import MajorityClassifier, create_model
from imbalance_lab.models.inference import class_probabilities
from imbalance_lab.strategies.augment import augment_batch
from imbalance_lab.training.checkpoint import (
    load_checkpoint,
    remove_checkpoints,
    save_checkpoint,
    save_model,
)
from imbalance_lab.training.device import CompiledStep, resolve_device, set_threads, use_bf16
from imbalance_lab.training.plan import EpochPlan, build_loss, class_counts
from imbalance_lab.training.schedule import lr_at

# The article's Normalize((0.5,)*3, (0.5,)*3): pixels in [0, 255] -> [-1, 1].
NORM_MEAN, NORM_STD = 0.5, 0.5
EVAL_BATCH = 500
RESULT = "result.json"


@dataclass
class TrainResult:
    model: nn.Module  # the model after the last epoch (with ema, its weight average), in eval mode
    log: dict  # per-batch losses and per-epoch metrics (the article's log_dict keys and more)
    final: dict  # metrics of the last epoch: {"train": ..., "val": ..., "test": ...}
    out_dir: Path | None  # where log, model and result were written
    resumed_from: int = 0  # epochs that came from a checkpoint


def prepare(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    # uint8 -> float on the device, batch by batch: a quarter of the memory traffic.
    x = (
        images.to(device, non_blocking=True)
        .float()
        .div_(255.0 * NORM_STD)
        .sub_(NORM_MEAN / NORM_STD)
    )
    return x.contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def predict_scores(
    model: nn.Module, data: ImageSet, device: torch.device, bf16: bool, tta: str = "none"
) -> torch.Tensor:
    """Class probabilities for every image, in eval mode, as float32 on the CPU."""
    return _evaluate(model, data, None, device, bf16, tta)[2]


@torch.no_grad()
def _evaluate(
    model, data: ImageSet, loss_fn, device, bf16, tta: str = "none"
) -> tuple[dict, list[float], torch.Tensor]:
    """(metrics, per-batch losses, class probabilities) on ``data``; leaves the model in eval mode.

    Predictions are the argmax of the probabilities, averaged over the ``tta``
    views; the loss (skipped when ``loss_fn`` is None) is that of the plain images.
    """
    model.eval()
    faithful = getattr(model, "faithful", False)
    probs, losses = [], []
    for start in range(0, len(data), EVAL_BATCH):
        x = prepare(data.images[start : start + EVAL_BATCH], device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            p, raw = class_probabilities(model, x, tta=tta, faithful=faithful)
        if loss_fn is not None:
            y = data.labels[start : start + EVAL_BATCH].to(device)
            losses.append(float(loss_fn(raw, y)))
        probs.append(p.cpu())
    probs = torch.cat(probs) if probs else torch.zeros(0, data.num_classes)
    if loss_fn is None:
        return {}, losses, probs
    metrics = classification_metrics(
        data.labels.numpy(), probs.argmax(dim=1).numpy(), data.num_classes
    )
    metrics["loss"] = float(np.mean(losses))
    return metrics, losses, probs


def _log_epoch(log: dict, prefix: str, metrics: dict) -> None:
    for key, value in metrics.items():
        log.setdefault(f"{prefix}_{key}_per_epoch", []).append(value)


def _rng_state(gen: torch.Generator) -> dict:
    return {"data": gen.get_state(), "torch": torch.get_rng_state()}


def fit(
    cfg: RunConfig,
    task: Task,
    *,
    out_dir: str | Path | None = None,
    progress: bool = True,
    desc: str = "train",
    warn=print,
    force: bool = False,
    model: nn.Module | None = None,
    on_epoch=None,
    evaluate_test: bool = True,
) -> TrainResult:
    """Train ``cfg.model`` on ``task.train``; log train/val metrics every epoch.

    With ``out_dir``, a checkpoint is written after every epoch and an interrupted
    run with the same config resumes from it. Nothing is ever chosen on the test
    split: the model returned is the one after the last epoch. ``on_epoch(epoch,
    val_metrics)`` is called after each epoch's checkpoint (a sweep reports to its
    pruner there); ``evaluate_test=False`` leaves the test split untouched.
    """
    set_threads(cfg.threads)
    device = resolve_device(cfg.device)
    bf16 = use_bf16(cfg.bf16, device)
    out = Path(out_dir) if out_dir is not None else None

    torch.manual_seed(cfg.seed)
    train, val = task.train, task.val
    c, h, w = train.image_shape
    if model is None:  # a caller may bring its own module (e.g. an ablation of the article's net)
        model = create_model(
            cfg.model,
            num_classes=train.num_classes,
            in_channels=c,
            image_size=h,
            faithful=cfg.faithful,
        )
    model = model.to(device, memory_format=torch.channels_last)
    if cfg.class_weights is not None and len(cfg.class_weights) != train.num_classes:
        raise ConfigError(
            f"--class-weights needs one weight per class ({train.num_classes}: "
            f"{', '.join(train.classes)}), got {len(cfg.class_weights)}"
        )
    counts = class_counts(train.labels, train.num_classes)
    loss_fn = build_loss(cfg, counts).to(device)
    plan = EpochPlan(cfg, train.labels)
    if out is not None:  # claimed only once the config has proved usable
        _claim_out_dir(out, cfg, force)
    log: dict = {
        "training_loss_per_batch": [],
        "validation_loss_per_batch": [],
        "epoch_seconds": [],
    }

    if isinstance(model, MajorityClassifier):  # the mock model: nothing to learn by gradient
        model.fit(train.labels)
        return _finish(cfg, task, model, log, out, loss_fn, device, bf16, 0, evaluate_test)
    val_probs = None  # the last epoch's, reused as calibration scores when there is no TTA

    if cfg.optimizer == "sgd":
        optimizer = torch.optim.SGD(
            model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # The weights scored and saved: the trained ones, or with ``ema`` their exponential
    # moving average (Polyak & Juditsky 1992), batch-norm statistics included.
    average = (
        AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True)
        if cfg.ema is not None
        else None
    )
    scored = model if average is None else average.module
    gen = torch.Generator().manual_seed(cfg.seed)
    # The article shuffles its list once and iterates a DataLoader without shuffle.
    fixed_order = torch.randperm(len(train), generator=gen) if cfg.faithful else None
    model.train()  # the article calls train() once, before the epoch loop
    start_epoch = 0
    state = load_checkpoint(out, warn) if out is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        gen.set_state(state["rng"]["data"])
        torch.set_rng_state(state["rng"]["torch"])
        fixed_order = state["fixed_order"]
        model.train(state["model_training"])
        if average is not None:
            average.load_state_dict(state["average"])
        log, start_epoch = json.loads(state["log"]), int(state["epoch"])

    n_batches = -(-len(plan) // cfg.batch_size)
    forward = CompiledStep(model, cfg.compile, cfg.batch_size, warn)
    bar = tqdm(
        total=cfg.epochs * n_batches, initial=start_epoch * n_batches, desc=desc,
        unit="batch", disable=not progress, dynamic_ncols=True, leave=False,
    )  # fmt: skip
    try:
        for epoch in range(start_epoch, cfg.epochs):
            started = time.perf_counter()
            if cfg.faithful:
                order, copies = fixed_order, torch.zeros(len(fixed_order), dtype=torch.bool)
            else:
                model.train()
                order, copies = plan.epoch(epoch, gen)
            if hasattr(loss_fn, "set_epoch"):  # LDAM's deferred re-weighting
                loss_fn.set_epoch(epoch)
            losses, preds = [], []
            for b in range(n_batches):
                batch = slice(b * cfg.batch_size, (b + 1) * cfg.batch_size)
                idx = order[batch]
                images = train.images[idx]
                mask = plan.augment_mask(copies[batch])
                if mask is not None and mask.any():
                    images = augment_batch(images, plan.augment, gen, mask)
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(cfg, epoch, b, n_batches)
                x, y = prepare(images, device), train.labels[idx].to(device)
                compiling = forward.compiles_on(x)
                if compiling:
                    bar.set_description(f"{desc} (compiling, ~40 s)")
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    outputs = forward(x)
                loss = loss_fn(outputs.float(), y)
                if not torch.isfinite(loss):
                    raise TrainingDiverged(
                        f"the loss became {loss.item()} at epoch {epoch + 1}, batch {b + 1}; "
                        + (
                            f"the last good checkpoint (epoch {epoch}) is kept in {out}; "
                            if out and epoch
                            else ""
                        )
                        + f"try a lower learning rate, e.g. --lr {cfg.lr / 10:g}"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if average is not None:
                    average.update_parameters(model)
                losses.append(loss.item())
                preds.append(outputs.detach().argmax(dim=1).cpu())
                if compiling:  # forward and backward are compiled now
                    bar.set_description(desc)
                bar.update()
            log["training_loss_per_batch"].extend(losses)
            if cfg.faithful:
                # The article re-evaluates the training set with a helper that calls
                # network.eval() and never switches back: from epoch 2 on, it trains
                # with BatchNorm frozen on running statistics.
                train_metrics, _, _ = _evaluate(model, train, loss_fn, device, bf16)
            else:
                labels = train.labels[order].numpy()
                train_metrics = classification_metrics(
                    labels, torch.cat(preds).numpy(), train.num_classes
                )
            train_metrics["loss"] = float(np.mean(losses))
            val_metrics, val_losses, val_probs = _evaluate(scored, val, loss_fn, device, bf16)
            log["validation_loss_per_batch"].extend(val_losses)
            _log_epoch(log, "training", train_metrics)
            _log_epoch(log, "validation", val_metrics)
            log["epoch_seconds"].append(time.perf_counter() - started)
            bar.set_postfix(
                loss=f"{train_metrics['loss']:.3f}",
                val_acc=f"{val_metrics['accuracy']:.3f}",
                val_rec=f"{val_metrics['recall']:.3f}",
            )
            if out is not None:
                save_checkpoint(
                    out,
                    {
                        "config": cfg.to_dict(),
                        "epoch": epoch + 1,
                        "model": model.state_dict(),
                        "model_training": model.training,
                        "optimizer": optimizer.state_dict(),
                        "average": None if average is None else average.state_dict(),
                        "rng": _rng_state(gen),
                        "fixed_order": fixed_order,
                        "log": json.dumps(log),
                    },
                )
            if on_epoch is not None:
                on_epoch(epoch, val_metrics)
    finally:
        bar.close()
    return _finish(
        cfg, task, scored, log, out, loss_fn, device, bf16, start_epoch, evaluate_test, val_probs
    )


def _finish(
    cfg, task, model, log, out, loss_fn, device, bf16, resumed, evaluate_test=True, val_probs=None
) -> TrainResult:
    final = {}
    if "training_accuracy_per_epoch" in log:
        for split, prefix in (("train", "training"), ("val", "validation")):
            final[split] = {
                k[len(prefix) + 1 : -len("_per_epoch")]: v[-1]
                for k, v in log.items()
                if k.startswith(prefix + "_") and k.endswith("_per_epoch")
            }
    else:  # the mock model: one evaluation on each split
        for split, prefix, data in (
            ("train", "training", task.train),
            ("val", "validation", task.val),
        ):
            metrics, _, _ = _evaluate(model, data, loss_fn, device, bf16)
            _log_epoch(log, prefix, metrics)
            final[split] = metrics
    # Probabilities on the validation (calibration) and test splits: PR curves, AP, ROC-AUC.
    # With TTA, the final metrics of both are those of the averaged views (the per-epoch
    # log stays single-view); without, the last epoch's validation pass is reused.
    if cfg.tta != "none" or val_probs is None:
        metrics, _, val_probs = _evaluate(model, task.val, loss_fn, device, bf16, cfg.tta)
        if cfg.tta != "none":
            final["val"].update({k: v for k, v in metrics.items() if k != "loss"})
    scores = {"val": val_probs.numpy()}
    final["val"].update(score_metrics(task.val.labels.numpy(), scores["val"]))
    if not task.val_is_test and evaluate_test:
        final["test"], _, test_probs = _evaluate(model, task.test, loss_fn, device, bf16, cfg.tta)
        scores["test"] = test_probs.numpy()
        final["test"].update(score_metrics(task.test.labels.numpy(), scores["test"]))
    point = None
    if cfg.objective is not None:
        # Chosen on the calibration split only; the test split is scored once, at the end.
        prior = np.asarray(class_counts(task.train.labels, task.train.num_classes), dtype=float)
        prior /= prior.sum()
        point = choose_operating_point(
            task.val.labels.numpy(), scores["val"], parse_objective(cfg.objective), prior
        )
        if "test" in scores:
            final["test_at_point"] = test_metrics_at(task, scores["test"], point, prior)
        final["operating_point"] = {
            "kind": point.kind, "value": point.value, "met_on_calibration": point.met,
            "objective": cfg.objective, "calibration": point.calibration, "message": point.message,
            "prior": prior.tolist(),
        }  # fmt: skip
    model.eval()
    if out is not None:
        meta = model_meta(cfg, task)
        if point is not None:
            meta[point.kind] = point.value
            meta["prior"] = final["operating_point"]["prior"]
        save_model(out / "model.pt", model, meta)
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            **{f"{k}_scores": v for k, v in scores.items()},
            **{f"{k}_labels": getattr(task, k).labels.numpy() for k in scores},
        )
        atomic_write_bytes(out / "scores.npz", buffer.getvalue())
        atomic_write_json(out / "log.json", log)
        atomic_write_json(
            out / RESULT, {"config": cfg.to_dict(), "final": final, "data": task.notes}
        )
        remove_checkpoints(out)
    return TrainResult(model, log, final, out, resumed)


def test_metrics_at(task: Task, test_scores: np.ndarray, point, prior) -> dict:
    labels = task.test.labels.numpy()
    metrics = classification_metrics(
        labels, predict_at(test_scores, point, prior), task.test.num_classes
    )
    return {**metrics, **score_metrics(labels, test_scores)}


def model_meta(cfg: RunConfig, task: Task) -> dict:
    c, h, w = task.train.image_shape
    return {
        "model": cfg.model,
        "faithful": cfg.faithful,
        "classes": list(task.classes),
        "input_shape": [c, h, w],
        "normalize": {"mean": [NORM_MEAN] * c, "std": [NORM_STD] * c},
        "tta": cfg.tta,
        "config": cfg.to_dict(),
    }


def finished(out_dir: str | Path, cfg: RunConfig) -> dict | None:
    """The saved result of a finished run with this exact config, or None."""
    path = Path(out_dir) / RESULT
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    saved = without_execution_details(result.get("config") or {})
    return result if saved == cfg.identity() else None


RUN_FILES = (
    "config.json",
    RESULT,
    "log.json",
    "model.pt",
    "scores.npz",
    "checkpoint.pt",
    "checkpoint.prev.pt",
)


def _claim_out_dir(out: Path, cfg: RunConfig, force: bool) -> None:
    """Make sure ``out`` is writable and holds this run (or nothing) before training starts."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"output folder {out} is not writable: {exc.strerror or exc}") from None
    path = out / "config.json"
    if path.exists():
        try:
            other = json.loads(path.read_text())
        except (OSError, ValueError):
            other = {}
        other = without_execution_details(other)
        if other != cfg.identity():
            if not force:
                raise OutputError(
                    f"{out} holds another run ({_first_difference(other, cfg.identity())}); "
                    "choose another --out, or pass --force to replace it"
                )
            for name in RUN_FILES:
                (out / name).unlink(missing_ok=True)
    atomic_write_json(path, cfg.to_dict())


def _first_difference(old: dict, new: dict) -> str:
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            return f"{key} was {old.get(key)!r}, now {new.get(key)!r}"
    return "same config"


__all__ = ["TrainResult", "finished", "fit", "predict_scores", "prepare"]
