"""Training: the trainer loop, checkpoints, device and thread settings."""

from imbalance_lab.training.trainer import TrainResult, finished, fit, predict_scores

__all__ = ["TrainResult", "finished", "fit", "predict_scores"]
