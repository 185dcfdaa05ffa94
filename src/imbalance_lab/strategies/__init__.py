"""Ways to handle imbalance: class weights (more in later issues: samplers, losses)."""

from imbalance_lab.strategies.class_weights import parse_class_weights

__all__ = ["parse_class_weights"]
