"""Training under a real ``torchrun`` with 2 CPU processes on gloo.

The ranks together draw exactly the single-process epoch (same multiset of training
indices, batch by batch), rank 0 alone writes the run folder, and a job killed
mid-run resumes from its checkpoint to the same result as an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
       "OMP_NUM_THREADS": "1"}  # fmt: skip
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]


@pytest.mark.slow
def test_two_ranks_draw_the_single_process_epochs(tiny_folder, tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    import ddp_train_script

    script = str(Path(ddp_train_script.__file__))
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    for cmd, out in (([sys.executable, script], one), ([*TORCHRUN, script], two)):
        run = subprocess.run([*cmd, str(out), str(tiny_folder)], env=ENV, capture_output=True,
                             text=True, timeout=300)  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
    single, ddp = json.loads(one.read_text()), json.loads(two.read_text())
    assert (single["world_size"], ddp["world_size"]) == (1, 2)
    for name, epochs in single["draws"].items():
        for epoch, (alone, together) in enumerate(zip(epochs, ddp["draws"][name], strict=True)):
            assert Counter(alone) == Counter(together), (name, epoch)
        assert epochs[0] != epochs[1], name  # each epoch draws afresh


def _train_cmd(data: Path, out: Path, epochs: int) -> list[str]:
    return [*TORCHRUN, "-m", "imbalance_lab", "train", "--data", str(data), "--classes",
            "cat,dog", "--counts", "40,10", "--val", "0.2", "--model", "resnet20", "--epochs",
            str(epochs), "--batch-size", "16", "--seed", "1", "--threads", "1", "--quiet",
            "--out", str(out)]  # fmt: skip


def _workers(parent: int) -> list[int]:
    found = []
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        found += [int(child), *_workers(int(child))]
    return found


@pytest.mark.slow
def test_a_killed_job_resumes_to_the_uninterrupted_result(tiny_folder, tmp_path):
    whole = tmp_path / "whole"
    run = subprocess.run(_train_cmd(tiny_folder, whole, 6), env=ENV, capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads((whole / "result.json").read_text())
    assert result["world_size"] == 2 and sorted(p.name for p in whole.iterdir()) == sorted(
        ["config.json", "log.json", "model.pt", "result.json", "samples.npz", "scores.npz"]
    )  # rank 0 alone wrote, and no checkpoint is left behind

    killed = tmp_path / "killed"
    job = subprocess.Popen(_train_cmd(tiny_folder, killed, 6), env=ENV,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 240
    while not (killed / "checkpoint.prev.pt").exists():  # two epochs are done
        assert job.poll() is None and time.monotonic() < deadline, job.stderr.read()[-3000:]
        time.sleep(0.2)
    ranks = [pid for pid in _workers(job.pid) if "imbalance_lab" in Path(f"/proc/{pid}/cmdline").read_text()]  # fmt: skip
    os.kill(ranks[-1], signal.SIGKILL)  # one rank dies; torchrun ends the job
    assert job.wait(timeout=120) != 0
    assert not (killed / "result.json").exists()

    run = subprocess.run(_train_cmd(tiny_folder, killed, 6), env=ENV, capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    resumed = json.loads((killed / "result.json").read_text())
    assert resumed["final"] == result["final"]
