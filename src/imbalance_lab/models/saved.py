"""Load a saved model file back into a ready-to-use model, without running any code from it."""

from __future__ import annotations

import os

import torch
from torch import nn

from imbalance_lab.errors import ModelFileError
from imbalance_lab.models.registry import create_model
from imbalance_lab.training.checkpoint import load_model_file


def load_saved_model(path: str | os.PathLike) -> tuple[nn.Module, dict]:
    """(model in eval mode, metadata) from a file written by the trainer."""
    obj = load_model_file(path)
    meta = obj["meta"]
    try:
        c, h, _ = meta["input_shape"]
        model = create_model(
            meta["model"], num_classes=len(meta["classes"]), in_channels=c, image_size=h,
            faithful=meta.get("faithful", False),
            # The model's own settings (a ResNet's head and width), as resolved at training.
            **meta.get("model_params", {}),
        )  # fmt: skip
        model.load_state_dict(obj["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # ConfigError is one
        raise ModelFileError(f"{path} does not hold a usable model: {str(exc)[:200]}") from None
    return model.eval(), meta


def prepare_images(images: torch.Tensor, meta: dict) -> torch.Tensor:
    """uint8 (N, C, H, W) -> the normalised float input the model was trained on."""
    mean = torch.tensor(meta["normalize"]["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(meta["normalize"]["std"]).view(1, -1, 1, 1)
    return (images.float() / 255.0 - mean) / std
