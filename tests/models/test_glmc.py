"""GLMC's network (Du et al. 2023): two classifiers, projector and predictor on one backbone."""

import torch

from imbalance_lab.models import GLMCNet, create_model


def test_glmc_net_classifies_with_the_rebalanced_head():
    torch.manual_seed(0)
    model = create_model("glmc-resnet32", num_classes=10).eval()
    assert isinstance(model, GLMCNet)
    x = torch.randn(4, 3, 32, 32)
    out = model.forward_train(x)
    h = model.backbone.features(x)
    assert torch.allclose(model(x), model.rebalanced(h))
    assert torch.allclose(out.logits_rebalanced, model(x))
    assert torch.allclose(out.logits, model.backbone.head(h))
    assert out.projection.shape == out.prediction.shape == (4, 128)
    assert torch.allclose(out.prediction, model.predictor(out.projection))


def test_glmc_width_64_is_the_authors_model_size():
    # The authors' ResNet_modify at nf = 64: a 7.39M backbone (16x He et al.'s 0.46M) plus
    # two 256 -> 10 classifiers, a 256 -> 128 projector and a 128 -> 128 predictor.
    model = create_model("glmc-resnet32", num_classes=10, width=64)
    heads = 2 * (256 * 10 + 10) + (256 * 128 + 128) + (128 * 128 + 128)
    backbone = sum(p.numel() for p in model.backbone.parameters()) - (256 * 10 + 10)
    assert backbone == 7_383_616
    assert sum(p.numel() for p in model.parameters()) == backbone + heads
