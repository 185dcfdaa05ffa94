"""Fine-tuning: train only the head (a linear probe), or the backbone at a lower learning rate.

The head is the layer a model's spec names (:attr:`ModelSpec.head`; a user's module is
looked up by the usual names ``head``, ``fc``, ``classifier``). Everything else is the
backbone.

A frozen backbone must stay exactly as loaded, BatchNorm statistics included, so it is
kept in eval mode whenever the model is put in train mode: a forward pre-hook sets it
back before every forward pass. The trainer's ``model.train()`` then needs no special
case, and a deep copy (an EMA's ``AveragedModel``) carries the behaviour along, because
the hook reads everything from the module it is called on.
"""

from __future__ import annotations

from torch import nn

from imbalance_lab.errors import ConfigError
from imbalance_lab.models.spec import spec_of
from imbalance_lab.params import Param, boolean, number

FREEZE_BACKBONE = Param(
    "freeze_backbone", False,
    "train only the classification head (a linear probe): the backbone's weights and "
    "BatchNorm statistics stay as loaded",
    "model", parse=boolean, example="true",
)  # fmt: skip
BACKBONE_LR_SCALE = Param(
    "backbone_lr_scale", 1.0,
    "the backbone's learning rate as a fraction of --lr when fine-tuning (the head trains "
    "at --lr), e.g. 0.1",
    "optimisation", parse=number(above=0, max=1), example="0.1",
)  # fmt: skip


def head_path(model: nn.Module) -> str:
    head = spec_of(model).head
    if head is None:
        raise ConfigError(
            f"--freeze-backbone and --backbone-lr-scale need to know the head of "
            f"{type(model).__name__}: name its last layer head, fc or classifier"
        )
    return head


def _in(name: str, path: str) -> bool:
    return name == path or name.startswith(path + ".")


def split_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(backbone parameters, head parameters)."""
    head = head_path(model)
    backbone, own = [], []
    for name, param in model.named_parameters():
        (own if _in(name, head) else backbone).append(param)
    return backbone, own


def freeze_backbone(model: nn.Module) -> nn.Module:
    """Only the head trains; the backbone keeps its weights and stays in eval mode."""
    backbone, _ = split_parameters(model)
    for param in backbone:
        param.requires_grad_(False)
    model.register_forward_pre_hook(_backbone_in_eval)
    return model


def _backbone_in_eval(model: nn.Module, args) -> None:
    if not model.training:
        return
    head = head_path(model)
    for name, module in model.named_modules():
        # The head, what is inside it and what contains it keep train mode; all else is frozen.
        if name and not (_in(name, head) or _in(head, name)):
            module.training = False


def param_groups(model: nn.Module, backbone_lr_scale: float = 1.0) -> list[dict]:
    """Optimiser parameter groups of the trainable weights, each with its ``lr_scale``.

    The trainer sets ``group["lr"] = lr * group["lr_scale"]`` at every step (its schedule
    rewrites the learning rate anyway); a frozen backbone contributes no group.
    """
    if backbone_lr_scale == 1.0:
        groups = [("all", [p for p in model.parameters() if p.requires_grad], 1.0)]
    else:
        backbone, head = split_parameters(model)
        groups = [("backbone", [p for p in backbone if p.requires_grad], backbone_lr_scale),
                  ("head", [p for p in head if p.requires_grad], 1.0)]  # fmt: skip
    return [{"params": ps, "lr_scale": s, "name": n} for n, ps, s in groups if ps]
