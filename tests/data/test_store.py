"""ImageStore: reading any subset straight into one tensor; loading holds no second copy."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imbalance_lab.data import load_split, open_split, resolve_source
from imbalance_lab.data.store import folder_store
from imbalance_lab.errors import DataError
from tests.conftest import make_image_folder, make_photo_folder

ROOT = Path(__file__).resolve().parents[2]


def test_take_reads_any_subset_in_any_order(tmp_path):
    root = make_photo_folder(tmp_path / "p", {"train": {"a": 7, "b": 4, "c": 5}})
    store = folder_store(root / "train", ["a", "b", "c"], 20, False)
    everything = store.take()
    assert (
        everything.images.shape == (16, 3, 20, 20)
        and everything.labels.tolist() == [0] * 7 + [1] * 4 + [2] * 5
    )
    for i in range(16):
        assert torch.equal(store.read(i), everything.images[i])
    index = np.random.default_rng(0).permutation(16)[:11]
    subset = store.take(index)
    assert torch.equal(subset.images, everything.images[torch.from_numpy(index)])
    assert subset.files == tuple(everything.files[i] for i in index)
    assert len(store.take([])) == 0


def test_a_gray_class_beside_colour_classes_is_read_as_three_channels(tmp_path):
    root = make_image_folder(tmp_path / "g", {"train": {"gray": 2, "rgb": 2}}, size=8)
    for i in range(2):
        Image.new("L", (8, 8), 50 + i).save(root / "train" / "gray" / f"{i:04d}.png")
    store = folder_store(root / "train", ["gray", "rgb"], None, False)
    data = store.take([1, 2, 0])
    assert data.images.shape == (3, 3, 8, 8)
    assert (data.images[0] == 51).all() and (data.images[2] == 50).all()
    assert store.notes["converted_modes"] == {"L": 2}


def test_mixed_sizes_without_image_size_name_two_files(tmp_path):
    root = make_image_folder(tmp_path / "m", {"train": {"a": 2}}, size=8)
    make_image_folder(tmp_path / "m", {"train": {"b": 2}}, size=9)
    with pytest.raises(
        DataError, match="mixed image sizes: .* is 9x9, but .* is 8x8; pass --image-size"
    ):
        folder_store(root / "train", ["a", "b"], None, False)


@pytest.mark.parametrize("size", [0, -3])
def test_an_image_size_of_zero_or_below_is_one_line(tiny_folder, size):
    with pytest.raises(
        DataError, match=f"--image-size must be a whole number of pixels > 0, got {size}"
    ):
        open_split(resolve_source(tiny_folder), "train", ["cat", "dog"], image_size=size)


def test_an_unreadable_class_folder_is_one_line(tmp_path):
    root = make_image_folder(tmp_path / "u", {"train": {"a": 2}}, size=8)
    (root / "train" / "b").write_text("a file where a class folder should be")
    with pytest.raises(DataError, match="class folder not found: .*train/b"):
        folder_store(root / "train", ["a", "b"], None, False)


LOAD = """
import json, sys
from imbalance_lab.data import load_split, resolve_source
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak (VmHWM) starts again from here: imports do not count
before = status("VmRSS:")
data = load_split(resolve_source(sys.argv[1]), "train", ["a", "b"], image_size=int(sys.argv[2]))
print(json.dumps({"before": before, "peak": status("VmHWM:"), "bytes": data.images.numel()}))
"""


@pytest.mark.slow
def test_loading_a_split_holds_one_copy_of_the_images(tmp_path, monkeypatch):
    """Decoded 40 MB: the peak grows by about that, not by the 3-4 copies loading once took."""
    root = make_image_folder(tmp_path / "big", {"train": {"a": 80, "b": 80}}, size=32)
    monkeypatch.setenv("IMBALANCE_LAB_CACHE", str(tmp_path / "cache"))
    assert len(load_split(resolve_source(root), "train", ["a", "b"], image_size=288)) == 160
    env = {"PYTHONPATH": str(ROOT / "src"), "IMBALANCE_LAB_CACHE": str(tmp_path / "cache"),
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    run = subprocess.run([sys.executable, "-c", LOAD, str(root), "288"], env=env, check=True,
                         capture_output=True, text=True)  # fmt: skip
    got = json.loads(run.stdout)
    assert got["bytes"] == 160 * 3 * 288 * 288
    extra = got["peak"] - got["before"]
    assert extra < 1.25 * got["bytes"], (extra / 2**20, got["bytes"] / 2**20)
