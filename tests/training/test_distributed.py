"""DDP helpers: a real torchrun with 2 CPU processes on gloo, and the single-process fallbacks."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from imbalance_lab.errors import ConfigError
from imbalance_lab.training import distributed

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_two_gloo_ranks_under_torchrun_draw_the_single_process_epochs_and_gather_all(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    import ddp_script

    out = tmp_path / "gathered.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         str(Path(ddp_script.__file__)), str(out)],
        env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(out.read_text())
    assert (got["world_size"], got["backend"]) == (2, "gloo")

    for name, make in ddp_script.SAMPLERS.items():
        single = make("none")
        single.num_replicas, single.rank = 1, 0  # what one process alone draws
        for epoch in range(3):
            single.set_epoch(epoch)
            draw = np.array(list(single))
            # Every index each rank drew, gathered: exactly the single-process draw.
            exact = np.array(got["draws"][f"{name}-none"][epoch])
            assert np.array_equal(exact, np.r_[draw[0::2], draw[1::2]]), (name, epoch)
            assert np.array_equal(np.sort(exact), np.sort(draw))
            padded = np.array(got["draws"][f"{name}-pad"][epoch])
            assert np.array_equal(np.sort(padded), np.sort(np.r_[draw, draw[: draw.size % 2]]))
    # Shards of different lengths (50 and 51) come back whole and in order.
    assert got["eval_labels"] == [i % 3 for i in range(101)]
    assert got["eval_scores"] == [[float(i), i / 10] for i in range(101)]
    assert got["broadcast"] == {"seed": 1000}


def test_without_torchrun_every_helper_acts_as_one_process(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    info = distributed.init_from_env("cpu")
    assert (info.rank, info.world_size, info.backend, info.is_main) == (0, 1, None, True)
    assert distributed.is_main() and distributed.world_size() == 1
    x = torch.arange(6).view(3, 2)
    assert distributed.all_gather(x) is x
    distributed.barrier()
    distributed.cleanup()


@pytest.mark.parametrize(("n", "world"), [(101, 2), (10, 3), (2, 4), (0, 2)])
def test_evaluation_shards_cover_the_split_in_order(n, world):
    parts = [distributed.eval_shard(n, r, world) for r in range(world)]
    assert [i for p in parts for i in range(n)[p]] == list(range(n))
    assert max(p.stop - p.start for p in parts) - min(p.stop - p.start for p in parts) <= 1


def test_a_malformed_torchrun_environment_gets_a_one_line_error(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ConfigError, match="WORLD_SIZE must be a whole number, got 'two'"):
        distributed.init_from_env("cpu")
