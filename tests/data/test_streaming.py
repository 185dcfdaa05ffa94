"""The streaming Dataset and its DataLoader: the same images as memory, reproducible augmentation."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from imbalance_lab.data import ImageDataset, epoch_keys, make_loader, train_transform
from imbalance_lab.data.store import folder_store
from imbalance_lab.data.transforms import per_image_augment
from imbalance_lab.strategies import ClassBalancedSampler
from tests.conftest import make_photo_folder


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = make_photo_folder(tmp_path_factory.mktemp("s"), {"train": {"a": 30, "b": 10}})
    return folder_store(root / "train", ["a", "b"], 48, False)


def test_samples_are_uint8_chw_and_label_and_match_the_in_memory_images(store):
    memory = store.take()
    data = ImageDataset(store)
    image, label = data[33]
    assert image.dtype == torch.uint8 and image.shape == (3, 48, 48) and label == 1
    batches = list(DataLoader(data, batch_size=16, num_workers=2))
    assert torch.equal(torch.cat([x for x, _ in batches]), memory.images)
    assert torch.equal(torch.cat([y for _, y in batches]), memory.labels)


def test_the_dataset_has_the_read_only_face_of_an_image_set(store):
    data = ImageDataset(store, indices=[0, 5, 35])
    assert data.classes == ("a", "b") and data.num_classes == 2 and data.image_shape == (3, 48, 48)
    assert data.class_counts() == {"a": 2, "b": 1} and len(data.files) == 3
    view = data.subset([2, 0])
    assert view.store is store and view.indices.tolist() == [35, 0]
    assert torch.equal(view.load().images, store.take([35, 0]).images)


def test_per_image_augmentation_only_above_32_px():
    assert train_transform(32) is None and not per_image_augment(28)
    out = train_transform(64)(torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8))
    assert out.dtype == torch.uint8 and out.shape == (3, 64, 64)


def epoch_images(data, keys, workers):
    loader = make_loader(data, batch_size=8, sampler=keys, workers=workers)
    return torch.cat([x for x, _ in loader])


def test_augmentation_depends_on_seed_epoch_and_position_not_on_workers(store):
    data = ImageDataset(store, transform=train_transform(48))
    order = np.random.default_rng(0).permutation(len(data))
    keys = epoch_keys(order, seed=1, epoch=0)
    alone = epoch_images(data, keys, workers=0)
    assert torch.equal(alone, epoch_images(data, keys, workers=2))
    assert not torch.equal(alone, epoch_images(data, epoch_keys(order, seed=1, epoch=1), workers=0))
    plain = store.take(order).images
    assert not torch.equal(alone, plain)
    # Where augment is False the image comes as decoded (e.g. only upsampled copies are augmented).
    copies = np.arange(len(order)) % 2 == 1
    mixed = epoch_images(data, epoch_keys(order, seed=1, epoch=0, augment=copies), workers=0)
    assert torch.equal(mixed[~torch.from_numpy(copies)], plain[~torch.from_numpy(copies)])


def test_a_users_dataloader_with_a_class_balanced_sampler_over_the_dataset(store):
    data = ImageDataset(store, transform=train_transform(48))
    sampler = ClassBalancedSampler(data.labels, num_samples=400, random_state=0)
    labels = torch.cat(
        [y for _, y in DataLoader(data, batch_size=50, sampler=sampler, num_workers=2)]
    )
    # Binomial(400, 1/2): sd 10; 5 sd.
    assert abs(int((labels == 1).sum()) - 200) < 50
