"""The one config of a training run: every run parameter, declared once.

A run parameter is either a field of :class:`RunConfig` (the core settings below, each
declared with :func:`param`: its help, group, parser and allowed values) or a setting a
component declares beside its own code and hands to its registry entry (a loss's
``gamma``, an optimiser's ``momentum``, an augmentation's ``cutout``). :func:`params`
lists them all. From that one list come the command-line options of every command that
trains, the TOML keys (the same names), ``--help`` and the validation; the values are
parsed once, here, and downstream code receives typed values (an :class:`Objective`, a
validation split that is ``"test"`` or a fraction, validated class weights).

:func:`resolve_config` owns the precedence rule: command default < preset < TOML file <
flags. The resolved config is written next to the results and inside every checkpoint
and model file.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imbalance_lab.data.budget import DATA_MODES, parse_size
from imbalance_lab.data.imbalance import counts_text, ratio_text
from imbalance_lab.data.sources import data_location
from imbalance_lab.data.task import repeat_seed
from imbalance_lab.errors import ConfigError, closest
from imbalance_lab.evaluation.objectives import SYNTAX, Objective, parse_objective
from imbalance_lab.evaluation.thresholds import THRESHOLD_RULES
from imbalance_lab.models.finetune import BACKBONE_LR_SCALE, FREEZE_BACKBONE
from imbalance_lab.models.inference import TTA_MODES
from imbalance_lab.models.registry import MODELS, parse_model_name
from imbalance_lab.params import (
    Param,
    boolean,
    integer,
    name_list,
    number,
    optional,
    text,
)
from imbalance_lab.strategies.augment import AUGMENT_MODES
from imbalance_lab.strategies.autoaugment import AUTO_AUGMENTS
from imbalance_lab.strategies.class_weights import (
    WEIGHT_SCHEMES,
    check_class_weights,
    parse_class_weights,
)
from imbalance_lab.strategies.losses import LOSSES
from imbalance_lab.strategies.mix import MIXES
from imbalance_lab.strategies.samplers import SAMPLERS
from imbalance_lab.training.optim import OPTIMIZERS
from imbalance_lab.training.schedule import SCHEDULES
from imbalance_lab.training.steps import STEPS
from imbalance_lab.training.tracking import LOG_TO, MLFLOW_URI


def param(default, help: str, group: str, **spec) -> Any:  # noqa: A002
    """A RunConfig field declared as a run parameter (see :class:`imbalance_lab.params.Param`)."""
    return field(default=default, metadata={"param": dict(help=help, group=group, **spec)})


def parse_val(value) -> str | float:
    """``"test"`` (the balanced test split), ``"none"`` (no validation: every training image
    trains, the test split is scored once at the end) or a fraction in (0, 1) of training."""
    if isinstance(value, str) and value.strip() in ("test", "none"):
        return value.strip()
    fraction = number(above=0, below=1)
    try:
        return fraction(value)
    except ConfigError:
        raise ConfigError(
            f"must be 'test', 'none' or a fraction in (0, 1), got {value!r}"
        ) from None


CV_MAX_FOLDS = 20
CV_MAX_REPEATS = 10


def parse_calibration(value) -> str:
    """``split:F`` (a stratified fraction F of the training data, as ``--val F``), ``cv:K``
    (K stratified folds: K fold models, the point chosen on their out-of-fold scores) or
    ``cv:KxM`` (the K-fold split repeated M times, each time drawn afresh)."""
    raw = str(value).strip().lower().replace(" ", "")
    kind, _, number_text = raw.partition(":")
    try:
        if kind == "split":
            return f"split:{number(above=0, below=1)(number_text):g}"
        if kind == "cv":
            k_text, _, m_text = number_text.partition("x")
            k = integer(min=2, max=CV_MAX_FOLDS)(k_text)
            m = integer(min=1, max=CV_MAX_REPEATS)(m_text) if m_text else 1
            return f"cv:{k}" if m == 1 else f"cv:{k}x{m}"
    except ConfigError:
        pass
    raise ConfigError(
        f"must be split:F with F in (0, 1) (e.g. split:0.2), cv:K with K in 2..{CV_MAX_FOLDS} "
        f"(e.g. cv:5) or cv:KxM, the K folds drawn M times, M in 1..{CV_MAX_REPEATS} "
        f"(e.g. cv:5x3), got {value!r}"
    )


def couple_calibration(values: dict, source: str) -> dict:
    """One layer's ``val`` and ``calibration``, made to say the same thing.

    ``--calibration split:F`` is spelled ``val = F`` (its canonical form), ``cv:K`` implies
    ``val = "none"`` (each fold model validates on its own held-out fold), and a layer that
    sets ``val`` clears a lower layer's cv. So a later layer replaces both at once.
    """
    if "calibration" not in values and "val" not in values:
        return values
    out = dict(values)
    calibration, val = out.get("calibration"), out.get("val")
    # Flags are named as typed; a file's keys as written, with the file named.
    cal_name, val_name, where = (
        ("--calibration", "--val", "") if source == "flags" else ("calibration", "val", f" in {source}")
    )  # fmt: skip
    if calibration is not None and calibration.startswith("split:"):
        fraction = float(calibration.removeprefix("split:"))
        if "val" in out and val != fraction and val != "test":
            raise ConfigError(
                f"{cal_name} {calibration} and {val_name} {val} disagree{where}; give one of them"
            )
        return {**out, "val": fraction, "calibration": None}
    if calibration is not None:  # cv:K
        if val not in (None, "none", "test"):
            raise ConfigError(
                f"{cal_name} {calibration} validates each fold model on its own held-out fold; "
                f"drop {val_name} {val}{where}"
            )
        return {**out, "val": "none"}
    return {**out, "calibration": None}


# --- the core settings -------------------------------------------------------------------


@dataclass(frozen=True, init=False)
class RunConfig:
    """``RunConfig(data=..., epochs=20, tau=1.5)``: every run parameter by name, the core
    ones (the fields below) and the components' own settings (``tau``) alike."""

    # --- data ---
    data: str = param(
        "",
        "image-folder root (<root>/{train,test}/<class>/*.jpg), cifar10:DIR or fashion-mnist:DIR",
        "data", parse=data_location, example="cifar10:/tmp/cifar", metavar="PATH",
    )  # fmt: skip
    classes: tuple[str, ...] = param(
        (), "comma-separated class names; binary: negative first, then positive (e.g. cat,dog)",
        "data", parse=name_list, example="cat,dog", dump=list, metavar="NAMES",
    )  # fmt: skip
    ratio: str | None = param(
        None, "training-count ratio, e.g. 4 or 4:1 (binary) or 10:5:1", "data",
        parse=ratio_text, example="4:1", metavar="A:B",
    )  # fmt: skip
    counts: str | None = param(
        None, "training count per class, e.g. 4800,1200", "data", parse=counts_text,
        example="480,120", metavar="N,N",
    )  # fmt: skip
    long_tail: float | None = param(
        None, "exponential long-tail profile with this imbalance factor, e.g. 100 (CIFAR-10-LT)",
        "data", parse=number(min=1), example="100", metavar="FACTOR",
    )  # fmt: skip
    size: int | None = param(
        None, "total training images for --ratio (default: the largest round total)", "data",
        parse=integer(min=1), example="1000", metavar="N",
    )  # fmt: skip
    image_size: int | None = param(
        None, "resize every image to NxN (needed when sizes are mixed)", "data",
        parse=integer(min=8), example="48", metavar="N",
    )  # fmt: skip
    skip_bad_images: bool = param(
        False, "skip corrupt images and count them instead of stopping", "data", parse=boolean,
        example="true",
    )  # fmt: skip
    val: str | float = param(
        "test",
        "per-epoch validation: 'test' (the balanced test split, monitored only, as the article), "
        "a fraction of the training data carved after the imbalance (e.g. 0.1), or 'none' "
        "(train on all of it; the test split is scored once, at the end)",
        "data", parse=parse_val, example="0.25", metavar="test|none|FRACTION",
    )  # fmt: skip
    calibration: str | None = param(
        None,
        "where the operating point is chosen: split:F (a stratified fraction of the training "
        "data, the same as --val F), cv:K (K fold models; the point is chosen on their "
        "out-of-fold scores, so every training image informs it; --cv-model says what is "
        "deployed) or cv:KxM (the K folds drawn M times: each image's M out-of-fold scores "
        "averaged, for --cv-model matched)", "data", parse=optional(parse_calibration),
        example="cv:5", metavar="split:F|cv:K|cv:KxM",
    )  # fmt: skip
    fold: int | None = param(
        None, "train only fold N of --calibration cv:K, validating on it (the cross-fitting "
        "runner sets it)", "data", parse=optional(integer(min=0, max=CV_MAX_FOLDS - 1)),
        example="1", metavar="N",
    )  # fmt: skip
    repeat: int | None = param(
        None, "with --fold, the repetition R of --calibration cv:KxM whose split it trains on "
        "(the cross-fitting runner sets it; none or 0: the first)", "data",
        parse=optional(integer(min=0, max=CV_MAX_REPEATS - 1)), example="1", metavar="R",
    )  # fmt: skip
    # --- model ---
    model: str = param(
        "article-convnet",
        "model from the registry (imbalance-lab models), or your own package.module:function "
        "taking the number of classes", "model",
        parse=parse_model_name, choices=MODELS, strict=False, example="resnet20",
    )  # fmt: skip
    faithful: bool = param(
        False, "replay the article's code: softmax fed to cross-entropy, train mode set once",
        "model", parse=boolean, example="true",
    )  # fmt: skip
    # --- optimisation and schedule ---
    epochs: int = param(
        10, "passes over the training data", "optimisation", parse=integer(min=1), example="3",
        metavar="N",
    )  # fmt: skip
    batch_size: int = param(
        64, "images per optimiser step", "optimisation", parse=integer(min=1), example="32",
        metavar="N",
    )  # fmt: skip
    lr: float = param(
        1e-3, "learning rate (peak, after any warm-up)", "optimisation", parse=number(above=0),
        example="0.1", metavar="LR",
    )  # fmt: skip
    optimizer: str = param(
        "adam", "optimiser", "optimisation", parse=text, choices=OPTIMIZERS, example="sgd"
    )
    weight_decay: float = param(
        0.0, "L2 weight decay", "optimisation", parse=number(min=0), example="5e-4", metavar="X"
    )
    warmup_epochs: float = param(
        0.0, "linear learning-rate warm-up, in epochs", "optimisation", parse=number(min=0),
        example="2", metavar="EPOCHS",
    )  # fmt: skip
    lr_decay: str = param(
        "steps", "learning-rate schedule after the warm-up", "optimisation", parse=text,
        choices=SCHEDULES, example="linear",
    )  # fmt: skip
    ema: float | None = param(
        None, "score and save an exponential moving average of the weights with this decay, "
        "e.g. 0.998", "optimisation", parse=optional(number(above=0, below=1)), example="0.998",
        metavar="DECAY",
    )  # fmt: skip
    seed: int = param(
        0, "seeds data picking, init and shuffling: same seed, same metrics (CPU)",
        "optimisation", parse=integer(min=0), example="7", metavar="N",
    )  # fmt: skip
    # --- imbalance strategies (resampling happens on the training split only) ---
    class_weights: tuple[float, ...] | None = param(
        None, "per-class loss weights, e.g. 0.15,0.85", "strategies",
        parse=optional(parse_class_weights), example="0.15,0.85", dump=list, metavar="W,W",
    )  # fmt: skip
    weight_scheme: str | None = param(
        None, "class weights computed from the training counts", "strategies",
        parse=optional(text), choices=WEIGHT_SCHEMES, example="balanced",
    )  # fmt: skip
    normalize_weights: bool = param(
        False, "rescale the class weights to sum to 1, as the article does", "strategies",
        parse=boolean, example="true",
    )  # fmt: skip
    sampler: str | None = param(
        None, "resample the training split", "strategies", parse=optional(text),
        choices=SAMPLERS, example="upsample",
    )  # fmt: skip
    augment: str = param(
        "none", "batched augmentation of training images", "strategies", parse=text,
        choices=AUGMENT_MODES, example="all",
    )  # fmt: skip
    loss: str = param(
        "weighted-ce", "loss from the registry", "strategies", parse=text, choices=LOSSES,
        example="focal",
    )  # fmt: skip
    auto_augment: str | None = param(
        None, "an automatic augmentation policy applied to each training image, after the "
        "crop and flip", "strategies", parse=optional(text), choices=AUTO_AUGMENTS,
        example="trivialaugment",
    )  # fmt: skip
    step: str = param(
        "standard", "how a batch becomes a loss: the standard step, or a method's own "
        "(glmc: with --model glmc-resnet32)", "strategies", parse=text, choices=STEPS,
        example="glmc",
    )  # fmt: skip
    mix: str | None = param(
        None, "mix each training batch with a permutation of itself; the losses take the mixed "
        "labels, the prior-based ones with the training prior", "strategies",
        parse=optional(text), choices=MIXES, example="cutmix",
    )  # fmt: skip
    # --- operating point and evaluation ---
    objective: Objective | None = param(
        None, f"choose the operating point on the calibration split (--val): {SYNTAX}",
        "evaluation", parse=optional(parse_objective), example="recall>=0.9", dump=str,
        metavar="OBJECTIVE",
    )  # fmt: skip
    threshold_rule: str = param(
        "expected", "how a recall bound is asked of the calibration scores", "evaluation",
        parse=text, choices=THRESHOLD_RULES, example="high-probability",
    )  # fmt: skip
    cv_model: str | None = param(
        None, "with --calibration cv:K, the model deployed: one model refit on all the "
        "training data for a fold model's steps (one training more), the ensemble of the K "
        "fold models (averaging makes it recall more than the point was chosen for), or "
        "matched: fold 0's model of each of cv:KxM's M repetitions, averaged as each image's "
        "M out-of-fold scores were (docs/calibration.md). Unset: refit for cv:K, matched for "
        "cv:KxM", "evaluation",
        parse=optional(text), choices=("refit", "ensemble", "matched"), example="matched",
    )  # fmt: skip
    tta: str = param(
        "none", "test-time augmentation: average predictions over these views", "evaluation",
        parse=text, choices=TTA_MODES, example="flip",
    )  # fmt: skip
    # --- execution ---
    bf16: bool | None = param(
        None, "bf16 autocast (default: on for CUDA and CPUs with AMX, where it is faster)",
        "execution", parse=optional(boolean, none=("auto", "none")), example="false",
    )  # fmt: skip
    compile: bool = param(
        False, "torch.compile the training step: ~40 s to compile once (cached), then faster "
        "epochs (1.1-1.3x for ResNet-20 on a 2-core CPU)", "execution", parse=boolean,
        example="true", execution=True,
    )  # fmt: skip
    device: str = param(
        "auto", "auto (CUDA when present), cpu or cuda", "execution", parse=text,
        choices=("auto", "cpu", "cuda"), example="cpu",
    )  # fmt: skip
    data_mode: str = param(
        "auto",
        "keep the decoded images in memory, stream them from the decoded cache through a "
        "DataLoader, or auto: memory when they fit in --memory-budget", "execution",
        parse=text, choices=DATA_MODES, example="stream", execution=True,
    )  # fmt: skip
    memory_budget: int | None = param(
        None,
        "memory the decoded images may take, e.g. 512MB, 8GB, 1.5GiB "
        "(default: half the available memory)", "execution", parse=optional(parse_size),
        example="512MB", execution=True, metavar="SIZE",
    )  # fmt: skip
    loader_workers: int = param(
        2,
        "DataLoader processes that decode, read and augment images when they are streamed "
        "or larger than 32 px (0: the main process)", "execution", parse=integer(min=0),
        example="0", execution=True, metavar="N",
    )  # fmt: skip
    threads: int | None = param(
        None, "torch threads for this process (default: all cores; 1 each for two at once)",
        "execution", parse=optional(integer(min=1)), example="1", execution=True, metavar="N",
    )  # fmt: skip
    # Settings that components declare (see params()): name -> value, every one present.
    settings: tuple[tuple[str, Any], ...] = field(default=(), repr=False)

    def __init__(self, settings: tuple = (), **values):
        extra = dict(settings)
        for key, value in values.items():
            if key in _core_names():
                object.__setattr__(self, key, value)  # unset fields keep the class default
            else:
                extra[key] = value
        object.__setattr__(self, "settings", tuple(extra.items()))
        self.__post_init__()

    def __post_init__(self):
        for p in core_params():
            object.__setattr__(self, p.name, p.coerce(getattr(self, p.name)))
        coupled = couple_calibration({"val": self.val, "calibration": self.calibration}, "config")
        object.__setattr__(self, "val", coupled["val"])
        object.__setattr__(self, "calibration", coupled["calibration"])
        if self.cv_model is None and self.calibration is not None:
            object.__setattr__(self, "cv_model", "matched" if self.repeats > 1 else "refit")
        given = dict(self.settings)
        for key in given:
            if key not in component_params():
                names = list(params_by_name())
                raise ConfigError(f"no run parameter {key!r}{closest(key, names)}")
        resolved = {
            name: p.coerce(given[name]) if name in given else p.default
            for name, p in component_params().items()
        }
        object.__setattr__(self, "settings", tuple(resolved.items()))
        _check_combinations(self)

    def __getattr__(self, name: str):
        # Only reached when normal lookup fails: a component's setting, e.g. cfg.gamma.
        if not name.startswith("__"):
            for key, value in self.__dict__.get("settings", ()):
                if key == name:
                    return value
        raise AttributeError(f"RunConfig has no setting {name!r}")

    @property
    def folds(self) -> int | None:
        """K of ``--calibration cv:K`` (or cv:KxM), or None."""
        return None if self.calibration is None else self._cv_shape()[0]

    @property
    def repeats(self) -> int:
        """M of ``--calibration cv:KxM``: how many times the K folds are drawn (1 for cv:K)."""
        return 1 if self.calibration is None else self._cv_shape()[1]

    def _cv_shape(self) -> tuple[int, int]:
        k, _, m = self.calibration.removeprefix("cv:").partition("x")
        return int(k), int(m or 1)

    @property
    def run_seed(self) -> int:
        """The seed of the training itself (initial weights, data order, augmentation) and of
        a cv fold split: see :func:`repeat_seed`."""
        return repeat_seed(self.seed, self.repeat)

    @property
    def val_fraction(self) -> float | None:
        """The calibration fraction carved from training, or None when validating on test."""
        return None if self.val in ("test", "none") else float(self.val)

    def to_dict(self) -> dict:
        """Every parameter by name, as JSON/TOML values (config.json)."""
        return {p.name: _dump(p, getattr(self, p.name)) for p in params()}

    def identity(self) -> dict:
        """What makes two runs the same run: the config less execution details."""
        return without_execution_details(self.to_dict())

    def task_key(self) -> str:
        """Runs with the same key train on the same data: they can share one built task."""
        values = self.to_dict()
        return json.dumps({p.name: values[p.name] for p in core_params()
                           if p.group == "data" or p.name == "seed"})  # fmt: skip

    @staticmethod
    def identity_of(saved: dict) -> dict:
        """The identity of a saved config (config.json, a result's config)."""
        return without_execution_details(saved)

    def same_run(self, saved: dict) -> bool:
        """Whether a saved config is this run."""
        return self.identity_of(saved) == self.identity()

    def replace(self, **changes) -> RunConfig:
        core = {p.name: getattr(self, p.name) for p in core_params()}
        return RunConfig(**{**core, **dict(self.settings), **changes})

    @classmethod
    def from_dict(cls, values: dict, *, source: str = "config") -> RunConfig:
        """A config from parameter names and values; unknown names are refused by name."""
        known = params_by_name()
        for key in values:
            if key not in known:
                raise ConfigError(
                    f"unknown key {key!r} in {source}{closest(key, list(known))}; "
                    f"valid keys: {', '.join(known)}"
                )
        return cls(**values)


def _dump(p: Param, value):
    return None if value is None else p.dump(value)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _check_combinations(cfg: RunConfig) -> None:
    """Settings that are valid alone but not together."""
    if cfg.classes and cfg.class_weights is not None:
        check_class_weights(cfg.class_weights, cfg.classes)
    _check(cfg.weight_scheme is None or cfg.class_weights is None,
           "give --class-weights or --weight-scheme, not both")  # fmt: skip
    _check(cfg.augment != "copies" or cfg.sampler == "upsample",
           "--augment copies needs --sampler upsample")  # fmt: skip
    _check((cfg.jitter == 0 and cfg.cutout == 0) or cfg.augment != "none",
           "--jitter and --cutout are part of the augmentation: set --augment all or copies")  # fmt: skip
    _check(cfg.lr_decay == "steps" or not cfg.lr_steps,
           f"--lr-steps belong to --lr-decay steps; give them or --lr-decay {cfg.lr_decay}, not both")  # fmt: skip
    _check(cfg.ema is None or not cfg.faithful,
           "--ema and --faithful do not mix: the article trained and scored one set of weights")  # fmt: skip
    _check((cfg.auto_augment is None and cfg.mix is None) or not cfg.faithful,
           "--auto-augment and --mix do not mix with --faithful: the article used neither")  # fmt: skip
    if cfg.step == "glmc":
        _check(cfg.model == "glmc-resnet32",
               "--step glmc trains GLMC's two heads and projector: use --model glmc-resnet32")  # fmt: skip
        _check(cfg.mix is None and cfg.auto_augment is None and not cfg.compile,
               "--step glmc mixes and augments its own two views, eagerly: drop --mix, "
               "--auto-augment and --compile")  # fmt: skip
    _check(cfg.sampler is None or not cfg.faithful,
           f"--faithful replays the article's single fixed data order, which --sampler {cfg.sampler} "
           "would not change; drop one of them")  # fmt: skip
    _check(cfg.objective is None or cfg.val_fraction is not None or cfg.folds is not None,
           f"--objective {cfg.objective} needs calibration data carved from the training data "
           "(e.g. --val 0.2 or --calibration cv:5): the test split is never used to choose "
           "anything")  # fmt: skip
    _check(cfg.fold is None or (cfg.folds is not None and cfg.fold < cfg.folds),
           f"--fold {cfg.fold} needs --calibration cv:K with K > {cfg.fold}")  # fmt: skip
    _check(not cfg.repeat or (cfg.fold is not None and cfg.repeat < cfg.repeats),
           f"--repeat {cfg.repeat} needs --fold and --calibration cv:KxM with M > {cfg.repeat}")  # fmt: skip
    _check(cfg.repeats == 1 or cfg.cv_model == "matched",
           f"--calibration {cfg.calibration} averages each image's {cfg.repeats} out-of-fold "
           f"scores, as only --cv-model matched is scored (an ensemble of {cfg.repeats} fold "
           f"models); give --cv-model matched, or cv:{cfg.folds} for --cv-model {cfg.cv_model}")  # fmt: skip
    _check(cfg.folds is None or cfg.objective is not None,
           f"--calibration {cfg.calibration} cross-fits the operating point: give --objective "
           "(e.g. recall>=0.9)")  # fmt: skip
    _check(cfg.folds is None or not cfg.faithful,
           "--calibration cv:K does not mix with --faithful: the article used no calibration")  # fmt: skip


# --- the spec: every run parameter --------------------------------------------------------


@functools.cache
def core_params() -> tuple[Param, ...]:
    return tuple(
        Param(name=f.name, default=f.default, **f.metadata["param"])
        for f in dataclasses.fields(RunConfig)
        if "param" in f.metadata
    )


@functools.cache
def _core_names() -> frozenset[str]:
    return frozenset(p.name for p in core_params())


# The registries whose entries declare settings, in the order --help lists them.
_COMPONENTS = (
    MODELS, OPTIMIZERS, SCHEDULES, WEIGHT_SCHEMES, AUGMENT_MODES, AUTO_AUGMENTS, MIXES, STEPS,
    LOSSES, THRESHOLD_RULES,
)  # fmt: skip
# Settings a component module declares for itself, not for one registry entry.
_STANDALONE = (FREEZE_BACKBONE, BACKBONE_LR_SCALE, LOG_TO, MLFLOW_URI)


@functools.cache
def component_params() -> dict[str, Param]:
    found: dict[str, Param] = {}
    declared = [p for registry in _COMPONENTS for p in registry.params()]
    for p in [*declared, *_STANDALONE]:
        if p.name in _core_names() or (p.name in found and found[p.name] is not p):
            raise ValueError(f"run parameter {p.name!r} is declared twice")
        found[p.name] = p
    return found


def params() -> list[Param]:
    """Every run parameter: the core ones, then the components' own."""
    return [*core_params(), *component_params().values()]


def params_by_name() -> dict[str, Param]:
    return {p.name: p for p in params()}


def owners(name: str) -> list[str]:
    """The component entries that use the setting ``name`` (for --help), e.g. ['loss focal']."""
    return [f"{r.kind} {owner}" for r in _COMPONENTS for owner in r.owners(name)]


EXECUTION_KEYS = tuple(p.name for p in core_params() if p.execution)


def without_execution_details(config: dict) -> dict:
    """What identifies a run; keys a saved config predates count at their default value."""
    full = {**_defaults(), **config}
    # What a cv:K run deploys means nothing to another run, nor to one of its folds.
    if full.get("calibration") is None or full.get("fold") is not None:
        full.pop("cv_model", None)
    return {k: v for k, v in full.items() if k not in EXECUTION_KEYS}


@functools.cache
def _defaults() -> dict:
    return RunConfig().to_dict()


# --- precedence: command default < preset < TOML file < flags ------------------------------


def resolve_config(
    *,
    defaults: dict | None = None,
    preset: dict | Callable[[dict], dict] | None = None,
    file: str | Path | None = None,
    flags: dict | None = None,
) -> RunConfig:
    """The run config from its layers, each later one overriding the earlier ones.

    ``defaults`` are a command's own defaults, ``preset`` a preset's settings (typed
    Python values, or a function of the values the file and flags give, for a schedule
    that scales with --epochs), ``file`` a TOML file of parameter names, ``flags`` the
    command-line values that were given. Each layer is checked on its own, so an error
    names its source.
    """
    given_file = _coerce_layer(load_toml(file), str(file)) if file else {}
    given_flags = _coerce_layer(flags or {}, "flags")
    if callable(preset):
        preset = preset({**given_file, **given_flags})
    values = {
        **_coerce_layer(defaults or {}, "command defaults"),
        **_coerce_layer(preset or {}, "preset"),
        **given_file,
        **given_flags,
    }
    return RunConfig.from_dict(values, source="the config")


def _coerce_layer(layer: dict, source: str) -> dict:
    known = params_by_name()
    out = {}
    for key, value in layer.items():
        if key not in known:
            raise ConfigError(
                f"unknown key {key!r} in {source}{closest(key, list(known))}; "
                f"valid keys: {', '.join(known)}"
            )
        out[key] = known[key].coerce(value, None if source == "flags" else source)
    return couple_calibration(out, source)


def load_toml(path: str | Path) -> dict:
    """Read a TOML config file into a plain dict; errors name the file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder, not a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
