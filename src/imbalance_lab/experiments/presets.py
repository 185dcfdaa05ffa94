"""Presets: named starting configs for known tasks, one registry for every command.

A preset is one layer of the config (command default < preset < TOML file < flags), plus
what a study of it runs by default (seeds, strategies). Its ``config`` is a dict, or a
function of the values the file and flags give (a schedule that scales with --epochs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from imbalance_lab.experiments.article import ARTICLE_BASE
from imbalance_lab.registry import Registry


@dataclass(frozen=True)
class Preset:
    config: dict | Callable[[dict], dict]  # RunConfig values, or a function of the given ones
    seeds: int = 3  # seeds a study runs: seed .. seed + seeds - 1
    strategies: str = "all"  # what compare runs: 'all' or a comma-separated list


PRESETS = Registry("preset")
# The strategies of the article preset: the single remedies (not the long-tail recipes,
# which change the model or need far more epochs than the article's 10).
ARTICLE_STRATEGIES = (
    "baseline", "downsample", "upsample", "class-weights", "effective-number", "weighted-sampler",
    "focal", "logit-adjusted", "balanced-softmax", "ldam-drw",
)  # fmt: skip


def _lt_recipe(given: dict) -> dict:
    # CIFAR-10-LT recipe of Cao et al. 2019 (LDAM-DRW): 200 epochs, SGD lr 0.1, momentum
    # 0.9, weight decay 2e-4, batch 128, 5 warm-up epochs, lr x0.01 at epoch 160 and
    # x0.0001 at 180, crop+flip, DRW from epoch 160. Shortened proportionally to --epochs.
    epochs = given.get("epochs", 200)
    return dict(
        long_tail=100.0, model="resnet32", epochs=200, val=0.1, objective="balanced-accuracy",
        optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=2e-4, batch_size=128,
        warmup_epochs=5 * epochs / 200, lr_steps=((0.8, 0.01), (0.9, 0.0001)), augment="all",
    )  # fmt: skip


PRESETS.add(
    "article",
    Preset(
        {**ARTICLE_BASE, "val": 0.2, "objective": "recall>=0.9"},
        seeds=3,
        strategies=",".join(ARTICLE_STRATEGIES),
    ),  # fmt: skip
    "the article's task: cats vs dogs 4:1, its ConvNet, 10 epochs, 3 seeds, recall>=0.9",
)
PRESETS.add(
    "cifar10-lt",
    Preset(_lt_recipe, seeds=1),
    "CIFAR-10-LT: imbalance factor 100, ResNet-32, the LDAM-DRW recipe, balanced accuracy",
)


def preset_values(name: str | None, given: dict) -> dict:
    """The preset's config layer, given the values the file and the flags set."""
    if name is None:
        return {}
    config = PRESETS.get(name).config
    return config(given) if callable(config) else dict(config)
