"""The ensemble of the K fold models of ``--calibration cv:K``, used as one model.

Its output is the log of the members' mean class probabilities, so a softmax of it (what
predict, the trainer's scoring and an exported model apply) gives the mean probabilities
(the "soft vote" of Lakshminarayanan et al. 2017, "Simple and Scalable Predictive
Uncertainty Estimation using Deep Ensembles", Sec. 2.4). The model file stores the
members' weights under ``members.<k>.`` and their number under ``meta["ensemble"]``.
"""

from __future__ import annotations

import torch
from torch import nn

from imbalance_lab.models.spec import attach_spec, spec_of


class Ensemble(nn.Module):
    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        spec = getattr(members[0], "model_spec", None)
        if spec is not None:  # the file records the members' architecture
            attach_spec(self, spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([member(x).float().softmax(dim=1) for member in self.members])
        return probs.mean(dim=0).clamp_min(torch.finfo(torch.float32).tiny).log()


def ensemble_of(members: list[nn.Module], channels: int, size: int) -> Ensemble:
    """An ensemble whose spec (input, head, architecture) is its first member's."""
    ensemble = Ensemble(members)
    attach_spec(ensemble, spec_of(members[0], channels, size))
    return ensemble.eval()
