"""Ways to handle imbalance: samplers, class weights, losses and augmentation."""

from imbalance_lab.strategies.augment import AugmentConfig, augment_batch
from imbalance_lab.strategies.class_weights import (
    WEIGHT_SCHEMES,
    class_weight_scheme,
    parse_class_weights,
)
from imbalance_lab.strategies.losses import (
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    WeightedCrossEntropy,
    create_loss,
    loss_names,
    register_loss,
)
from imbalance_lab.strategies.samplers import (
    SAMPLERS,
    ClassBalancedSampler,
    RandomOverSampler,
    RandomUnderSampler,
    check_sampling_strategy,
)

__all__ = [
    "SAMPLERS",
    "WEIGHT_SCHEMES",
    "AugmentConfig",
    "ClassBalancedSampler",
    "FocalLoss",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "RandomOverSampler",
    "RandomUnderSampler",
    "WeightedCrossEntropy",
    "augment_batch",
    "check_sampling_strategy",
    "class_weight_scheme",
    "create_loss",
    "loss_names",
    "parse_class_weights",
    "register_loss",
]

from imbalance_lab.strategies.registry import STRATEGIES, Strategy, parse_strategies, strategy_names  # noqa: E402

__all__ += ["STRATEGIES", "Strategy", "parse_strategies", "strategy_names"]
