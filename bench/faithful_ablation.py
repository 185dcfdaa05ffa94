"""Which of the article's two bugs makes its ConvNet collapse? (An experiment, not a test.)

Trains the article's ConvNet on the 4:1 cats/dogs set four ways, same seed:
  corrected      logits into CE, train mode every epoch, reshuffled every epoch
  softmax-only   the article's softmax output fed into CE, everything else corrected
  frozen-bn-only logits, but BatchNorm left in eval mode from epoch 2 on, as the article does
  faithful       the article's code: both bugs, one fixed data order and its 3x3 pool
                 of the top-left corner (the other three average the whole class map)
and prints validation recall and accuracy per epoch.

    PYTHONPATH=. .venv/bin/python -m bench.faithful_ablation --data ../shared/datasets/cifar10
"""

from __future__ import annotations

import argparse

from imbalance_lab.config import RunConfig
from imbalance_lab.data import build_task
from imbalance_lab.models.convnet import ArticleConvNet
from imbalance_lab.training import fit


class SoftmaxOutput(ArticleConvNet):
    """The corrected net (its global pool) with the article's softmax on the output, alone."""

    def __init__(self):
        super().__init__(2, 3, faithful=False)
        self.faithful = True  # forward() ends in softmax; scoring expects probabilities


class FrozenAfterFirstEval(ArticleConvNet):
    """Ignores every train() after the first eval(): the article's train-mode bug, alone."""

    def __init__(self):
        super().__init__(2, 3, faithful=False)
        self.frozen = False

    def train(self, mode: bool = True):
        if not mode and getattr(self, "_seen_train", False):
            self.frozen = True
        self._seen_train = True
        return super().train(mode and not self.frozen)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/datasets/cifar10")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = parser.parse_args()
    cfg = RunConfig(
        data=args.data,
        classes=("cat", "dog"),
        ratio="4",
        epochs=args.epochs,
        seed=args.seed,
        threads=args.threads,
    )
    task = build_task(cfg)
    variants = {
        "corrected": (cfg, None),
        "softmax-only": (cfg, SoftmaxOutput),
        "frozen-bn-only": (cfg, FrozenAfterFirstEval),
        "faithful": (cfg.replace(faithful=True), None),
    }
    for name, (run_cfg, make) in variants.items():
        import torch

        torch.manual_seed(run_cfg.seed)
        log = fit(run_cfg, task, progress=False, model=make() if make else None).log
        recall = " ".join(f"{v:.2f}" for v in log["validation_recall_per_epoch"])
        acc = " ".join(f"{v:.2f}" for v in log["validation_accuracy_per_epoch"])
        print(f"{name:<15} val recall: {recall}\n{'':<15} val acc:    {acc}", flush=True)


if __name__ == "__main__":
    main()
