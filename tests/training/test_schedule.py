import math

import pytest
import torch

from imbalance_lab.config import RunConfig
from imbalance_lab.errors import ConfigError
from imbalance_lab.training.schedule import lr_at


def test_linear_decay_warms_up_then_falls_linearly_to_zero():
    cfg = RunConfig(lr=0.1, epochs=12, warmup_epochs=2, lr_decay="linear")
    n = 10  # batches per epoch
    assert lr_at(cfg, 0, 0, n) == pytest.approx(0.1 * 0.1 / 2)  # first warm-up step
    assert lr_at(cfg, 2, 0, n) == pytest.approx(0.1)  # warm-up over: the peak
    assert lr_at(cfg, 7, 0, n) == pytest.approx(0.05)  # halfway through the decay
    last = lr_at(cfg, 11, n - 1, n)
    assert 0 < last == pytest.approx(0.1 * 0.1 / 10)  # one batch from the end
    rates = [lr_at(cfg, e, b, n) for e in range(2, 12) for b in range(n)]
    assert all(a > b for a, b in zip(rates, rates[1:], strict=False))


def test_linear_decay_and_steps_are_exclusive():
    with pytest.raises(ConfigError, match="not both"):
        RunConfig(lr_decay="linear", lr_steps=((0.5, 0.1),))
    with pytest.raises(ConfigError, match="lr_decay must be steps or linear"):
        RunConfig(lr_decay="cosine")


def test_cosine_per_epoch_matches_torch_cosine_annealing():
    # GLMC's CIFAR schedule: CosineAnnealingLR(T_max=epochs) stepped once per epoch.
    from imbalance_lab.training.schedule import cosine_lr

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=200)
    for epoch in range(200):
        for batch in (0, 97):
            assert cosine_lr(0.01, epoch, batch, 98, 200, per_epoch=True) == pytest.approx(
                opt.param_groups[0]["lr"], rel=1e-9, abs=1e-15
            )
        opt.step()
        sched.step()


def test_cosine_warms_up_like_lr_at_then_follows_half_a_cosine():
    from imbalance_lab.training.schedule import cosine_lr

    cfg = RunConfig(lr=0.1, epochs=12, warmup_epochs=2, lr_decay="linear")
    n = 10
    for e, b in ((0, 0), (0, 5), (1, 9)):  # the same warm-up ramp as lr_at
        assert cosine_lr(0.1, e, b, n, 12, warmup_epochs=2) == pytest.approx(lr_at(cfg, e, b, n))
    assert cosine_lr(0.1, 2, 0, n, 12, warmup_epochs=2) == pytest.approx(0.1)
    assert cosine_lr(0.1, 7, 0, n, 12, warmup_epochs=2) == pytest.approx(0.05)  # half-way
    # (1 + cos(pi / 4)) / 2 of the way from final to base, a quarter through the decay
    expected = 0.001 + 0.099 * (1 + math.cos(math.pi / 4)) / 2
    assert cosine_lr(0.1, 4, 5, n, 12, warmup_epochs=2, final_lr=0.001) == pytest.approx(expected)
    rates = [cosine_lr(0.1, e, b, n, 12, warmup_epochs=2) for e in range(2, 12) for b in range(n)]
    assert all(a > b for a, b in zip(rates, rates[1:], strict=False)) and rates[-1] > 0
