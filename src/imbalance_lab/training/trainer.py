"""The trainer: one readable loop over uint8 batches.

Small images held in memory are indexed straight out of a uint8 tensor and
normalised on the fly: no Dataset, no DataLoader, no per-image Python (the
airbench approach); larger or streamed images come through a DataLoader
(training/batches.py). Every epoch ends with a checkpoint written atomically, so a
killed run resumes where it stopped and finishes with exactly the metrics of an
uninterrupted one.

The loop is :func:`fit`; what varies around it is in small named pieces:
faithful mode (training/replay.py), weight averaging (training/averaging.py),
compilation (training/device.py), resume (training/checkpoint.py), batches and
their DDP shards (training/batches.py), the end of a run (training/finish.py).
Under torchrun every rank runs this loop on its part of each batch, and rank 0
alone writes files (training/distributed.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from imbalance_lab.data.task import Task
from imbalance_lab.errors import ConfigError, TrainingDiverged
from imbalance_lab.evaluation.metrics import classification_metrics
from imbalance_lab.models import MajorityClassifier, create_model
from imbalance_lab.models.finetune import freeze_backbone, param_groups
from imbalance_lab.models.registry import MODELS
from imbalance_lab.models.spec import InputSpec, spec_of
from imbalance_lab.rundir import RunFolder
from imbalance_lab.strategies.class_weights import check_class_weights
from imbalance_lab.training.averaging import WeightAverage
from imbalance_lab.training.batches import epoch_batches
from imbalance_lab.training.checkpoint import load_checkpoint, save_checkpoint
from imbalance_lab.training.device import CompiledStep, resolve_device, set_threads, use_bf16
from imbalance_lab.training.distributed import DistInfo, all_gather, barrier, init_from_env
from imbalance_lab.training.evaluate import evaluate, predict_scores, prepare
from imbalance_lab.training.finish import TrainResult, finish, finished, test_metrics_at
from imbalance_lab.training.optim import create_optimizer
from imbalance_lab.training.plan import EpochPlan, build_loss, class_counts
from imbalance_lab.training.replay import ArticleReplay
from imbalance_lab.training.schedule import lr_at
from imbalance_lab.training.steps import STEPS
from imbalance_lab.training.tracking import Sinks, open_sinks


@dataclass
class Session:
    """What one training run holds, built once by :func:`_open`."""

    cfg: object  # the RunConfig
    task: Task
    device: torch.device
    bf16: bool  # bf16 autocast for forward passes
    model: nn.Module  # the model trained
    loss_fn: nn.Module
    plan: EpochPlan  # each epoch's indices, upsampled copies and augmentation
    folder: RunFolder | None  # where checkpoints and results go; None: nowhere
    input: InputSpec  # the model's input: size and normalisation
    sinks: Sinks  # where else the run is logged (--log-to)
    dist: DistInfo  # this process's rank among the run's (one process: rank 0 of 1)
    optimizer: torch.optim.Optimizer | None = None  # None for the mock model
    average: WeightAverage | None = None  # .scored is what is validated, scored and saved
    gen: torch.Generator | None = None  # data order and augmentation draws
    replay: ArticleReplay | None = None  # faithful mode
    step: CompiledStep | None = None  # the training forward, compiled when asked
    method_step: object = None  # a method's own training step (--step glmc), or None

    @property
    def scored(self) -> nn.Module:
        return self.model if self.average is None else self.average.scored

    @property
    def writes(self) -> bool:
        """Whether this process writes the run folder: it has one, and it is rank 0."""
        return self.folder is not None and self.dist.is_main


def fit(
    cfg,
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
    """Train ``cfg.model`` (or ``model``) on ``task.train``; log train/val metrics every epoch.

    With ``out_dir``, a checkpoint is written after every epoch and an interrupted
    run with the same config resumes from it. Nothing is ever chosen on the test
    split: the model returned is the one after the last epoch. ``on_epoch(epoch,
    val_metrics)`` is called after each epoch's checkpoint (a sweep reports to its
    pruner there); ``evaluate_test=False`` leaves the test split untouched.
    """
    s = _open(cfg, task, model, out_dir, force, warn)
    with s.sinks:
        return _loop(s, progress, desc, on_epoch, evaluate_test, warn)


def _loop(s: Session, progress: bool, desc: str, on_epoch, evaluate_test: bool, warn):
    cfg, task = s.cfg, s.task
    if s.optimizer is None:  # the mock model: nothing to learn by gradient
        s.model.fit(task.train.labels)
        return finish(s, _new_log(), resumed=0, evaluate_test=evaluate_test)
    log, start = _resume(s, warn)
    bar = tqdm(
        total=cfg.epochs * s.plan.batches, initial=start * s.plan.batches, desc=desc,
        unit="batch", disable=not progress or not s.dist.is_main, dynamic_ncols=True, leave=False,
    )  # fmt: skip
    val_probs = None  # the last epoch's, reused as calibration scores when there is no TTA
    try:
        for epoch in range(start, cfg.epochs):
            started = time.perf_counter()
            train_metrics, losses = _train_epoch(s, epoch, bar, desc)
            val_metrics, val_losses, val_probs = (
                evaluate(
                    s.scored, task.val, s.loss_fn, s.device, s.bf16, workers=cfg.loader_workers
                )  # fmt: skip
                if task.val is not None
                else ({}, [], None)
            )
            _record(log, losses, train_metrics, val_losses, val_metrics, started)
            bar.set_postfix(loss=f"{train_metrics['loss']:.3f}",
                            **{f"val_{k[:3]}": f"{val_metrics[k]:.3f}"
                               for k in ("accuracy", "recall") if k in val_metrics})  # fmt: skip
            if s.writes:
                save_checkpoint(s.folder.path, _state(s, epoch + 1, log))
            barrier()  # every rank goes on once the checkpoint is written
            s.sinks.on_epoch(epoch + 1, {"train": train_metrics, "val": val_metrics},
                             s.optimizer.param_groups[-1]["lr"])  # fmt: skip
            if on_epoch is not None:
                on_epoch(epoch, val_metrics)
    finally:
        bar.close()
    return finish(s, log, resumed=start, evaluate_test=evaluate_test, val_probs=val_probs)


def _train_epoch(s: Session, epoch: int, bar, desc: str) -> tuple[dict, list[float]]:
    """One pass over the epoch's batches; (training metrics, per-batch losses)."""
    cfg, train = s.cfg, s.task.train
    if s.replay is not None:
        order, copies = s.replay.epoch()
    else:
        s.model.train()
        order, copies = s.plan.epoch(epoch, s.gen)
    if hasattr(s.loss_fn, "set_epoch"):  # LDAM's deferred re-weighting
        s.loss_fn.set_epoch(epoch)
    losses, preds, seen = [], [], []
    for b, (images, labels, targets, _) in enumerate(epoch_batches(s, order, copies, epoch)):
        rate = lr_at(cfg, epoch, b, s.plan.batches)
        for group in s.optimizer.param_groups:
            group["lr"] = rate * group["lr_scale"]
        if s.method_step is not None:  # the method's own step augments and mixes raw images
            loss = s.method_step(s.model, images, labels, s.gen, epoch / cfg.epochs)
            outputs = s.method_step.outputs
            compiling = False
        else:
            x, y = prepare(images, s.device, s.input), targets.to(s.device)
            compiling = s.step.compiles_on(x)
            if compiling:
                bar.set_description(f"{desc} (compiling, ~40 s)")
            with torch.autocast(s.device.type, dtype=torch.bfloat16, enabled=s.bf16):
                outputs = s.step(x)
            loss = s.loss_fn(outputs.float(), y) if len(y) else _nothing(s.model)
        _update(s, loss, epoch, b)
        losses.append(loss.item())
        preds.append(outputs.detach().argmax(dim=1).cpu())
        seen.append(labels)
        if compiling:  # forward and backward are compiled now
            bar.set_description(desc)
        bar.update()
    if s.replay is not None:
        metrics = s.replay.training_metrics(s.model, train, s.loss_fn, s.device, s.bf16)
    else:
        labels, preds = all_gather(torch.cat(seen)), all_gather(torch.cat(preds))
        metrics = classification_metrics(labels.numpy(), preds.numpy(), train.num_classes)
    if s.dist.world_size > 1:  # each batch's loss, averaged over the ranks' parts
        losses = all_gather(torch.tensor(losses)).view(s.dist.world_size, -1).mean(0).tolist()
    metrics["loss"] = float(np.mean(losses))
    return metrics, losses


def _update(s: Session, loss: torch.Tensor, epoch: int, b: int) -> None:
    """Backward and optimiser step (and the weight average); a diverged loss stops the run."""
    if not torch.isfinite(loss):
        kept = f"the last good checkpoint (epoch {epoch}) is kept in {s.folder.path}; "
        raise TrainingDiverged(
            f"the loss became {loss.item()} at epoch {epoch + 1}, batch {b + 1}; "
            + (kept if s.folder is not None and epoch else "")
            + f"try a lower learning rate, e.g. --lr {s.cfg.lr / 10:g}"
        )
    s.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    s.optimizer.step()
    s.average.update(s.model)


def _nothing(model: nn.Module) -> torch.Tensor:
    # A rank whose part of the last batch is empty still joins the gradient all-reduce.
    return sum(p.sum() for p in model.parameters() if p.requires_grad) * 0.0


def _open(cfg, task: Task, model, out_dir, force: bool, warn) -> Session:
    """Device, model, loss, epoch plan and (unless the mock model) optimiser, averaging, order."""
    set_threads(cfg.threads)
    dist_info = init_from_env(resolve_device(cfg.device))
    device = dist_info.device
    if dist_info.world_size > 1 and cfg.faithful:
        raise ConfigError(
            "--faithful replays the article's single-process loop; run it without torchrun"
        )
    torch.manual_seed(cfg.run_seed)
    train = task.train
    folder = RunFolder(out_dir) if out_dir is not None else None
    c, h, _ = train.image_shape
    if model is None:  # a caller may bring its own module (e.g. an ablation of the article's net)
        settings = {p.name: getattr(cfg, p.name) for p in MODELS.params()}
        settings["loss"] = cfg.loss  # head "auto": LDAM's normalised classifier with its loss
        if folder is not None and folder.has_checkpoint():
            settings["pretrained"] = None  # the checkpoint's weights replace them anyway
        model = create_model(cfg.model, num_classes=train.num_classes, in_channels=c,
                             image_size=h, faithful=cfg.faithful, **settings)  # fmt: skip
    spec = spec_of(model, c, h)
    for note in spec.notes:
        warn(f"note: {note}")
    model = model.to(device, memory_format=torch.channels_last)
    if cfg.class_weights is not None:
        check_class_weights(cfg.class_weights, train.classes)
    s = Session(cfg, task, device, use_bf16(cfg.bf16, device), model,
                build_loss(cfg, train).to(device), EpochPlan(cfg, train.labels), folder,
                spec.input, Sinks([]), dist_info)  # fmt: skip
    if s.writes:  # claimed only once the config has proved usable
        s.folder.claim(cfg.to_dict(), cfg.identity_of, force)
        s.sinks = open_sinks(cfg.log_to, folder.path, classes=task.classes,
                             config=cfg.to_dict(), mlflow_uri=cfg.mlflow_uri)  # fmt: skip
    elif cfg.log_to and folder is None:
        open_sinks(cfg.log_to, None, classes=task.classes, config=cfg.to_dict())  # says why not
    barrier()  # the other ranks resume from the folder rank 0 has claimed
    if isinstance(model, MajorityClassifier):
        return s
    if cfg.freeze_backbone:
        freeze_backbone(model)
    s.optimizer = create_optimizer(cfg, param_groups(model, cfg.backbone_lr_scale))
    s.average = WeightAverage(model, cfg.ema)
    s.gen = torch.Generator().manual_seed(cfg.run_seed)
    s.replay = ArticleReplay(len(train), s.gen) if cfg.faithful else None
    model.train()  # the article calls train() once, before the epoch loop
    forward = model
    if dist_info.world_size > 1:  # gradients averaged over the ranks at every step
        forward = DistributedDataParallel(
            model, device_ids=[device] if device.type == "cuda" else None
        )
    part = -(-cfg.batch_size // dist_info.world_size)  # this rank's share of a full batch
    s.step = CompiledStep(forward, cfg.compile, part, warn)
    if cfg.step != "standard":
        if dist_info.world_size > 1:
            raise ConfigError(f"--step {cfg.step} runs in one process; run it without torchrun")
        own = {p.name: getattr(cfg, p.name) for p in STEPS.entry(cfg.step).params}
        s.method_step = STEPS.get(cfg.step)(
            class_counts(train.labels, train.num_classes),
            prepare=lambda images: prepare(images, device, s.input),
            bf16=s.bf16, **{k.removeprefix(f"{cfg.step}_"): v for k, v in own.items()},
            # the run's crop settings for the step's own views (its default without --augment)
            **({"augment": s.plan.step_augment} if s.plan.step_augment is not None else {}),
        )  # fmt: skip
    return s


def _new_log() -> dict:
    return {"training_loss_per_batch": [], "validation_loss_per_batch": [], "epoch_seconds": []}


def _record(log, losses, train_metrics, val_losses, val_metrics, started: float) -> None:
    log["training_loss_per_batch"].extend(losses)
    log["validation_loss_per_batch"].extend(val_losses)
    for prefix, metrics in (("training", train_metrics), ("validation", val_metrics)):
        for key, value in metrics.items():
            log.setdefault(f"{prefix}_{key}_per_epoch", []).append(value)
    log["epoch_seconds"].append(time.perf_counter() - started)


def _state(s: Session, epoch: int, log: dict) -> dict:
    """What a resumed run needs to continue exactly as an uninterrupted one."""
    return {
        "config": s.cfg.to_dict(),
        "epoch": epoch,
        "model": s.model.state_dict(),
        "model_training": s.model.training,
        "optimizer": s.optimizer.state_dict(),
        "average": s.average.state_dict(),
        "rng": {"data": s.gen.get_state(), "torch": torch.get_rng_state()},
        "fixed_order": None if s.replay is None else s.replay.order,
        "log": json.dumps(log),  # one string: small to save, nothing for a safe load to refuse
    }


def _resume(s: Session, warn) -> tuple[dict, int]:
    """(log, first epoch to train) from the run folder's checkpoint, or a fresh start."""
    state = load_checkpoint(s.folder.path, warn) if s.folder is not None else None
    if state is None:
        return _new_log(), 0
    s.model.load_state_dict(state["model"])
    s.optimizer.load_state_dict(state["optimizer"])
    s.gen.set_state(state["rng"]["data"])
    torch.set_rng_state(state["rng"]["torch"])
    if s.replay is not None:
        s.replay.order = state["fixed_order"]
    s.model.train(state["model_training"])
    s.average.load_state_dict(state["average"])
    return json.loads(state["log"]), int(state["epoch"])


__all__ = ["TrainResult", "finished", "fit", "predict_scores", "prepare", "test_metrics_at"]
