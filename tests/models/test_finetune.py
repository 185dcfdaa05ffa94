"""Linear probe and lower backbone learning rate."""

import copy

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from imbalance_lab.errors import ConfigError
from imbalance_lab.models import create_model
from imbalance_lab.models.finetune import freeze_backbone, param_groups, split_parameters


def _step(model, groups, lr=0.1):
    opt = torch.optim.SGD(groups, lr=lr)
    for g in opt.param_groups:
        g["lr"] = lr * g["lr_scale"]  # what the trainer does at every step
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    loss = nn.functional.cross_entropy(model(x), torch.tensor([0, 1] * 4))
    opt.zero_grad()
    loss.backward()
    opt.step()


def test_a_linear_probe_trains_the_head_only_and_keeps_batchnorm_statistics():
    torch.manual_seed(0)
    model = freeze_backbone(create_model("article-convnet", num_classes=2))
    before = copy.deepcopy(model.state_dict())
    model.train()
    _step(model, param_groups(model))
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"head.weight", "head.bias"}  # running_mean/var of every norm included
    assert model.training and model.head.training and not model.norms[0].training


def test_a_weight_average_of_a_frozen_model_stays_frozen():
    model = freeze_backbone(create_model("article-convnet", num_classes=2))
    average = AveragedModel(model, use_buffers=True).module
    stats = average.norms[0].running_mean.clone()
    average.train()(torch.randn(4, 3, 32, 32))
    assert torch.equal(average.norms[0].running_mean, stats)


def test_backbone_lr_scale_makes_two_groups_covering_every_weight_once():
    model = create_model("resnet20", num_classes=2)
    groups = param_groups(model, 0.1)
    assert [(g["name"], g["lr_scale"]) for g in groups] == [("backbone", 0.1), ("head", 1.0)]
    ids = [id(p) for g in groups for p in g["params"]]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())
    assert [id(p) for p in groups[1]["params"]] == [id(model.head.weight), id(model.head.bias)]
    assert [g["lr_scale"] for g in param_groups(model)] == [1.0]


def test_the_backbone_moves_at_the_scaled_rate():
    torch.manual_seed(0)
    full, scaled = create_model("resnet20", num_classes=2), None
    scaled = copy.deepcopy(full)
    start = full.conv.weight.detach().clone()
    _step(full, param_groups(full, 1.0))
    _step(scaled, param_groups(scaled, 0.1))
    # One SGD step without momentum: the update is proportional to the learning rate.
    torch.testing.assert_close(scaled.conv.weight - start, (full.conv.weight - start) * 0.1)


def test_a_model_without_a_known_head_is_refused():
    with pytest.raises(
        ConfigError,
        match="need to know the head of Sequential: name its last layer head, fc or classifier",
    ):
        split_parameters(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))
