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


def test_registry_lists_the_papers_losses():
    # A subset check: a new loss registers itself and needs no edit here.
    assert {
        "balanced-softmax", "cb-focal", "focal", "ldam", "logit-adjusted", "weighted-ce"
    } <= set(loss_names())  # fmt: skip


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
            "loss 'focal' takes gamma, label_smoothing; got 'gama' \\(did you mean 'gamma'\\?\\)",
        ),
        (
            "balanced-softmax",
            {"tau": 1},
            "loss 'balanced-softmax' takes label_smoothing; got 'tau'",
        ),
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


# --- reference tests: each loss against its paper's formula, written out here -------------

CIFAR10_LT = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]  # rho = 100, 12,406 images


def test_focal_with_alpha_matches_lin_et_al_eq_5():
    # FL = -alpha_t (1 - p_t)^gamma log p_t (Lin et al. 2017, eq. 5), per item; the batch
    # value is the alpha-weighted mean, as CrossEntropyLoss(weight=alpha) reduces.
    logits, target = batch(4, n=16, seed=3)
    alpha = [0.1, 0.2, 0.3, 0.4]
    gamma = 1.5
    num, den = 0.0, 0.0
    for row, y in zip(logits.tolist(), target.tolist(), strict=True):
        p_t = math.exp(row[y]) / sum(math.exp(v) for v in row)
        num += -alpha[y] * (1 - p_t) ** gamma * math.log(p_t)
        den += alpha[y]
    loss = create_loss("focal", class_counts=[1] * 4, class_weights=alpha, gamma=gamma)
    assert loss(logits, target).item() == pytest.approx(num / den, rel=1e-5)


def test_cb_focal_matches_cui_et_al_written_out():
    # Cui et al. 2019, Sec. 4: -(1-b)/(1-b^n_y) sum_i (1 - p_i^t)^g log p_i^t, sigmoid p,
    # weights scaled to sum to C, averaged over the N items.
    logits, target = batch(10, n=12, seed=4)
    beta, gamma = 0.9999, 1.0
    raw = [(1 - beta) / (1 - beta**n) for n in CIFAR10_LT]
    w = [r * 10 / sum(raw) for r in raw]
    total = 0.0
    for row, y in zip(logits.tolist(), target.tolist(), strict=True):
        item = 0.0
        for i, z in enumerate(row):
            sig = 1 / (1 + math.exp(-z))
            p_t = sig if i == y else 1 - sig
            item += -((1 - p_t) ** gamma) * math.log(p_t)
        total += w[y] * item
    loss = create_loss("cb-focal", class_counts=CIFAR10_LT)  # defaults: beta 0.9999, gamma 1
    assert loss(logits, target).item() == pytest.approx(total / len(target), rel=1e-5)


def test_ldam_defaults_are_the_papers_s_30_max_margin_0_5_and_drw_beta_0_9999():
    loss = create_loss("ldam", class_counts=CIFAR10_LT, drw_epoch=160)
    assert loss.s == 30.0
    # Delta_j = C / n_j^(1/4) with the largest (rarest class) margin 0.5 (Cao et al. 2019).
    expected = [0.5 * (50 / n) ** 0.25 for n in CIFAR10_LT]
    assert loss.margins.tolist() == pytest.approx(expected, rel=1e-6)
    # DRW: the authors' cifar_train.py, effective number with beta 0.9999, sum = C.
    beta = 0.9999
    raw = [(1 - beta) / (1 - beta**n) for n in CIFAR10_LT]
    loss.set_epoch(160)
    assert loss.weight.tolist() == pytest.approx([r * 10 / sum(raw) for r in raw], rel=1e-6)
    loss.set_epoch(159)
    assert loss.weight.tolist() == [1.0] * 10


def test_balanced_softmax_matches_ren_et_al_eq_4_written_out():
    # p_y = n_y exp(z_y) / sum_j n_j exp(z_j) (Ren et al. 2020, Balanced Softmax).
    logits, target = batch(10, n=8, seed=5)
    expected = 0.0
    for row, y in zip(logits.tolist(), target.tolist(), strict=True):
        den = sum(n * math.exp(z) for n, z in zip(CIFAR10_LT, row, strict=True))
        expected += -math.log(CIFAR10_LT[y] * math.exp(row[y]) / den)
    loss = create_loss("balanced-softmax", class_counts=CIFAR10_LT)
    assert loss(logits, target).item() == pytest.approx(expected / 8, rel=1e-5)


def test_logit_adjusted_matches_menon_et_al_eq_10_written_out():
    # l(y, f) = -log [exp(f_y + tau log pi_y) / sum_j exp(f_j + tau log pi_j)] (eq. 10).
    logits, target = batch(10, n=8, seed=6)
    pi = [n / sum(CIFAR10_LT) for n in CIFAR10_LT]
    tau = 1.0
    expected = 0.0
    for row, y in zip(logits.tolist(), target.tolist(), strict=True):
        adj = [z + tau * math.log(p) for z, p in zip(row, pi, strict=True)]
        expected += -adj[y] + math.log(sum(math.exp(a) for a in adj))
    loss = create_loss("logit-adjusted", class_counts=CIFAR10_LT, tau=tau)
    assert loss(logits, target).item() == pytest.approx(expected / 8, rel=1e-5)


# --- soft targets (mixup / cutmix) and label smoothing ------------------------------------


def soft(target, num_classes):
    return F.one_hot(target, num_classes).float()


@pytest.mark.parametrize("name", loss_names())
@pytest.mark.parametrize("weighted", [False, True])
def test_every_loss_gives_the_same_value_for_one_hot_probabilities(name, weighted):
    counts = counts_for(5)
    weights = [0.5, 1.0, 1.5, 2.0, 2.5] if weighted and name not in ("ldam", "cb-focal") else None
    loss = create_loss(name, class_counts=counts, class_weights=weights)
    if name == "ldam":
        loss = create_loss(name, class_counts=counts, drw_epoch=0)
        loss.set_epoch(1 if weighted else 0)
    logits, target = batch(5, n=32, seed=7)
    assert torch.allclose(loss(logits, soft(target, 5)), loss(logits, target), atol=1e-6)


@pytest.mark.parametrize("name", loss_names())
def test_every_unweighted_loss_is_linear_in_the_mixed_target(name):
    # lam L(x, y_a) + (1 - lam) L(x, y_b), item by item (mixup's loss, Zhang et al. 2018).
    loss = create_loss(name, class_counts=counts_for(5))
    logits, y_a = batch(5, n=24, seed=8)
    y_b = y_a[torch.randperm(24, generator=torch.Generator().manual_seed(1))]
    lam = 0.3
    mixed = lam * soft(y_a, 5) + (1 - lam) * soft(y_b, 5)
    expected = lam * loss(logits, y_a) + (1 - lam) * loss(logits, y_b)
    assert torch.allclose(loss(logits, mixed), expected, atol=1e-6)


def test_weighted_mixed_targets_weight_each_label_by_its_own_class():
    # sum_i [lam w_a l_a + (1 - lam) w_b l_b] / sum_i [lam w_a + (1 - lam) w_b]
    w = torch.tensor([0.5, 1.0, 4.0])
    loss = create_loss("weighted-ce", class_counts=[1, 1, 1], class_weights=w.tolist())
    logits, y_a = batch(3, n=10, seed=9)
    y_b = (y_a + 1) % 3
    lam = 0.8
    nll = -F.log_softmax(logits, dim=1)
    l_a, l_b = nll.gather(1, y_a[:, None])[:, 0], nll.gather(1, y_b[:, None])[:, 0]
    num = (lam * w[y_a] * l_a + (1 - lam) * w[y_b] * l_b).sum()
    den = (lam * w[y_a] + (1 - lam) * w[y_b]).sum()
    mixed = lam * soft(y_a, 3) + (1 - lam) * soft(y_b, 3)
    assert torch.allclose(loss(logits, mixed), num / den)


def test_ldam_on_mixed_targets_lowers_each_labels_own_logit():
    counts = [1000, 100, 10]
    loss = create_loss("ldam", class_counts=counts)
    logits, y_a = batch(3, n=6, seed=10)
    y_b = (y_a + 2) % 3
    lam = 0.6
    margins = [0.5 * (10 / n) ** 0.25 for n in counts]
    expected = 0.0
    for z, a, b in zip(logits, y_a.tolist(), y_b.tolist(), strict=True):
        for y, share in ((a, lam), (b, 1 - lam)):
            moved = z.clone()
            moved[y] -= margins[y]
            expected += share * F.cross_entropy(30 * moved[None], torch.tensor([y])).item()
    mixed = lam * soft(y_a, 3) + (1 - lam) * soft(y_b, 3)
    assert loss(logits, mixed).item() == pytest.approx(expected / 6, rel=1e-5)


@pytest.mark.parametrize("name", ["logit-adjusted", "balanced-softmax", "ldam"])
def test_prior_based_losses_keep_the_training_prior_under_mixing(name):
    # The offset / margins come from the training counts, whatever the batch's mixed labels.
    counts = [900, 90, 9]
    loss = create_loss(name, class_counts=counts)
    before = {k: v.clone() for k, v in loss.named_buffers()}
    logits, y_a = batch(3, n=16, seed=11)
    loss(logits, 0.5 * soft(y_a, 3) + 0.5 * soft((y_a + 1) % 3, 3))
    assert all(torch.equal(v, before[k]) for k, v in loss.named_buffers())
    # and the mixed loss equals the average of the two hard-label losses with that prior
    expected = 0.5 * loss(logits, y_a) + 0.5 * loss(logits, (y_a + 1) % 3)
    assert torch.allclose(loss(logits, 0.5 * soft(y_a, 3) + 0.5 * soft((y_a + 1) % 3, 3)), expected)


def test_label_smoothing_matches_torch():
    logits, target = batch(7, n=40, seed=12)
    loss = create_loss("weighted-ce", class_counts=[1] * 7, label_smoothing=0.1)
    assert torch.allclose(
        loss(logits, target), F.cross_entropy(logits, target, label_smoothing=0.1)
    )
    # Smoothing is the same for the logit-adjusted loss, on the adjusted logits.
    la = create_loss("logit-adjusted", class_counts=[5, 4, 3, 2, 1, 1, 1], label_smoothing=0.2)
    adjusted = logits + la.log_prior
    assert torch.allclose(
        la(logits, target), F.cross_entropy(adjusted, target, label_smoothing=0.2)
    )


def test_focal_label_smoothing_is_the_smoothed_mixture_of_per_class_losses():
    logits, target = batch(4, n=10, seed=13)
    eps, gamma = 0.1, 2.0
    log_p = F.log_softmax(logits, dim=1)
    per_class = -((1 - log_p.exp()) ** gamma) * log_p
    t = (1 - eps) * soft(target, 4) + eps / 4
    expected = (t * per_class).sum(dim=1).mean()
    focal = create_loss("focal", class_counts=[1] * 4, gamma=gamma, label_smoothing=eps)
    assert torch.allclose(focal(logits, target), expected)


@pytest.mark.parametrize("bad", [torch.zeros(8, 4), torch.zeros(8, 3, dtype=torch.long)])
def test_a_target_of_the_wrong_shape_is_refused(bad):
    logits, _ = batch(3, n=8)
    with pytest.raises(ValueError, match="class indices of shape \\(8,\\) or class probabilities"):
        create_loss("weighted-ce", class_counts=[1, 1, 1])(logits, bad)


@pytest.mark.parametrize("name", loss_names())
def test_every_loss_refuses_label_smoothing_outside_0_1(name):
    with pytest.raises(ConfigError, match="label_smoothing must be a number in \\[0, 1\\); got 1"):
        create_loss(name, class_counts=[10, 2], label_smoothing=1)


@pytest.mark.parametrize("name", loss_names())
def test_probability_targets_give_the_hard_label_gradient_even_for_huge_logits(name):
    # Logits of +-60 (s = 30 times a +-2 cosine range): nothing may underflow into NaN.
    logits, target = batch(10, n=32, seed=14)
    loss = create_loss(name, class_counts=CIFAR10_LT)
    grads = []
    for tgt in (target, soft(target, 10)):
        x = (20 * logits).requires_grad_(True)
        loss(x, tgt).backward()
        grads.append(x.grad)
    assert torch.isfinite(grads[1]).all()
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_poly_1_adds_epsilon_times_one_minus_p_t():
    # Leng et al. 2022, eq. 3. Two equal logits: p_t = 1/2, so CE = ln 2 and Poly-1 with
    # epsilon = 2 is ln 2 + 2 * (1 - 1/2) = 1.6931...; logits (ln 3, 0): p_t = 3/4 for
    # class 0, 1/4 for class 1.
    loss = create_loss("poly", class_counts=[5, 5], poly_epsilon=2.0)
    assert loss(torch.zeros(1, 2), torch.tensor([0])).item() == pytest.approx(1.6931472, abs=1e-6)
    logits = torch.tensor([[math.log(3.0), 0.0], [math.log(3.0), 0.0]])
    got = loss(logits, torch.tensor([0, 1])).item()
    want = ((-math.log(0.75) + 2 * 0.25) + (-math.log(0.25) + 2 * 0.75)) / 2
    assert got == pytest.approx(want, abs=1e-6)
    ce = create_loss("poly", class_counts=[5, 5], poly_epsilon=0.0)
    assert ce(logits, torch.tensor([0, 1])).item() == pytest.approx(
        F.cross_entropy(logits, torch.tensor([0, 1])).item(), abs=1e-7
    )
