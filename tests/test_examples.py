"""The scripts in examples/ run on real runs and say what they measured."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
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


def _jpeg_second_pass():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import jpeg_second_pass
    finally:
        sys.path.remove(str(EXAMPLES))
    return jpeg_second_pass


def test_jpeg_second_pass_adds_fresh_error_only_because_its_grid_is_shifted(shared_cifar):
    from PIL import Image

    jp = _jpeg_second_pass()
    files = sorted((shared_cifar / "test" / "cat").glob("*.jpg"))[:50]
    first = [np.asarray(Image.open(f).convert("RGB")) for f in files]  # one JPEG pass already
    aligned = np.median([jp.psnr(a, jp.jpeg_pass(a)) for a in first])
    shifted = np.median([jp.psnr(a, jp.jpeg_pass(a, jp.SHIFT)) for a in first])
    # Re-encoding on the same grid at the same quality nearly (often exactly) reproduces the
    # image; moving the grid quantises new coefficients, an error of the order of a first
    # pass (~30 dB).
    assert aligned > shifted + 5
    assert 25 < shifted < 40


def test_jpeg_second_pass_writes_a_whole_png_copy_and_refuses_an_existing_folder(tmp_path):
    root = make_image_folder(
        tmp_path / "src", {"train": {"cat": 3, "dog": 2}, "test": {"cat": 1, "dog": 1}}
    )
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "jpeg_second_pass.py"), str(root), str(tmp_path / "copy"),
         "--workers", "1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert re.search(r"first pass .* on 600 natural 32x32 patches: PSNR [\d.]+ dB", done.stdout)
    assert re.search(r"this pass .* on 7 images .*: PSNR [\d.]+ dB", done.stdout)
    written = sorted(p.relative_to(tmp_path / "copy") for p in (tmp_path / "copy").rglob("*.png"))
    assert written == sorted(p.relative_to(root) for p in root.rglob("*.png"))
    assert not (tmp_path / "copy.partial").exists()
    again = subprocess.run(
        [sys.executable, str(EXAMPLES / "jpeg_second_pass.py"), str(root), str(tmp_path / "copy")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert again.returncode == 2
    assert again.stderr.strip() == f"error: {tmp_path / 'copy'} exists; give a new folder"


def test_jpeg_second_pass_names_a_bad_shift(tmp_path):
    root = make_image_folder(tmp_path / "src", {"train": {"cat": 1}, "test": {"cat": 1}})
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "jpeg_second_pass.py"), str(root), str(tmp_path / "copy"),
         "--shift", "9,1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --shift '9,1': give two integers 0-7, e.g. 3,5"
    assert not (tmp_path / "copy").exists()


@pytest.mark.slow
def test_test_curve_trains_as_the_benchmark_and_scores_the_last_epochs(tmp_path):
    classes = [f"c{i}" for i in range(10)]
    root = make_image_folder(
        tmp_path / "data", {"train": dict.fromkeys(classes, 100), "test": dict.fromkeys(classes, 3)}
    )
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "test_curve.py"), "--data", str(root), "--epochs", "4",
         "--from", "0.5", "--threads", "1", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    curve = json.loads((tmp_path / "run" / "test_curve.json").read_text())
    assert sorted(curve) == ["2", "3", "4"]  # epochs 2-4: from half of the 4-epoch schedule
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["config"]["long_tail"] == 100 and result["config"]["model"] == "resnet32"
    final = 100 * result["final"]["test"]["accuracy"]
    line = re.search(
        r"final ([\d.]+); curve: best test epoch (\d) at ([\d.]+), last epoch ([\d.]+)", done.stdout
    )
    assert line and abs(float(line.group(1)) - final) < 0.006
    assert abs(float(line.group(3)) - max(curve.values())) < 0.006
    assert abs(float(line.group(4)) - curve["4"]) < 0.006
    # The curve scores the model being trained: its last point is the final figure, up to
    # one of the 30 test images flipping between bf16 (curve) and fp32 (final) scoring.
    assert abs(curve["4"] - final) <= 100 / 30 + 0.01
    # ... and that model is the benchmark's: the same command trains to the same figure.
    bench = subprocess.run(
        [sys.executable, "-m", "imbalance_lab", "benchmark", "cifar10-lt", "--data", str(root),
         "--methods", "baseline", "--epochs", "4", "--threads", "1", "--quiet",
         "--out", str(tmp_path / "bench")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bench.returncode == 0, bench.stderr
    twin = json.loads((tmp_path / "bench/rho100-e4/baseline/seed-0/result.json").read_text())
    assert twin["config"] == result["config"]
    assert twin["final"]["test"]["accuracy"] == result["final"]["test"]["accuracy"]


def test_test_curve_names_an_unknown_method(tmp_path):
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "test_curve.py"), "--data", str(tmp_path), "--method",
         "no-such", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "no-such" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
