"""Weight averaging (``--ema``): the weights scored and saved are a moving average.

An exponential moving average of the weights and batch-norm statistics (Polyak &
Juditsky 1992), updated after every optimiser step with
``torch.optim.swa_utils.AveragedModel``. Training itself is unchanged.
"""

from __future__ import annotations

from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


class WeightAverage:
    def __init__(self, model: nn.Module, decay: float | None):
        self.average = (
            AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
            if decay is not None
            else None
        )
        # The model that is validated, scored at the end and saved.
        self.scored = model if self.average is None else self.average.module

    def update(self, model: nn.Module) -> None:
        if self.average is not None:
            self.average.update_parameters(model)

    def state_dict(self) -> dict | None:
        return None if self.average is None else self.average.state_dict()

    def load_state_dict(self, state: dict | None) -> None:
        if self.average is not None:
            self.average.load_state_dict(state)
