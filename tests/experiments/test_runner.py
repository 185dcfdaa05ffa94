"""Runs in worker processes: every run trained once, and progress shown epoch by epoch."""

from __future__ import annotations

import json
import re

import pytest

from imbalance_lab.config import RunConfig
from imbalance_lab.experiments.runner import PlannedRun, run_all
from imbalance_lab.rundir import LOG, RESULT


@pytest.mark.slow
def test_two_workers_train_every_run_and_show_each_epoch_as_it_ends(tiny_folder, tmp_path, capfd):
    base = dict(data=str(tiny_folder), classes=("cat", "dog"), counts="40,10", val=0.2,
                model="article-convnet", epochs=3, batch_size=16)  # fmt: skip
    runs = [PlannedRun(f"seed-{s}", RunConfig(**base, seed=s)) for s in (0, 1)]
    run_all(runs, tmp_path, workers=2, progress=True, echo=print)
    err = capfd.readouterr().err
    for run in runs:
        log = json.loads((tmp_path / run.name / LOG).read_text())
        assert len(log["training_accuracy_per_epoch"]) == 3
        assert (tmp_path / run.name / RESULT).exists()
    # Six epochs in all, each shown as it ends in a worker, not two jumps of three at the
    # end of each run.
    shown = [int(n) for n in re.findall(r"epochs:\s+\d+%\|[^|]*\|\s*(\d)/6", err)]
    assert set(shown) == {0, 1, 2, 3, 4, 5, 6}, err[-2000:]
    assert re.search(r"runs:\s+100%\|[^|]*\|\s*2/2", err), err[-2000:]
