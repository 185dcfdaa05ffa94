"""Losses, checked against torch's cross-entropy where they should reduce to it."""

import math

import pytest
import torch
import torch.nn.functional as F

from imbalance_lab.errors import ConfigError
from imbalance_lab.strategies import class_weight_scheme, create_loss, loss_names


def batch(num_classes: int, n: int = 64, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, num_classes, generator=g), torch.randint(
        0, num_classes, (n,), generator=g
    )


def counts_for(num_classes: int) -> list[int]:
    return [int(1000 * 0.5**i) + 1 for i in range(num_classes)]


@pytest.mark.parametrize("name", loss_names())
@pytest.mark.parametrize("num_classes", [2, 10])
def test_every_loss_gives_a_finite_scalar_and_a_gradient(name, num_classes):
    loss_fn = create_loss(name, class_counts=counts_for(num_classes))
    logits, target = batch(num_classes)
    logits.requires_grad_(True)
    loss = loss_fn(logits, target)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_registry_lists_the_five_losses():
    assert sorted(loss_names()) == [
        "balanced-softmax",
        "focal",
        "ldam",
        "logit-adjusted",
        "weighted-ce",
    ]


@pytest.mark.parametrize("weights", [None, [0.2, 1.0, 3.0]])
def test_focal_with_gamma_0_is_cross_entropy(weights):
    logits, target = batch(3)
    w = None if weights is None else torch.tensor(weights)
    loss = create_loss("focal", class_counts=[5, 5, 5], class_weights=weights, gamma=0.0)
    assert torch.allclose(loss(logits, target), F.cross_entropy(logits, target, weight=w))


def test_focal_matches_its_formula_and_down_weights_easy_items():
    logits, target = batch(4)
    p_t = logits.softmax(dim=1).gather(1, target[:, None]).squeeze(1)
    expected = (-((1 - p_t) ** 2) * p_t.log()).mean()
    focal = create_loss("focal", class_counts=[1, 1, 1, 1], gamma=2.0)
    assert torch.allclose(focal(logits, target), expected)
    assert focal(logits, target) < F.cross_entropy(logits, target)


def test_logit_adjusted_with_tau_0_is_cross_entropy():
    logits, target = batch(3)
    loss = create_loss("logit-adjusted", class_counts=[100, 10, 1], tau=0.0)
    assert torch.allclose(loss(logits, target), F.cross_entropy(logits, target))


def test_logit_adjusted_adds_tau_times_the_log_prior():
    logits, target = batch(3)
    counts = torch.tensor([100.0, 10.0, 1.0])
    loss = create_loss("logit-adjusted", class_counts=[100, 10, 1], tau=1.5)
    expected = F.cross_entropy(logits + 1.5 * (counts / counts.sum()).log(), target)
    assert torch.allclose(loss(logits, target), expected)


def test_balanced_softmax_on_uniform_counts_is_cross_entropy():
    logits, target = batch(5)
    loss = create_loss("balanced-softmax", class_counts=[7] * 5)
    assert torch.allclose(loss(logits, target), F.cross_entropy(logits, target))


def test_balanced_softmax_adds_the_log_counts():
    logits, target = batch(3)
    loss = create_loss("balanced-softmax", class_counts=[100, 10, 1])
    expected = F.cross_entropy(logits + torch.tensor([100.0, 10.0, 1.0]).log(), target)
    assert torch.allclose(loss(logits, target), expected)


def test_ldam_margins_follow_the_inverse_fourth_root_of_the_counts():
    counts = [10000, 625, 16, 1]
    loss = create_loss("ldam", class_counts=counts, max_m=0.5)
    margins = loss.margins.double()
    assert margins.max().item() == pytest.approx(0.5)
    for i in range(1, 4):
        ratio = (counts[0] / counts[i]) ** 0.25
        assert (margins[i] / margins[0]).item() == pytest.approx(ratio, rel=1e-6)


def test_ldam_is_cross_entropy_of_the_scaled_logits_minus_the_true_class_margin():
    logits, target = batch(2)
    loss = create_loss("ldam", class_counts=[81, 1], max_m=0.3, s=10.0)
    margins = torch.tensor([0.1, 0.3])
    adjusted = logits - F.one_hot(target, 2) * margins[target, None]
    assert torch.allclose(loss(logits, target), F.cross_entropy(10 * adjusted, target), atol=1e-6)


def test_ldam_deferred_reweighting_starts_at_drw_epoch():
    counts = [500, 50, 5]
    loss = create_loss("ldam", class_counts=counts, drw_epoch=3)
    logits, target = batch(3)
    expected = torch.tensor(class_weight_scheme("effective-number", counts, beta=0.9999))
    values = []
    for epoch in range(5):
        loss.set_epoch(epoch)
        on = epoch >= 3
        assert torch.allclose(loss.weight, expected if on else torch.ones(3))
        values.append(loss(logits, target).item())
    assert values[0] == values[1] == values[2] != values[3] == values[4]
    loss.set_epoch(0)  # a pure function of the epoch: going back switches it off
    assert torch.equal(loss.weight, torch.ones(3))
    never = create_loss("ldam", class_counts=counts)
    never.set_epoch(1000)
    assert torch.equal(never.weight, torch.ones(3))


def test_weights_and_priors_are_buffers_that_follow_the_module():
    loss = create_loss("logit-adjusted", class_counts=[3, 1], class_weights=[1.0, 2.0])
    names = {name for name, _ in loss.named_buffers()}
    assert names == {"log_prior", "ce.weight"}
    assert "margins" in dict(create_loss("ldam", class_counts=[3, 1]).named_buffers())
    focal = create_loss("focal", class_counts=[3, 1], class_weights=[1.0, 2.0]).double()
    assert focal.alpha.dtype == torch.float64


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("focl", {}, "unknown loss 'focl' \\(did you mean 'focal'\\?\\); choose from: weighted-ce"),
        (
            "focal",
            {"gama": 2},
            "loss 'focal' takes gamma; got 'gama' \\(did you mean 'gamma'\\?\\)",
        ),
        ("balanced-softmax", {"tau": 1}, "loss 'balanced-softmax' takes no parameters; got 'tau'"),
        ("focal", {"gamma": -1}, "gamma must be a number >= 0; got -1"),
        ("logit-adjusted", {"tau": math.nan}, "tau must be a finite number; got nan"),
        ("ldam", {"max_m": 0}, "max_m must be a number > 0; got 0"),
        ("ldam", {"drw_epoch": -2}, "drw_epoch must be None or an int >= 0; got -2"),
        ("ldam", {"class_weights": [1, 2]}, "sets its own class weights"),
        ("weighted-ce", {"class_weights": [1, 2, 3]}, "one weight per class \\(2\\), got 3"),
        ("weighted-ce", {"class_counts": [3, -1]}, "class_counts must be whole numbers >= 0"),
        ("balanced-softmax", {"class_counts": [3, 0]}, "needs at least one training sample"),
        ("logit-adjusted", {"class_counts": [0, 3]}, "needs at least one training sample"),
        ("ldam", {"class_counts": [0, 3]}, "needs at least one training sample"),
    ],
)
def test_bad_loss_settings_get_one_line_errors(name, kwargs, message):
    kwargs = {"class_counts": [10, 2], **kwargs}
    with pytest.raises(ConfigError, match=message) as info:
        create_loss(name, **kwargs)
    assert "\n" not in str(info.value)


def test_zero_count_classes_are_fine_for_losses_that_do_not_use_counts():
    logits, target = batch(2)
    for name in ("weighted-ce", "focal"):
        assert torch.isfinite(create_loss(name, class_counts=[10, 0])(logits, target))
