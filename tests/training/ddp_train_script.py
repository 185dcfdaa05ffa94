"""Run by tests/training/test_ddp.py under a real ``torchrun`` (and once without it).

Each rank opens the trainer's session for a config and draws two epochs of training
batches exactly as ``fit`` does; the training-set indices every rank drew are gathered,
and rank 0 writes them as JSON to the path given as the first argument.
"""

import json
import sys

import torch

from imbalance_lab.config import RunConfig
from imbalance_lab.data.task import build_task
from imbalance_lab.training import distributed
from imbalance_lab.training.batches import epoch_batches
from imbalance_lab.training.trainer import _open


def draws(cfg: RunConfig) -> list[list[int]]:
    s = _open(cfg, build_task(cfg, progress=False), None, None, False, print)
    epochs = []
    for epoch in range(2):
        order, copies = s.plan.epoch(epoch, s.gen)
        mine = [b.indices for b in epoch_batches(s, order, copies, epoch)]
        epochs.append(distributed.all_gather(torch.cat(mine)).tolist())
    return epochs


def main(out_path: str, data: str) -> None:
    base = RunConfig(data=data, classes=("cat", "dog"), counts="40,10", epochs=2, batch_size=16,
                     model="resnet20", threads=1, loader_workers=0)  # fmt: skip
    configs = {
        "memory, upsampled, crop+flip": base.replace(sampler="upsample", augment="all"),
        "memory, class-balanced draw": base.replace(sampler="weighted-sampler"),
        "streamed, 40 px, per-image crops": base.replace(
            data_mode="stream", image_size=40, augment="all"
        ),  # fmt: skip
    }
    got = {name: draws(cfg) for name, cfg in configs.items()}
    if distributed.is_main():
        with open(out_path, "w") as f:
            json.dump({"world_size": distributed.world_size(), "draws": got}, f)
    distributed.cleanup()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
