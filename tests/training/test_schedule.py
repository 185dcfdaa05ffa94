import pytest

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
