import pytest
import torch
from torch import nn

from imbalance_lab.training.device import CompiledStep


@pytest.mark.slow
def test_only_the_first_full_batch_compiles_and_others_run_eagerly():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    step = CompiledStep(model, enabled=True, batch_size=4)
    full, short = torch.randn(4, 3, 2, 2), torch.randn(3, 3, 2, 2)
    assert not step.compiles_on(short)  # the short last batch of an epoch stays eager
    assert step.compiles_on(full)
    out = step(full)
    assert not step.compiles_on(full)  # compiled once; the user is told only once
    assert torch.allclose(out, model(full), atol=1e-5)
    assert torch.allclose(step(short), model(short))


def test_a_disabled_step_is_the_eager_model():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    step = CompiledStep(model, enabled=False, batch_size=4)
    x = torch.randn(4, 3, 2, 2)
    assert not step.compiles_on(x) and step.compiled is None
    assert torch.equal(step(x), model(x))
