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
    cfg = RunConfig(augment="all", **changes)
    # With the augmentation on, the detail is kept and makes it another run.
    assert {key: getattr(cfg, key) for key in changes} == changes
    assert cfg.identity() != RunConfig(augment="all").identity()


def test_a_saved_config_from_before_a_key_existed_is_the_same_run():
    from imbalance_lab.config import without_execution_details

    cfg = RunConfig(epochs=3)
    older = {k: v for k, v in cfg.to_dict().items() if k not in ("ema", "cutout")}
    assert without_execution_details(older) == cfg.identity()
    assert without_execution_details(older) != cfg.replace(ema=0.99).identity()


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5, 1.5])
def test_a_weight_average_decay_outside_0_1_is_refused(decay):
    with pytest.raises(ConfigError, match=r"--ema must be in \(0, 1\)"):
        RunConfig(ema=decay)


def test_a_weight_average_of_the_articles_faithful_replay_is_refused():
    with pytest.raises(ConfigError, match="--ema and --faithful do not mix"):
        RunConfig(ema=0.99, faithful=True)
