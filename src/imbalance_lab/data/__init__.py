"""Data: sources decoded once (cached), imbalance specs, splits, in memory or streamed."""

from imbalance_lab.data.budget import DATA_MODES, choose_mode, default_budget, parse_size
from imbalance_lab.data.decode import fit_square, read_image
from imbalance_lab.data.imageset import ImageSet
from imbalance_lab.data.imbalance import (
    ImbalanceSpec,
    parse_imbalance,
    pick_indices,
    resolve_counts,
)
from imbalance_lab.data.sources import (
    Source,
    first_images,
    list_classes,
    load_split,
    open_split,
    resolve_source,
    select_classes,
)
from imbalance_lab.data.store import ImageStore
from imbalance_lab.data.streaming import ImageDataset, epoch_keys, eval_batches, make_loader
from imbalance_lab.data.task import Task, build_task, left_out, stratified_split
from imbalance_lab.data.transforms import per_image_augment, train_transform

__all__ = [
    "DATA_MODES", "ImageDataset", "ImageSet", "ImageStore", "ImbalanceSpec", "Source", "Task",
    "build_task", "choose_mode", "default_budget", "epoch_keys", "eval_batches", "first_images", "fit_square",
    "left_out", "list_classes", "load_split", "make_loader", "open_split", "parse_imbalance",
    "parse_size", "per_image_augment", "pick_indices", "read_image", "resolve_counts",
    "resolve_source", "select_classes", "stratified_split", "train_transform",
]  # fmt: skip
