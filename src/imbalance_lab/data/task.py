"""Build the train / validation / test sets of a run from its config.

Order matters for honest numbers: the imbalance is drawn from the training split,
the validation split (when not the test split) is carved from that imbalanced set
with stratification, and any resampling happens later, on the training part only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from imbalance_lab.data.budget import batch_bytes, choose_mode, default_budget
from imbalance_lab.data.imageset import ImageSet
from imbalance_lab.data.imbalance import (
    ImbalanceSpec,
    parse_imbalance,
    pick_indices,
    resolve_counts,
)
from imbalance_lab.data.sources import (
    Source,
    list_classes,
    open_split,
    resolve_source,
    select_classes,
)
from imbalance_lab.data.store import ImageStore
from imbalance_lab.data.streaming import ImageDataset
from imbalance_lab.errors import DataError


class DataConfig(Protocol):
    """The settings of a run that decide its data (a RunConfig has them all)."""

    data: str
    classes: tuple[str, ...]
    ratio: str | None
    counts: str | None
    long_tail: float | None
    size: int | None
    image_size: int | None
    skip_bad_images: bool
    val: str
    folds: int | None  # K of --calibration cv:K (a split:F is spelled as val), or None
    fold: int | None  # the cv fold this run holds out, or None
    repeats: int  # M of --calibration cv:KxM (1 for cv:K)
    run_seed: int  # seed draws the imbalanced set; run_seed the fold split (and the training)
    seed: int
    batch_size: int
    data_mode: str  # "memory", "stream" or "auto"
    memory_budget: int | None  # bytes the decoded images may take; None: the default
    loader_workers: int  # processes that decode images


@dataclass(frozen=True)
class Task:
    # In memory mode the splits are ImageSets (one uint8 tensor each); in stream mode
    # ImageDatasets reading the decoded cache. Both have labels, classes, image_shape.
    train: ImageSet | ImageDataset  # the imbalanced training set the model learns from
    val: (
        ImageSet | ImageDataset | None
    )  # what per-epoch validation metrics are measured on; None: nothing
    test: ImageSet | ImageDataset  # the untouched, balanced test split
    val_is_test: bool  # True when validation is the test split, as in the article
    notes: dict  # counts per split, what loading skipped or converted, the data mode

    @property
    def classes(self) -> tuple[str, ...]:
        return self.train.classes

    @property
    def streaming(self) -> bool:
        return not isinstance(self.train, ImageSet)


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out) with ``fraction`` of every class held out."""
    # Imported here: scikit-learn costs a training process ~170 MB of memory to import.
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    try:
        kept, held = train_test_split(idx, test_size=fraction, stratify=labels, random_state=seed)
    except ValueError as exc:
        raise DataError(f"cannot carve a stratified {fraction:g} validation split: {exc}") from None
    return np.sort(kept), np.sort(held)


def repeat_seed(seed: int, repeat: int | None) -> int:
    """The training and fold-split seed of repetition ``repeat`` of cv:KxM: ``seed`` for
    the first (so it is cv:K's), else one drawn from (seed, repeat), so that repetitions
    are independent trainings on the same imbalanced set (whose images ``seed`` picks)."""
    if not repeat:
        return seed
    return int(np.random.SeedSequence([seed, repeat]).generate_state(1)[0])


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> list[np.ndarray]:
    """The held-out indices of each of ``folds`` stratified folds (they partition the set)."""
    from sklearn.model_selection import StratifiedKFold

    smallest = int(np.bincount(labels).min()) if len(labels) else 0
    if smallest < folds:
        raise DataError(
            f"cv:{folds} needs at least {folds} training images of every class, the rarest has "
            f"{smallest}; use fewer folds or a split:F calibration"
        )
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [np.sort(held) for _, held in split.split(np.zeros(len(labels)), labels)]


@dataclass(frozen=True)
class _Pick:
    source: Source
    classes: list[str]
    spec: ImbalanceSpec
    full_train: ImageStore  # the source's whole training split, for the chosen classes
    available: list[int]  # its images per class
    counts: list[int]  # the imbalanced set's images per class
    picked: np.ndarray  # indices into full_train of the imbalanced set


def _open(cfg: DataConfig, source: Source, split: str, classes: list[str], workers, progress):
    return open_split(
        source, split, classes, image_size=cfg.image_size, skip_bad_images=cfg.skip_bad_images,
        workers=workers, progress=progress,
    )  # fmt: skip


def _pick(cfg: DataConfig, workers: int = 0, progress: bool | None = None) -> _Pick:
    source = resolve_source(cfg.data)
    classes = select_classes(list_classes(source), list(cfg.classes) or None)
    spec = parse_imbalance(
        len(classes), ratio=cfg.ratio, counts=cfg.counts, long_tail=cfg.long_tail, size=cfg.size
    )
    full_train = _open(cfg, source, "train", classes, workers, progress)
    labels = full_train.labels
    available = np.bincount(labels, minlength=len(classes)).tolist()
    counts = resolve_counts(spec, available, classes)
    return _Pick(source, classes, spec, full_train, available, counts,
                 pick_indices(labels, counts, cfg.seed))  # fmt: skip


def left_out(cfg: DataConfig) -> ImageSet:
    """The training-split images the run's imbalanced set did not pick.

    They are held out from the run yet are not the test split, so a recipe can be
    developed on them without ever looking at test (see examples/score_left_out.py).
    """
    pick = _pick(cfg)
    return pick.full_train.take(np.setdiff1d(np.arange(len(pick.full_train)), pick.picked))


def held_out_positions(cfg: DataConfig) -> list[list[np.ndarray]]:
    """For each repetition of a cv:K (or cv:KxM) run, the positions in its imbalanced
    training set that each fold holds out, in the order its fold run scores them."""
    pick = _pick(cfg)
    labels = pick.full_train.labels[pick.picked]
    return [
        stratified_folds(labels, cfg.folds, repeat_seed(cfg.seed, r)) for r in range(cfg.repeats)
    ]


def build_task(cfg: DataConfig, *, progress: bool | None = None) -> Task:
    """The run's train / validation / test splits, in memory or streamed.

    ``cfg.data_mode`` "memory" reads the three splits into tensors, "stream" gives
    datasets that read the decoded cache, "auto" chooses by whether the decoded
    images fit in ``cfg.memory_budget`` bytes (default: :func:`default_budget`).
    Images are decoded (once, then cached) by ``cfg.loader_workers`` processes with a
    progress bar (``progress``: None = on a terminal). Each split's images are read
    straight into its own tensor: nothing is held twice.
    """
    data_mode, memory_budget, workers = cfg.data_mode, cfg.memory_budget, cfg.loader_workers
    pick = _pick(cfg, workers, progress)
    full_train, classes = pick.full_train, pick.classes
    test = _open(cfg, pick.source, "test", classes, workers, progress)
    if test.image_shape != full_train.image_shape:
        raise DataError(
            f"train images are {full_train.image_shape} but test images are {test.image_shape}; "
            "pass --image-size N to resize both"
        )
    train_idx, val_idx = pick.picked, None
    if cfg.fold is not None:  # one fold of cv:K: train on the others, validate on this one
        held = stratified_folds(full_train.labels[pick.picked], cfg.folds, cfg.run_seed)[cfg.fold]
        val_idx = pick.picked[held]
        train_idx = np.setdiff1d(pick.picked, val_idx)
    elif cfg.val not in ("test", "none"):  # "none": every training image trains, no validation
        kept, held = stratified_split(full_train.labels[pick.picked], float(cfg.val), cfg.seed)
        train_idx, val_idx = pick.picked[kept], pick.picked[held]
    held = 0 if val_idx is None else val_idx.size
    decoded = full_train.nbytes(train_idx.size + held) + test.nbytes()
    if data_mode == "auto" and memory_budget is None:
        memory_budget = default_budget()
    batch = batch_bytes(cfg.batch_size, full_train.image_shape) if memory_budget else 0
    mode = choose_mode(decoded, memory_budget or 0, data_mode, batch=batch)
    if mode == "memory":
        train, test_set = full_train.take(train_idx), test.take()
        val = full_train.take(val_idx) if val_idx is not None else None
    else:
        train, test_set = ImageDataset(full_train, train_idx), ImageDataset(test)
        val = ImageDataset(full_train, val_idx) if val_idx is not None else None
    if cfg.val == "test":
        val = test_set
    notes = {
        "source": pick.source.describe(),
        "imbalance": pick.spec.describe(),
        "available_train": dict(zip(classes, pick.available, strict=True)),
        "requested_train": dict(zip(classes, pick.counts, strict=True)),
        "train": train.class_counts(),
        "val": None if val is None else val.class_counts(),
        "test": test_set.class_counts(),
        "val_is_test": cfg.val == "test",
        "loading": {},
        "data_mode": mode,
        "decoded_bytes": decoded,
        "memory_budget": memory_budget,
    }
    for key in ("skipped_bad_images", "ignored_non_images"):
        notes["loading"][key] = full_train.notes.get(key, 0) + test.notes.get(key, 0)
    modes = {**full_train.notes.get("converted_modes", {})}
    for m, n in test.notes.get("converted_modes", {}).items():
        modes[m] = modes.get(m, 0) + n
    notes["loading"]["converted_modes"] = modes
    return Task(train, val, test_set, cfg.val == "test", notes)
