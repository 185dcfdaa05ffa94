"""GLMC's training step (Du et al. 2023), checked against its loss written out by hand."""

import math

import pytest
import torch

from imbalance_lab.models import GLMCNet
from imbalance_lab.models.resnet import CifarResNet
from imbalance_lab.strategies.augment import AugmentConfig, augment_batch
from imbalance_lab.strategies.mix import cutmix_box, draw_lambda
from imbalance_lab.training.steps import GLMCStep

COUNTS = [40, 20, 10, 5]


def tiny_glmc(seed=0):
    torch.manual_seed(seed)
    return GLMCNet(CifarResNet(8, 4, 3, width=4), 4, projection_dim=8)


def batch(n=8):
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8, generator=g), torch.tensor(
        [0, 0, 0, 1, 1, 2, 3, 0]
    )[:n]


def prepare(images):
    return images.float() / 255 - 0.5


def test_glmc_loss_is_the_papers_three_terms():
    model = tiny_glmc()
    images, labels = batch()
    step = GLMCStep(COUNTS, prepare=prepare)
    progress = 0.4
    loss = step(model, images, labels, torch.Generator().manual_seed(7), progress)

    # Replay the step's draws, then write the loss out.
    g = torch.Generator().manual_seed(7)
    aug = AugmentConfig(crop_pad=4, pad_mode="zeros", flip=True)
    v1, v2 = prepare(augment_batch(images, aug, g)), prepare(augment_batch(images, aug, g))
    lam = draw_lambda(1.0, g)
    p = torch.randperm(8, generator=g)
    x_g = lam * v1 + (1 - lam) * v1[p]
    top, bottom, left, right = cutmix_box(16, 16, lam, g)
    x_l = v2.clone()
    x_l[:, :, top:bottom, left:right] = v2[p][:, :, top:bottom, left:right]
    lam_l = 1 - (bottom - top) * (right - left) / 256
    raw = [n**-1.2 for n in COUNTS]
    w = [r * 4 / sum(raw) for r in raw]
    out_g, out_l = model.forward_train(x_g), model.forward_train(x_l)

    def soft_ce(logits, lam_, weighted):
        total = 0.0
        for i in range(8):
            log_p = torch.log_softmax(logits[i], dim=0)
            a, b = int(labels[i]), int(labels[p[i]])
            wa, wb = (w[a], w[b]) if weighted else (1.0, 1.0)
            total += -(lam_ * wa * log_p[a] + (1 - lam_) * wb * log_p[b])
        return total / 8

    def neg_cos(u, v):
        return -sum((u[i] @ v[i]) / (u[i].norm() * v[i].norm()) for i in range(8)) / 8

    eta = 1 - progress**2
    balance = soft_ce(out_g.logits, lam, False) + soft_ce(out_l.logits, lam_l, False)
    rebalance = soft_ce(out_g.logits_rebalanced, lam, True) + soft_ce(
        out_l.logits_rebalanced, lam_l, True
    )
    consistency = neg_cos(out_g.prediction, out_l.projection) + neg_cos(
        out_l.prediction, out_g.projection
    )
    expected = eta * balance + (1 - eta) * rebalance + 4.0 * consistency
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert step.parts["eta"] == pytest.approx(0.84) and step.parts["lam"] == lam


@pytest.mark.parametrize(
    ("progress", "idle"),
    [(0.0, "rebalanced"), (1.0, "backbone.head")],  # eta = 1, then eta = 0
)
def test_cumulative_weight_moves_the_gradient_from_one_head_to_the_other(progress, idle):
    model = tiny_glmc()
    images, labels = batch()
    step = GLMCStep(COUNTS, prepare=prepare)
    step(model, images, labels, torch.Generator().manual_seed(2), progress).backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert all((g is None or not g.any()) == name.startswith(idle) for name, g in grads.items()), {
        n: None if g is None else float(g.abs().sum()) for n, g in grads.items()
    }


def test_projector_and_predictor_learn_only_from_the_consistency_term():
    images, labels = batch()
    for weight in (0.0, 4.0):
        model = tiny_glmc()
        step = GLMCStep(COUNTS, prepare=prepare, consistency_weight=weight)
        step(model, images, labels, torch.Generator().manual_seed(3), 0.5).backward()
        for layer in (model.projector, model.predictor):
            learns = layer.weight.grad is not None and bool(layer.weight.grad.any())
            assert learns == (weight > 0)
        assert math.isfinite(step.parts["consistency"].item())


def test_glmc_step_is_reproducible_and_runs_under_bf16():
    images, labels = batch()
    losses = []
    for bf16 in (False, False, True):
        step = GLMCStep(COUNTS, prepare=prepare, bf16=bf16)
        losses.append(step(tiny_glmc(), images, labels, torch.Generator().manual_seed(4), 0.1))
    assert losses[0].item() == losses[1].item()
    assert losses[2].item() == pytest.approx(losses[0].item(), rel=0.05)
