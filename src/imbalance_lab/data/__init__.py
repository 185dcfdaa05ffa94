"""Data: sources decoded to uint8 tensors, imbalance specs, splits."""

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
from imbalance_lab.data.task import Task, build_task, left_out, stratified_split

__all__ = [
    "ImageSet", "ImbalanceSpec", "Source", "Task", "build_task", "left_out", "list_classes", "load_split",
    "parse_imbalance", "pick_indices", "resolve_counts", "resolve_source", "select_classes",
    "stratified_split",
]  # fmt: skip
