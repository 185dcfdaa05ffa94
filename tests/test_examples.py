"""The scripts in examples/ run on real runs and say what they measured."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from imbalance_lab.config import RunConfig
from imbalance_lab.data import build_task
from imbalance_lab.training import fit
from tests.conftest import make_image_folder

EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.mark.slow
def test_score_left_out_scores_each_run_on_the_images_its_set_did_not_pick(tmp_path):
    root = make_image_folder(
        tmp_path / "data", {"train": {"cat": 40, "dog": 40}, "test": {"cat": 5, "dog": 5}}
    )
    runs = []
    for seed in (0, 1):
        cfg = RunConfig(data=str(root), classes=("cat", "dog"), counts="30,10", val="0.2",
                        objective="recall>=0.9", epochs=2, batch_size=16, seed=seed,
                        threads=1)  # fmt: skip
        fit(cfg, build_task(cfg), out_dir=tmp_path / f"seed-{seed}", progress=False)
        runs.append(str(tmp_path / f"seed-{seed}"))
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "score_left_out.py"), *runs],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert sum("{'cat': 10, 'dog': 30}" in line for line in lines) == 2
    mean = re.search(r"balanced_accuracy: ([\d.]+) ± ([\d.]+) over 2 runs", done.stdout)
    assert mean and 0.0 <= float(mean.group(1)) <= 1.0
    assert re.search(r"roc_auc: [\d.]+ ± [\d.]+ over 2 runs", done.stdout)
    recall = re.search(r"recall_at_threshold: ([\d.]+) ± [\d.]+ over 2 runs", done.stdout)
    assert recall and 0.0 <= float(recall.group(1)) <= 1.0


def test_score_left_out_without_runs_prints_its_usage():
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "score_left_out.py")], capture_output=True, text=True
    )
    assert done.returncode == 1 and "Score finished runs" in done.stderr


def test_score_left_out_names_a_folder_that_holds_no_finished_run(tmp_path):
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "score_left_out.py"), str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: {tmp_path} holds no finished run (no result.json)"
