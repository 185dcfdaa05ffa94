"""Run by tests/training/test_distributed.py under a real ``torchrun``: one DDP rank.

Each rank iterates the samplers (sharded by default over the process group),
gathers every rank's draw and a variable-length evaluation shard, and rank 0 writes
what it gathered as JSON to the path given as the first argument.
"""

import json
import sys

import numpy as np
import torch

from imbalance_lab.strategies.samplers import (
    ClassBalancedSampler,
    RandomOverSampler,
    RandomUnderSampler,
)
from imbalance_lab.training import distributed

LABELS = np.array([0] * 157 + [1] * 41 + [2] * 12)
SAMPLERS = {
    "balanced": lambda even: ClassBalancedSampler(
        LABELS, num_samples=301, random_state=5, even=even
    ),
    "over": lambda even: RandomOverSampler(
        LABELS, sampling_strategy={1: 60, 2: 30}, random_state=5, even=even
    ),
    "under": lambda even: RandomUnderSampler(
        LABELS, sampling_strategy={0: 50}, random_state=5, even=even
    ),
}


def main(out_path: str) -> None:
    info = distributed.init_from_env("cpu")
    out = {"rank": info.rank, "world_size": info.world_size, "backend": info.backend, "draws": {}}
    for name, make in SAMPLERS.items():
        for even in ("none", "pad"):
            sampler = make(even)
            per_epoch = []
            for epoch in range(3):
                sampler.set_epoch(epoch)
                mine = torch.tensor(list(sampler), dtype=torch.long)
                per_epoch.append(distributed.all_gather(mine).tolist())
            out["draws"][f"{name}-{even}"] = per_epoch
    # Validation: each rank predicts its contiguous shard of 101 items, then all gather.
    items = torch.arange(101)[distributed.eval_shard(101)]
    scores = torch.stack([items.double(), items.double() / 10], dim=1)
    out["eval_scores"] = distributed.all_gather(scores).tolist()
    out["eval_labels"] = distributed.all_gather(items % 3).tolist()
    out["broadcast"] = distributed.broadcast_object({"seed": 1000 + info.rank})
    distributed.barrier()
    if distributed.is_main():
        with open(out_path, "w") as f:
            json.dump(out, f)
    distributed.cleanup()


if __name__ == "__main__":
    main(sys.argv[1])
