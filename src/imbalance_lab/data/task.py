"""Build the train / validation / test sets of a run from its config.

Order matters for honest numbers: the imbalance is drawn from the training split,
the validation split (when not the test split) is carved from that imbalanced set
with stratification, and any resampling happens later, on the training part only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sklearn.model_selection import train_test_split

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
    load_split,
    resolve_source,
    select_classes,
)
from imbalance_lab.errors import DataError

if TYPE_CHECKING:
    from imbalance_lab.config import RunConfig


@dataclass(frozen=True)
class Task:
    train: ImageSet  # the imbalanced training set the model learns from
    val: ImageSet | None  # what per-epoch validation metrics are measured on; None: nothing
    test: ImageSet  # the untouched, balanced test split
    val_is_test: bool  # True when validation is the test split, as in the article
    notes: dict  # counts per split, what loading skipped or converted

    @property
    def classes(self) -> tuple[str, ...]:
        return self.train.classes


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out) with ``fraction`` of every class held out."""
    idx = np.arange(len(labels))
    try:
        kept, held = train_test_split(idx, test_size=fraction, stratify=labels, random_state=seed)
    except ValueError as exc:
        raise DataError(f"cannot carve a stratified {fraction:g} validation split: {exc}") from None
    return np.sort(kept), np.sort(held)


@dataclass(frozen=True)
class _Pick:
    source: Source
    classes: list[str]
    spec: ImbalanceSpec
    full_train: ImageSet  # the source's whole training split, for the chosen classes
    available: list[int]  # its images per class
    counts: list[int]  # the imbalanced set's images per class
    picked: np.ndarray  # indices into full_train of the imbalanced set


def _load(cfg: RunConfig, source: Source, split: str, classes: list[str]) -> ImageSet:
    return load_split(
        source, split, classes, image_size=cfg.image_size, skip_bad_images=cfg.skip_bad_images
    )


def _pick(cfg: RunConfig) -> _Pick:
    source = resolve_source(cfg.data)
    classes = select_classes(list_classes(source), list(cfg.classes) or None)
    spec = parse_imbalance(
        len(classes), ratio=cfg.ratio, counts=cfg.counts, long_tail=cfg.long_tail, size=cfg.size
    )
    full_train = _load(cfg, source, "train", classes)
    labels = full_train.labels.numpy()
    available = np.bincount(labels, minlength=len(classes)).tolist()
    counts = resolve_counts(spec, available, classes)
    return _Pick(source, classes, spec, full_train, available, counts,
                 pick_indices(labels, counts, cfg.seed))  # fmt: skip


def left_out(cfg: RunConfig) -> ImageSet:
    """The training-split images the run's imbalanced set did not pick.

    They are held out from the run yet are not the test split, so a recipe can be
    developed on them without ever looking at test (see examples/score_left_out.py).
    """
    pick = _pick(cfg)
    return pick.full_train.subset(np.setdiff1d(np.arange(len(pick.full_train)), pick.picked))


def build_task(cfg: RunConfig) -> Task:
    pick = _pick(cfg)
    full_train, classes = pick.full_train, pick.classes
    test = _load(cfg, pick.source, "test", classes)
    if test.image_shape != full_train.image_shape:
        raise DataError(
            f"train images are {full_train.image_shape} but test images are {test.image_shape}; "
            "pass --image-size N to resize both"
        )
    train = full_train.subset(pick.picked)
    if cfg.val == "test":
        val, val_is_test = test, True
    elif cfg.val == "none":  # every training image trains; the test split is scored at the end
        val, val_is_test = None, False
    else:
        kept, held = stratified_split(train.labels.numpy(), float(cfg.val), cfg.seed)
        train, val, val_is_test = train.subset(kept), train.subset(held), False
    notes = {
        "source": pick.source.describe(),
        "imbalance": pick.spec.describe(),
        "available_train": dict(zip(classes, pick.available, strict=True)),
        "requested_train": dict(zip(classes, pick.counts, strict=True)),
        "train": train.class_counts(),
        "val": None if val is None else val.class_counts(),
        "test": test.class_counts(),
        "val_is_test": val_is_test,
        "loading": {},
    }
    for key in ("skipped_bad_images", "ignored_non_images"):
        notes["loading"][key] = full_train.notes.get(key, 0) + test.notes.get(key, 0)
    modes = {**full_train.notes.get("converted_modes", {})}
    for m, n in test.notes.get("converted_modes", {}).items():
        modes[m] = modes.get(m, 0) + n
    notes["loading"]["converted_modes"] = modes
    return Task(train, val, test, val_is_test, notes)
