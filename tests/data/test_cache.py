"""The decoded cache: a plain .npy per class folder, written once, found bad files, shared."""

import threading

import numpy as np
import pytest
import torch
from PIL import Image

from imbalance_lab.data import cache as cache_module
from imbalance_lab.data import store
from imbalance_lab.data.cache import cache_dir, decode_class, list_class
from imbalance_lab.data.decode import read_image
from imbalance_lab.data.store import folder_store
from imbalance_lab.errors import DataError
from tests.conftest import make_image_folder, make_photo_folder


def decoded(class_dir, size=24, skip=False, **kw):
    return decode_class(list_class(class_dir, size, skip), size, skip, **kw)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("IMBALANCE_LAB_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def photos(tmp_path):
    return make_photo_folder(tmp_path / "p", {"train": {"a": 8, "b": 5}})


def test_the_cache_file_is_a_plain_npy_of_the_decoded_images(photos):
    rows = decoded(photos / "train" / "a")
    assert rows.path.parent == cache_dir() and rows.shape == (8, 3, 24, 24)
    array = np.load(rows.path, mmap_mode="r")
    assert array.shape == rows.shape and array.dtype == np.uint8
    for i, name in enumerate(rows.names):
        expected = read_image(photos / "train" / "a" / name, 24)[0]
        assert np.array_equal(array[i], expected.numpy())
        assert torch.equal(rows.row(i), expected)


def test_a_second_listing_finds_the_cache_and_decodes_nothing(photos, monkeypatch):
    first = decoded(photos / "train" / "a")
    monkeypatch.setattr(cache_module, "read_image", lambda *a: pytest.fail("decoded again"))
    again = list_class(photos / "train" / "a", 24, False)
    assert again.cached is not None and again.cached.path == first.path
    assert decoded(photos / "train" / "a").shape == first.shape


def test_workers_decode_the_same_rows(photos, monkeypatch, tmp_path):
    alone = decoded(photos / "train" / "a")
    monkeypatch.setenv("IMBALANCE_LAB_CACHE", str(tmp_path / "other-cache"))
    parallel = decoded(photos / "train" / "a", workers=2)
    assert np.array_equal(np.load(alone.path), np.load(parallel.path))


def test_a_corrupt_file_stops_with_its_path_and_leaves_no_cache_file(photos):
    bad = photos / "train" / "a" / "0002.webp"
    bad.write_bytes(b"garbage")
    with pytest.raises(DataError, match=f"cannot decode image {bad}: .*--skip-bad-images") as info:
        decoded(photos / "train" / "a")
    assert "\n" not in str(info.value)
    assert not list(cache_dir().glob("*.npy")) and not list(cache_dir().glob(".decoding.*"))


def test_skipped_files_are_left_out_and_counted(photos):
    (photos / "train" / "a" / "0002.webp").write_bytes(b"garbage")
    rows = decoded(photos / "train" / "a", skip=True)
    assert rows.shape[0] == 7 and rows.notes["skipped"] == 1 and "0002.webp" not in rows.names


def test_a_file_that_goes_bad_after_caching_is_caught_by_the_next_run(photos):
    decoded(photos / "train" / "a")
    (photos / "train" / "a" / "0005.png").write_bytes(b"broken later")
    with pytest.raises(DataError, match="cannot decode image .*0005.png"):
        decoded(photos / "train" / "a")


def test_gray_classes_stay_one_channel_and_mixed_classes_become_rgb(tmp_path):
    root = make_image_folder(tmp_path / "g", {"train": {"gray": 3, "mixed": 3}}, size=16)
    for i in range(3):
        Image.new("L", (16, 16), 10 * i).save(root / "train" / "gray" / f"{i:04d}.png")
    Image.new("L", (16, 16), 77).save(root / "train" / "mixed" / "0000.png")  # gray first, then RGB
    gray = decoded(root / "train" / "gray", size=None)
    mixed = decoded(root / "train" / "mixed", size=None)
    assert gray.shape == (3, 1, 16, 16) and mixed.shape == (3, 3, 16, 16)
    assert mixed.notes["converted"] == {"L": 1}
    assert (np.load(mixed.path)[0] == 77).all()  # the gray value in all three channels


def test_two_runs_decoding_one_folder_at_once_decode_it_once(photos, monkeypatch):
    calls = []
    real = cache_module.read_image
    monkeypatch.setattr(cache_module, "read_image", lambda *a: calls.append(a) or real(*a))
    folder = list_class(photos / "train" / "a", 24, False)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(decode_class(folder, 24, False)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 8 and results[0].path == results[1].path


def test_without_a_writable_cache_folder_images_load_into_memory(photos, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("IMBALANCE_LAB_CACHE", str(blocker / "cache"))
    rows = decoded(photos / "train" / "a")
    assert rows.path is None and rows.array.shape == (8, 3, 24, 24)


def test_a_full_disk_while_caching_is_one_line(photos, monkeypatch):
    def full(self, image):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_module._FileWriter, "append", full)
    with pytest.raises(
        DataError, match="No space left on device .*set IMBALANCE_LAB_CACHE"
    ) as info:
        decoded(photos / "train" / "a")
    assert "\n" not in str(info.value) and not list(cache_dir().glob(".decoding.*"))


def test_decoding_shows_a_progress_bar(photos, capsys, monkeypatch):
    monkeypatch.setattr(store, "BAR_DELAY", 0)  # the folder decodes faster than the usual delay
    folder_store(photos / "train", ["a", "b"], 24, False, progress=True)
    assert "decoding train" in capsys.readouterr().err
    folder_store(photos / "train", ["a", "b"], 24, False, progress=True)  # cached: no bar
    assert "decoding" not in capsys.readouterr().err
