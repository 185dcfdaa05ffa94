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
    with pytest.raises(ConfigError, match="--lr-decay must be one of steps, linear"):
        RunConfig(lr_decay="exponential")


def test_cosine_epochs_matches_torch_cosine_annealing_stepped_per_epoch():
    # GLMC's CIFAR schedule: CosineAnnealingLR(T_max=epochs) stepped once per epoch.
    cfg = RunConfig(lr=0.01, epochs=200, lr_decay="cosine-epochs")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=200)
    for epoch in range(200):
        for batch in (0, 97):
            assert lr_at(cfg, epoch, batch, 98) == pytest.approx(
                opt.param_groups[0]["lr"], rel=1e-9, abs=1e-15
            )
        opt.step()
        sched.step()


def test_cosine_warms_up_then_follows_half_a_cosine_every_batch():
    # SGDR (Loshchilov & Hutter 2017) eq. 5 without restarts, after the usual warm-up.
    cfg = RunConfig(lr=0.1, epochs=12, warmup_epochs=2, lr_decay="cosine")
    linear = RunConfig(lr=0.1, epochs=12, warmup_epochs=2, lr_decay="linear")
    n = 10
    for e, b in ((0, 0), (0, 5), (1, 9)):  # the same warm-up ramp for every schedule
        assert lr_at(cfg, e, b, n) == pytest.approx(lr_at(linear, e, b, n))
    assert lr_at(cfg, 2, 0, n) == pytest.approx(0.1)
    assert lr_at(cfg, 7, 0, n) == pytest.approx(0.05)  # half-way through the decay
    assert lr_at(cfg, 4, 5, n) == pytest.approx(0.1 * (1 + math.cos(math.pi / 4)) / 2)
    rates = [lr_at(cfg, e, b, n) for e in range(2, 12) for b in range(n)]
    assert all(a > b for a, b in zip(rates, rates[1:], strict=False)) and rates[-1] > 0
