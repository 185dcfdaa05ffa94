"""Faithful mode: the article's training loop, bugs included (``--faithful``).

The article shuffles its list of images once and iterates a DataLoader without
shuffle, so every epoch sees one fixed order. It calls ``network.train()`` once,
before the epoch loop, and re-evaluates the training set after each epoch with a
helper that calls ``network.eval()`` and never switches back: from epoch 2 on, it
trains with BatchNorm frozen on running statistics. Together with the softmax it
feeds to cross-entropy (see models/convnet.py), this is what makes its CNN collapse.
"""

from __future__ import annotations

import torch

from imbalance_lab.training.evaluate import evaluate


class ArticleReplay:
    def __init__(self, n: int, generator: torch.Generator):
        self.order = torch.randperm(n, generator=generator)  # drawn once, kept for ever

    def epoch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(indices, mask of upsampled copies): the same fixed order every epoch."""
        return self.order, torch.zeros(len(self.order), dtype=torch.bool)

    def training_metrics(self, model, train, loss_fn, device, bf16) -> dict:
        # The article's accuracy helper: eval mode, and it stays so for the next epoch.
        return evaluate(model, train, loss_fn, device, bf16)[0]
