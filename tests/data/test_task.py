"""build_task in memory and in stream mode: the same splits, chosen by the memory budget."""

import pytest
import torch

from imbalance_lab.config import RunConfig
from imbalance_lab.data import ImageDataset, ImageSet, build_task
from imbalance_lab.errors import ConfigError
from tests.conftest import make_photo_folder


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return make_photo_folder(
        tmp_path_factory.mktemp("t"),
        {"train": {"cat": 30, "dog": 12}, "test": {"cat": 6, "dog": 6}},
    )


def images_of(split):
    return split.images if isinstance(split, ImageSet) else split.load().images


@pytest.mark.parametrize("val", ["test", "0.25"])
def test_stream_mode_gives_datasets_over_the_very_images_memory_mode_holds(photos, val):
    cfg = RunConfig(data=str(photos), classes=("cat", "dog"), counts="24,8", val=val, image_size=40)
    memory = build_task(cfg.replace(data_mode="memory"))
    stream = build_task(cfg.replace(data_mode="stream"))
    assert stream.streaming and not memory.streaming
    for name in ("train", "val", "test"):
        m, s = getattr(memory, name), getattr(stream, name)
        assert isinstance(m, ImageSet) and isinstance(s, ImageDataset)
        assert torch.equal(m.labels, s.labels) and m.files == s.files
        assert torch.equal(m.images, images_of(s))
    assert (
        stream.notes["train"]
        == memory.notes["train"]
        == {"cat": 18 if val != "test" else 24, "dog": 6 if val != "test" else 8}
    )
    assert (memory.notes["data_mode"], stream.notes["data_mode"]) == ("memory", "stream")


def test_auto_streams_when_the_decoded_images_exceed_the_budget(photos):
    cfg = RunConfig(data=str(photos), classes=("cat", "dog"), image_size=40, batch_size=8)
    decoded = (42 + 12) * 3 * 40 * 40
    assert build_task(cfg.replace(memory_budget=decoded)).notes["data_mode"] == "memory"
    task = build_task(cfg.replace(memory_budget=decoded - 1))
    assert task.notes["data_mode"] == "stream" and task.notes["decoded_bytes"] == decoded


def test_a_budget_that_cannot_hold_one_batch_is_one_line(photos):
    cfg = RunConfig(data=str(photos), classes=("cat", "dog"), image_size=40, batch_size=64)
    with pytest.raises(ConfigError, match="--memory-budget 100.0KB cannot hold one batch"):
        build_task(cfg.replace(memory_budget=100_000))
