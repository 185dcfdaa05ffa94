"""Shared fixtures: tiny image folders the tests make themselves, and an isolated cache."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED_CIFAR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "cifar10"


def make_image_folder(
    root: Path, counts: dict[str, dict[str, int]], size: int = 32, seed: int = 0
) -> Path:
    """Write ``counts[split][class]`` PNG images; each class has its own colour cast, so it is learnable."""
    rng = np.random.default_rng(seed)
    for split, per_class in counts.items():
        for c, (name, n) in enumerate(per_class.items()):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                arr = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                arr[..., c % 3] //= 4
                Image.fromarray(arr).save(folder / f"{i:04d}.png")
    return root


def make_photo_folder(
    root: Path, counts: dict[str, dict[str, int]], *, formats=("jpg", "png", "webp", "bmp"),
    low: int = 40, high: int = 90, seed: int = 0,
) -> Path:  # fmt: skip
    """Like :func:`make_image_folder`, with random widths and heights in [low, high] and the
    formats taking turns; each image is a smooth gradient with its class's colour cast."""
    rng = np.random.default_rng(seed)
    for split, per_class in counts.items():
        for c, (name, n) in enumerate(per_class.items()):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                w, h = (int(v) for v in rng.integers(low, high + 1, 2))
                ys, xs = np.mgrid[0:h, 0:w]
                base = rng.integers(0, 256, 3)
                arr = (
                    base + 100 * np.sin(xs[..., None] / 7 + ys[..., None] / 11 + np.arange(3))
                ) % 256
                arr = arr.astype(np.uint8)
                arr[..., c % 3] //= 4
                Image.fromarray(arr).save(folder / f"{i:04d}.{formats[i % len(formats)]}")
    return root


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("IMBALANCE_LAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("IMBALANCE_LAB_THREADS", "2")


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory) -> Path:
    """cat/dog, 40 training and 10 test images per class, 32x32 PNG."""
    root = tmp_path_factory.mktemp("tiny")
    return make_image_folder(
        root, {"train": {"cat": 40, "dog": 40}, "test": {"cat": 10, "dog": 10}}
    )


@pytest.fixture(scope="session")
def shared_cifar() -> Path:
    if not (SHARED_CIFAR / "train" / "cat").is_dir():
        pytest.skip(f"the CIFAR-10 copy is not at {SHARED_CIFAR}")
    return SHARED_CIFAR


def kill_after_first_checkpoint(cmd: list[str], run: Path, env: dict) -> int:
    """Start a training command, SIGKILL it once its first checkpoint is on disk and it is
    into the next epoch; return the epochs the checkpoint holds. No result may exist yet."""
    import torch

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (run / "checkpoint.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    time.sleep(0.3)  # into the next epoch
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "result.json").exists()
    return torch.load(run / "checkpoint.pt", weights_only=True)["epoch"]
