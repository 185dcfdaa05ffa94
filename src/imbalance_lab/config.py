"""The one config of a training run, as a frozen dataclass.

The CLI flags, a TOML file (``imbalance-lab train --config run.toml``) and the
study presets all end up here. The resolved config is written next to the results
and inside every checkpoint and model file.
"""

from __future__ import annotations

import dataclasses
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
    # --- execution ---
    bf16: bool | None = None  # bf16 autocast; None = on where the CPU has AMX, or on CUDA
    device: str = "auto"  # "auto" (CUDA when present), "cpu" or "cuda"
    threads: int | None = None  # torch threads for this process; None = all cores

    def __post_init__(self):
        _check(self.epochs >= 1, f"--epochs must be >= 1, got {self.epochs}")
        _check(self.batch_size >= 1, f"--batch-size must be >= 1, got {self.batch_size}")
        _check(math.isfinite(self.lr) and self.lr > 0, f"--lr must be > 0, got {self.lr}")
        _check(self.device in ("auto", "cpu", "cuda"), f"--device must be auto, cpu or cuda, got {self.device!r}")
        _check(self.threads is None or self.threads >= 1, f"--threads must be >= 1, got {self.threads}")
        _check(
            self.image_size is None or self.image_size >= 8,
            f"--image-size must be >= 8, got {self.image_size}",
        )
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
        return out

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, values: dict, *, source: str = "config") -> RunConfig:
        names = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in names:
                raise ConfigError(f"unknown key {key!r} in {source}{closest(key, names)}; valid keys: {', '.join(names)}")
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
        for key in ("ratio", "counts", "val"):
            if values.get(key) is not None:
                values[key] = str(values[key])
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(f"bad value in {source}: {exc}") from None


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
