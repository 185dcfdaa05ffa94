"""The run folder: the files a training run writes, their names, and the schema of each.

A run folder is the contract between the code that trains (which writes it) and the
code that reports (which only reads it). Nothing else names these files.

    config.json        the resolved config (RunConfig.to_dict)
    result.json        {"version", "config", "final", "data", "world_size", "machine"}; written
                       last: a folder with a result.json holds a finished run
    log.json           per-batch losses and per-epoch metrics ("<split>_<metric>_per_epoch")
    scores.npz         class probabilities and labels: "<split>_scores", "<split>_labels"
                       for split in val, test (test absent when the run did not score it)
    samples.npz        a few images per class of the evaluation split, for reports:
                       "images" uint8 (N, C, H, W), "labels" int64 (N,)
    model.pt           the model file (imbalance_lab.models.saved)
    checkpoint.pt      the last epoch's training state; checkpoint.prev.pt the one before
    tensorboard/       TensorBoard event files (--log-to tensorboard)
    mlruns/            the local MLflow store, mlflow.db + artifacts/ (--log-to mlflow, no URI)

``final`` holds a metrics dict (imbalance_lab.evaluation.metrics) per split: "train",
"val", and when scored "test" (argmax) and "test_at_point" (at the chosen operating
point), plus "operating_point" when the config has an objective.

A study folder (reproduce, compare, sweep) holds its run folders, study.json, and what its
experiment wrote for the report, so that a report reads files and imports no experiment:

    article.json       reproduce article: {"base": the run the others change,
                       "runs": [{"name", "label", "article": {metric: the article's figure},
                       "note": what a number alone cannot say, or null}]}
    compare.json       compare: {"objective", "target_metric", "strategies": [{"name",
                       "summary", "changes", "score": mean objective on the calibration
                       split, "runs": [run folder names]}]}, best first
    sweep.json         sweep: {"study_name", "base", "params", "trials", "grid", "storage"}
    trials.json        sweep: {"trials": [{"number", "state", "params", "value", "user_attrs"}]}
    best.json          sweep: the best trial, its test metrics computed once after the search:
                       {"trial", "params", "value", "run", "operating_point", and unless
                       the trial ran on another machine "config", "test_at_point",
                       "test_at_default"}
"""

from __future__ import annotations

import io
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imbalance_lab.errors import OutputError
from imbalance_lab.io import atomic_write_bytes, atomic_write_json

SCHEMA_VERSION = 2  # 1: result.json without "version" (same keys, no world_size)

CONFIG = "config.json"
RESULT = "result.json"
LOG = "log.json"
SCORES = "scores.npz"
SAMPLES = "samples.npz"
MODEL = "model.pt"
CHECKPOINT = "checkpoint.pt"
PREVIOUS_CHECKPOINT = "checkpoint.prev.pt"
NEXT_CHECKPOINT = ".checkpoint.next"
TENSORBOARD = "tensorboard"  # a folder
MLRUNS = "mlruns"  # a folder
STUDY = "study.json"  # a study folder (reproduce, compare, sweep, benchmark), not a run folder
ARTICLE = "article.json"
BENCHMARK = "benchmark.json"  # a benchmark's summary: top-1, shot groups, wall time per method
RANKING = "compare.json"
SWEEP = "sweep.json"
TRIALS = "trials.json"
BEST = "best.json"

RUN_FILES = (CONFIG, RESULT, LOG, SCORES, SAMPLES, MODEL, CHECKPOINT, PREVIOUS_CHECKPOINT)
RUN_FOLDERS = (TENSORBOARD, MLRUNS)


@dataclass(frozen=True)
class RunFolder:
    path: Path

    def __init__(self, path: str | Path):
        object.__setattr__(self, "path", Path(path))

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    # --- reading -----------------------------------------------------------------------------

    def result(self) -> dict | None:
        """result.json, or None when the run has not finished (or the file is unreadable)."""
        result = _read_json(self.path / RESULT)
        if result is None:
            return None
        result.setdefault("version", 1)
        result.setdefault("world_size", 1)
        return result

    def config(self) -> dict | None:
        return _read_json(self.path / CONFIG)

    def log(self) -> dict:
        return _read_json(self.path / LOG) or {}

    def scores(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{split: (labels, probabilities)} for the splits the run scored."""
        try:
            with np.load(self.path / SCORES) as data:
                return {
                    key[: -len("_scores")]: (data[key[: -len("_scores")] + "_labels"], data[key])
                    for key in data.files
                    if key.endswith("_scores")
                }
        except (OSError, ValueError, KeyError):
            return {}

    def samples(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(uint8 images (N, C, H, W), labels) saved for reports, or None."""
        try:
            with np.load(self.path / SAMPLES) as data:
                return data["images"], data["labels"]
        except (OSError, ValueError, KeyError):
            return None

    def has_checkpoint(self) -> bool:
        return any((self.path / n).exists() for n in (CHECKPOINT, PREVIOUS_CHECKPOINT))

    # --- writing (the trainer, on rank 0) ------------------------------------------------------

    def claim(self, config: dict, identity, force: bool) -> None:
        """Make sure the folder is writable and holds this run (or none) before training.

        ``identity(config) -> dict`` reduces a config to what makes two runs the same run.
        A folder holding another run is refused, or emptied with ``force``.
        """
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / f".write-test-{os.getpid()}"  # one per process: no race
            probe.write_bytes(b"")
            probe.unlink(missing_ok=True)
        except OSError as exc:
            raise OutputError(
                f"output folder {self.path} is not writable: {exc.strerror or exc}"
            ) from None
        other = self.config()
        if other is not None and identity(other) != identity(config):
            if not force:
                difference = first_difference(identity(other), identity(config))
                raise OutputError(
                    f"{self.path} holds another run ({difference}); "
                    "choose another --out, or pass --force to replace it"
                )
            for name in RUN_FILES:
                (self.path / name).unlink(missing_ok=True)
            for name in RUN_FOLDERS:
                shutil.rmtree(self.path / name, ignore_errors=True)
        atomic_write_json(self.path / CONFIG, config)

    def write_scores(self, scores: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        arrays = {}
        for split, (labels, probs) in scores.items():
            arrays[f"{split}_scores"], arrays[f"{split}_labels"] = probs, labels
        atomic_write_bytes(self.path / SCORES, _npz(arrays))

    def write_samples(self, images: np.ndarray, labels: np.ndarray) -> None:
        atomic_write_bytes(self.path / SAMPLES, _npz({"images": images, "labels": labels}))

    def write_log(self, log: dict) -> None:
        atomic_write_json(self.path / LOG, log)

    def write_result(
        self, config: dict, final: dict, data: dict, *, world_size: int = 1, **extra
    ) -> None:
        """Written last: its presence marks the run finished."""
        atomic_write_json(
            self.path / RESULT,
            {"version": SCHEMA_VERSION, "config": config, "final": final, "data": data,
             "world_size": world_size, **extra},
        )  # fmt: skip


def first_difference(old: dict, new: dict) -> str:
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            return f"{key} was {old.get(key)!r}, now {new.get(key)!r}"
    return "same config"


def find_runs(folder: str | Path) -> list[RunFolder]:
    """Every finished run folder at or below ``folder``, in path order."""
    folder = Path(folder)
    return [RunFolder(p.parent) for p in sorted(folder.rglob(RESULT))]


def read_study_file(folder: str | Path, name: str) -> dict:
    """study.json, or a file a study's experiment wrote for its report (see above)."""
    path = Path(folder) / name
    value = _read_json(path)
    if value is None:
        raise OutputError(
            f"cannot read {path}; rerun the command that wrote {folder} "
            "(its finished runs are skipped)"
        )
    return value


def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _npz(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()
