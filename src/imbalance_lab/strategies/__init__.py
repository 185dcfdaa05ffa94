"""Ways to handle imbalance: samplers, class weights, losses, augmentation and batch mixing."""

from imbalance_lab.strategies.augment import AugmentConfig, augment_batch
from imbalance_lab.strategies.autoaugment import AUTO_AUGMENTS, auto_augment_batch
from imbalance_lab.strategies.class_weights import (
    WEIGHT_SCHEMES,
    class_weight_scheme,
    parse_class_weights,
)
from imbalance_lab.strategies.losses import (
    ClassBalancedFocalLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    WeightedCrossEntropy,
    create_loss,
    loss_names,
    register_loss,
    soft_cross_entropy,
)
from imbalance_lab.strategies.mix import MIXES, MixedBatch, cutmix, mixup
from imbalance_lab.strategies.samplers import (
    SAMPLERS,
    ClassBalancedSampler,
    RandomOverSampler,
    RandomUnderSampler,
    check_sampling_strategy,
)

__all__ = [
    "AUTO_AUGMENTS",
    "MIXES",
    "SAMPLERS",
    "WEIGHT_SCHEMES",
    "AugmentConfig",
    "ClassBalancedFocalLoss",
    "ClassBalancedSampler",
    "FocalLoss",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "MixedBatch",
    "RandomOverSampler",
    "RandomUnderSampler",
    "WeightedCrossEntropy",
    "augment_batch",
    "auto_augment_batch",
    "check_sampling_strategy",
    "class_weight_scheme",
    "create_loss",
    "cutmix",
    "loss_names",
    "mixup",
    "parse_class_weights",
    "register_loss",
    "soft_cross_entropy",
]

from imbalance_lab.strategies.registry import STRATEGIES, Strategy, parse_strategies, strategy_names  # noqa: E402

__all__ += ["STRATEGIES", "Strategy", "parse_strategies", "strategy_names"]
