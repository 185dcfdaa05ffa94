import gzip
import os
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from imbalance_lab.config import RunConfig
from imbalance_lab.data import build_task, list_classes, load_split, resolve_source
from imbalance_lab.data import cache as cache_module
from imbalance_lab.data import sources as sources_module
from imbalance_lab.errors import DataError


def test_image_folder_loads_uint8_nchw_with_labels_in_class_order(tiny_folder):
    source = resolve_source(tiny_folder)
    assert source.kind == "folder"
    assert list_classes(source) == ("cat", "dog")
    data = load_split(source, "train", ["dog", "cat"])
    assert data.images.dtype.is_floating_point is False and data.images.shape == (80, 3, 32, 32)
    assert data.classes == ("dog", "cat")
    assert data.class_counts() == {"dog": 40, "cat": 40}
    first_dog = np.asarray(Image.open(tiny_folder / "train" / "dog" / "0000.png"))
    assert np.array_equal(data.images[0].permute(1, 2, 0).numpy(), first_dog)


def test_second_load_reads_the_cache_not_the_images(tiny_folder, monkeypatch):
    source = resolve_source(tiny_folder)
    first = load_split(source, "test", ["cat", "dog"])

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded an image although the cache holds it")

    monkeypatch.setattr(cache_module, "read_image", no_decoding)
    second = load_split(source, "test", ["cat", "dog"])
    assert np.array_equal(first.images.numpy(), second.images.numpy())


def test_cache_is_invalidated_when_a_file_changes(tmp_path):
    from tests.conftest import make_image_folder

    root = make_image_folder(tmp_path / "d", {"train": {"a": 3, "b": 3}})
    source = resolve_source(root)
    before = load_split(source, "train", ["a", "b"])
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(root / "train" / "a" / "0000.png")
    after = load_split(source, "train", ["a", "b"])
    assert after.images[0].sum() == 0 and before.images[0].sum() > 0


def _write_idx(path, array, is_images):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_idx_files_in_debian_and_torchvision_layouts(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (30, 28, 28))
    labels = np.arange(30) % 10
    for folder in (tmp_path / "debian", tmp_path / "tv" / "FashionMNIST" / "raw"):
        folder.mkdir(parents=True)
        for prefix in ("train", "t10k"):
            _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images, True)
            _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels, False)
    for root in (tmp_path / "debian", tmp_path / "tv"):
        source = resolve_source(root)
        assert source.kind == "fashion-mnist"
        data = load_split(source, "train", ["Sneaker", "Bag"])
        assert data.images.shape == (6, 1, 28, 28)
        assert data.labels.tolist() == [0, 1, 0, 1, 0, 1]
        assert np.array_equal(data.images[0, 0].numpy(), images[7])


def test_real_fashion_mnist_when_installed():
    root = sources_module.FASHION_MNIST_SYSTEM_DIR
    if not root.is_dir():
        pytest.skip("dataset-fashion-mnist is not installed")
    data = load_split(resolve_source("fashion-mnist:"), "test", ["Trouser", "Bag"])
    assert data.images.shape == (2000, 1, 28, 28)
    assert data.class_counts() == {"Trouser": 1000, "Bag": 1000}


def test_validation_split_is_stratified_and_carved_after_the_imbalance(tiny_folder):
    cfg = RunConfig(data=str(tiny_folder), classes=("cat", "dog"), counts="40,10", val="0.2")
    task = build_task(cfg)
    assert task.train.class_counts() == {"cat": 32, "dog": 8}
    assert task.val.class_counts() == {"cat": 8, "dog": 2}
    assert task.test.class_counts() == {"cat": 10, "dog": 10}
    assert not task.val_is_test


def test_real_cifar10_gives_the_articles_4800_cats_and_1200_dogs(shared_cifar):
    cfg = RunConfig(data=str(shared_cifar), classes=("cat", "dog"), ratio="4")
    task = build_task(cfg)
    assert task.notes["train"] == {"cat": 4800, "dog": 1200}
    assert task.test.class_counts() == {"cat": 1000, "dog": 1000}
    assert task.train.images.shape[1:] == (3, 32, 32)
    first_cat = np.asarray(
        Image.open(
            shared_cifar / "test" / "cat" / sorted(os.listdir(shared_cifar / "test" / "cat"))[0]
        )
    )
    assert np.array_equal(task.test.images[0].permute(1, 2, 0).numpy(), first_cat)


@pytest.mark.parametrize(
    ("data", "message"),
    [("/nonexistent/folder", "data folder not found")],
)
def test_bad_data_paths(data, message):
    with pytest.raises(DataError, match=message):
        resolve_source(data)


def test_left_out_holds_exactly_the_training_images_the_imbalanced_set_did_not_pick(tiny_folder):
    from imbalance_lab.data import left_out

    cfg = RunConfig(data=str(tiny_folder), classes=("cat", "dog"), counts="40,10", val="0.2")
    task, rest = build_task(cfg), left_out(cfg)
    assert rest.class_counts() == {"cat": 0, "dog": 30}
    used = {
        bytes(img) for img in np.concatenate([task.train.images.numpy(), task.val.images.numpy()])
    }
    spare = {bytes(img.numpy()) for img in rest.images}
    assert len(spare) == 30 and not used & spare  # tiny_folder's images are all distinct
    other_seed = left_out(cfg.replace(seed=1))
    assert {bytes(img.numpy()) for img in other_seed.images} != spare


def test_first_images_reads_only_the_files_it_shows(tmp_path, monkeypatch):
    from imbalance_lab.data import first_images
    from tests.conftest import make_photo_folder

    root = make_photo_folder(tmp_path / "p", {"test": {"cat": 5, "dog": 3}})
    (root / "test" / "cat" / "0001.png").write_bytes(b"unreadable")
    with monkeypatch.context() as patched:
        patched.setattr(cache_module, "read_image", lambda *a: pytest.fail("decoded the split"))
        shown = first_images(resolve_source(root), "test", ["cat", "dog"], 3, image_size=16)
    assert {k: tuple(v.shape) for k, v in shown.items()} == {
        "cat": (3, 3, 16, 16),
        "dog": (3, 3, 16, 16),
    }
    full = load_split(
        resolve_source(root), "test", ["cat", "dog"], image_size=16, skip_bad_images=True
    )
    assert torch.equal(shown["cat"], full.images[:3]) and torch.equal(
        shown["dog"], full.images[4:7]
    )
