"""The one config of a training run, as a frozen dataclass.

The CLI flags, a TOML file (``imbalance-lab train --config run.toml``) and the
study presets all end up here. The resolved config is written next to the results
and inside every checkpoint and model file.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from imbalance_lab.errors import ConfigError, closest


@dataclass(frozen=True)
class RunConfig:
    # --- data ---
    data: str = ""  # image-folder root, torchvision CIFAR-10 root, or Fashion-MNIST IDX folder
    classes: tuple[str, ...] = ()  # class names, negative first for binary tasks; () = all
    ratio: str | None = None  # e.g. "4" or "4:1": majority-to-minority ratio of training counts
    counts: str | None = None  # e.g. "4800,1200": explicit training count per class
    long_tail: float | None = None  # exponential long-tail profile with this imbalance factor
    size: int | None = None  # total training images for --ratio; None = largest round total
    image_size: int | None = None  # resize every image to NxN; None = keep (sizes must agree)
    skip_bad_images: bool = False  # skip corrupt files (and count them) instead of stopping
    val: str = "test"  # "test": the balanced test split (the article); or a fraction such as "0.1"
    # --- model and optimisation ---
    model: str = "article-convnet"  # a name from the model registry
    faithful: bool = False  # replay the article's softmax+CE and train-mode bugs
    epochs: int = 10  # passes over the training data
    batch_size: int = 64  # images per optimiser step
    lr: float = 1e-3  # Adam learning rate
    seed: int = 0  # seeds data picking, init, shuffling: same seed, same metrics (CPU)
    class_weights: tuple[float, ...] | None = None  # per-class loss weights; None = unweighted
    weight_scheme: str | None = (
        None  # "balanced" or "effective-number": weights from training counts
    )
    beta: float = 0.999  # beta of the effective-number scheme (Cui et al. 2019)
    normalize_weights: bool = False  # rescale class weights to sum to 1, as the article does
    # --- imbalance strategies (resampling happens on the training split only) ---
    sampler: str | None = None  # "downsample", "upsample" or "weighted-sampler"
    augment: str = "none"  # "none", "all" (crop+flip every training image) or "copies" (upsampled repeats only)
    jitter: float = 0.0  # colour jitter strength of the augmentation, 0 = off
    cutout: int = 0  # side of the augmentation's cutout square (DeVries & Taylor 2017); 0 = off
    loss: str = (
        "weighted-ce"  # a name from the loss registry (weighted-ce, focal, logit-adjusted, ...)
    )
    gamma: float = 2.0  # focal loss focusing parameter
    tau: float = 1.0  # logit-adjusted loss temperature
    drw_at: float | None = (
        None  # LDAM deferred re-weighting from this fraction of the epochs, e.g. 0.8
    )
    objective: str | None = (
        None  # e.g. "recall>=0.9": operating point chosen on the calibration split
    )
    tta: str = "none"  # test-time views averaged: "none", "flip" or "flip-shift" (6 views)
    ema: float | None = None  # decay of an exponential moving average of the weights; None = off
    # --- optimiser and schedule ---
    optimizer: str = "adam"  # "adam" or "sgd" (momentum 0.9, nesterov off)
    momentum: float = 0.9  # SGD momentum
    weight_decay: float = 0.0  # L2 weight decay
    warmup_epochs: float = 0.0  # linear learning-rate warm-up, in epochs
    lr_steps: tuple[
        tuple[float, float], ...
    ] = ()  # (fraction of epochs, lr factor), e.g. ((0.8, 0.01),)
    lr_decay: str = "steps"  # "steps" (lr_steps) or "linear": to zero at the end, after warm-up
    # --- execution ---
    bf16: bool | None = None  # bf16 autocast; None = on where the CPU has AMX, or on CUDA
    compile: bool = False  # torch.compile the training step: ~40 s once (then cached), faster steps
    device: str = "auto"  # "auto" (CUDA when present), "cpu" or "cuda"
    threads: int | None = None  # torch threads for this process; None = all cores

    def __post_init__(self):
        _check(self.epochs >= 1, f"--epochs must be >= 1, got {self.epochs}")
        _check(self.batch_size >= 1, f"--batch-size must be >= 1, got {self.batch_size}")
        _check(math.isfinite(self.lr) and self.lr > 0, f"--lr must be > 0, got {self.lr}")
        _check(
            self.device in ("auto", "cpu", "cuda"),
            f"--device must be auto, cpu or cuda, got {self.device!r}",
        )
        _check(
            self.threads is None or self.threads >= 1, f"--threads must be >= 1, got {self.threads}"
        )
        _check(
            self.image_size is None or self.image_size >= 8,
            f"--image-size must be >= 8, got {self.image_size}",
        )
        if self.classes and self.class_weights is not None:
            _check(
                len(self.class_weights) == len(self.classes),
                f"--class-weights needs one weight per class ({len(self.classes)}: "
                f"{', '.join(self.classes)}), got {len(self.class_weights)}",
            )
        _check(self.sampler in (None, "downsample", "upsample", "weighted-sampler"),
               f"--sampler must be downsample, upsample or weighted-sampler, got {self.sampler!r}")  # fmt: skip
        _check(
            self.augment in ("none", "all", "copies"),
            f"--augment must be none, all or copies, got {self.augment!r}",
        )
        _check(
            self.augment != "copies" or self.sampler == "upsample",
            "--augment copies needs --sampler upsample",
        )
        _check(
            (self.jitter == 0 and self.cutout == 0) or self.augment != "none",
            "jitter and cutout are part of the augmentation: set --augment all or copies",
        )
        if self.augment != "none":  # the augmentation checks its own settings
            from imbalance_lab.strategies.augment import AugmentConfig

            AugmentConfig(jitter=self.jitter, cutout=self.cutout)
        _check(
            self.optimizer in ("adam", "sgd"),
            f"--optimizer must be adam or sgd, got {self.optimizer!r}",
        )
        _check(self.weight_scheme in (None, "balanced", "effective-number"),
               f"--weight-scheme must be balanced or effective-number, got {self.weight_scheme!r}")  # fmt: skip
        _check(self.weight_scheme is None or self.class_weights is None,
               "give --class-weights or --weight-scheme, not both")  # fmt: skip
        _check(
            self.drw_at is None or 0 <= self.drw_at <= 1,
            f"--drw-at must be in [0, 1], got {self.drw_at}",
        )
        _check(0 <= self.jitter < 1, f"--jitter must be in [0, 1), got {self.jitter}")
        _check(self.lr_decay in ("steps", "linear"),
               f"lr_decay must be steps or linear, got {self.lr_decay!r}")  # fmt: skip
        _check(self.lr_decay == "steps" or not self.lr_steps,
               "give lr_steps or lr_decay = 'linear', not both")  # fmt: skip
        _check(self.ema is None or 0 < self.ema < 1,
               f"--ema is the decay of the weight average and must be in (0, 1), got {self.ema}")  # fmt: skip
        _check(self.ema is None or not self.faithful,
               "--ema and --faithful do not mix: the article trained and scored one set of weights")  # fmt: skip
        _check(self.tta in ("none", "flip", "flip-shift"),
               f"--tta must be none, flip or flip-shift, got {self.tta!r}")  # fmt: skip
        if self.objective is not None:
            from imbalance_lab.evaluation.objectives import parse_objective

            parse_objective(self.objective)
            _check(self.val != "test",
                   f"--objective {self.objective} needs a calibration split carved from the training data "
                   "(e.g. --val 0.2): the test split is never used to choose anything")  # fmt: skip
        if self.val != "test":
            try:
                frac = float(self.val)
            except ValueError:
                frac = -1.0
            _check(0 < frac < 1, f"--val must be 'test' or a fraction in (0, 1), got {self.val!r}")

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["classes"] = list(self.classes)
        out["class_weights"] = None if self.class_weights is None else list(self.class_weights)
        out["lr_steps"] = [list(step) for step in self.lr_steps]
        return out

    def identity(self) -> dict:
        """What makes two runs the same run: the config less execution details."""
        return without_execution_details(self.to_dict())

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, values: dict, *, source: str = "config") -> RunConfig:
        names = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in names:
                raise ConfigError(
                    f"unknown key {key!r} in {source}{closest(key, names)}; valid keys: {', '.join(names)}"
                )
        values = dict(values)
        if isinstance(values.get("classes"), str):
            values["classes"] = tuple(c for c in values["classes"].split(",") if c)
        if values.get("classes") is not None:
            values["classes"] = tuple(values["classes"])
        if values.get("class_weights") is not None:
            from imbalance_lab.strategies.class_weights import parse_class_weights

            cw = values["class_weights"]
            n = len(cw.split(",")) if isinstance(cw, str) else len(cw)
            values["class_weights"] = parse_class_weights(cw, n)
        if values.get("lr_steps") is not None:
            values["lr_steps"] = tuple(tuple(float(x) for x in step) for step in values["lr_steps"])
        for key in ("ratio", "counts", "val"):
            if values.get(key) is not None:
                values[key] = str(values[key])
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(f"bad value in {source}: {exc}") from None


# How a run executes, not what it computes: a run resumed with other values is the same run.
EXECUTION_KEYS = ("threads", "compile")


def without_execution_details(config: dict) -> dict:
    """What identifies a run; keys a saved config predates count at their default value."""
    full = {**_defaults(), **config}
    return {k: v for k, v in full.items() if k not in EXECUTION_KEYS}


@functools.cache
def _defaults() -> dict:
    return RunConfig().to_dict()


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def load_toml(path: str | Path) -> dict:
    """Read a TOML config file into a plain dict; errors name the file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
