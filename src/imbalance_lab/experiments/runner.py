"""Run a list of configs into a results folder, skipping the ones already finished."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from imbalance_lab.config import RunConfig
from imbalance_lab.data.task import build_task
from imbalance_lab.training.trainer import finished, fit


@dataclass(frozen=True)
class PlannedRun:
    name: str  # folder name below the study's results folder, e.g. "corrected/cnn-4to1/seed-0"
    config: RunConfig


def run_all(runs: list[PlannedRun], out: Path, *, progress: bool, echo=print, force: bool = False) -> dict:
    """Train every planned run (resuming or skipping finished ones); returns {name: result}."""
    results, tasks = {}, {}
    for i, run in enumerate(runs, 1):
        run_dir = out / run.name
        done = finished(run_dir, run.config)
        if done is not None:
            echo(f"[{i}/{len(runs)}] {run.name}: finished earlier, skipped")
            results[run.name] = {**done, "log": json.loads((run_dir / "log.json").read_text())}
            continue
        # Runs that differ only in model/loss settings share one decoded task.
        data_key = json.dumps({k: v for k, v in run.config.to_dict().items() if k in _DATA_KEYS})
        if data_key not in tasks:
            tasks[data_key] = build_task(run.config)
        echo(f"[{i}/{len(runs)}] {run.name}")
        result = fit(run.config, tasks[data_key], out_dir=run_dir, progress=progress, desc=run.name, warn=echo, force=force)
        results[run.name] = {"config": run.config.to_dict(), "final": result.final, "data": tasks[data_key].notes, "log": result.log}
    return results


_DATA_KEYS = ("data", "classes", "ratio", "counts", "long_tail", "size", "image_size", "skip_bad_images", "val", "seed")
