from pathlib import Path

import pytest

from imbalance_lab.config import RunConfig, load_toml
from imbalance_lab.errors import ConfigError

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.toml"))


def test_there_are_example_configs():
    assert EXAMPLES


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_config_is_a_valid_run(path):
    cfg = RunConfig.from_dict(load_toml(path), source=str(path))
    assert cfg.identity() == RunConfig.from_dict(cfg.to_dict()).identity()


def test_execution_details_are_not_part_of_a_runs_identity():
    cfg = RunConfig(epochs=3)
    assert cfg.replace(threads=1, compile=True).identity() == cfg.identity()
    assert cfg.replace(epochs=4).identity() != cfg.identity()


@pytest.mark.parametrize("changes", [{"cutout": 8}, {"jitter": 0.2}])
def test_augmentation_details_without_augmentation_are_refused(changes):
    with pytest.raises(ConfigError, match="set --augment all or copies"):
        RunConfig(**changes)
    assert RunConfig(augment="all", **changes)
