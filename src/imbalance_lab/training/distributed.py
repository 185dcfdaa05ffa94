"""Several processes, one run: PyTorch DDP helpers for the trainer.

``torchrun --nproc-per-node N -m imbalance_lab train ...`` starts N processes and
tells each its place through the environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``). :func:`init_from_env` joins them
into one process group: gloo on CPU, NCCL on CUDA, one GPU per local rank.
Without torchrun (no ``WORLD_SIZE``, or 1) it sets nothing up and every helper
acts as the single process it is, so the trainer calls them unconditionally.

The samplers shard each epoch's draw over the ranks themselves (see
:func:`imbalance_lab.strategies.samplers.shard`); validation splits the data into
contiguous shards (:func:`eval_shard`) whose predictions :func:`all_gather`
joins back in order, so metrics are computed over the whole split, on every rank.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from imbalance_lab.errors import ConfigError


@dataclass(frozen=True)
class DistInfo:
    rank: int  # this process among all: 0 .. world_size - 1; rank 0 writes files and logs
    world_size: int  # processes in the run; 1 without torchrun
    local_rank: int  # this process among those on its machine: its GPU index on CUDA
    backend: str | None  # "gloo" or "nccl"; None when not distributed
    device: torch.device  # where this process trains

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise ConfigError(
            f"environment variable {name} must be a whole number, got {text!r}"
        ) from None


def init_from_env(device: torch.device | str = "cpu", timeout_s: float = 1800) -> DistInfo:
    """Join the process group torchrun describes; a single-process DistInfo without one.

    ``device`` is the run's device: "cuda" gives each process the GPU of its local
    rank and the NCCL backend, anything else gloo. Calling it twice is harmless.
    """
    device = torch.device(device)
    world = _env_int("WORLD_SIZE", 1)
    rank, local = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if world <= 1:
        return DistInfo(0, 1, 0, None, device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise ConfigError(
                f"LOCAL_RANK {local} has no GPU: this machine has {torch.cuda.device_count()}; "
                "give torchrun --nproc-per-node at most that many"
            )
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(
            backend, rank=rank, world_size=world, timeout=datetime.timedelta(seconds=timeout_s),
            device_id=device if device.type == "cuda" else None,
        )  # fmt: skip
    return DistInfo(dist.get_rank(), dist.get_world_size(), local, backend, device)


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """True on the process that writes checkpoints, logs and the model (rank 0)."""
    return rank() == 0


def barrier() -> None:
    """Wait until every rank gets here (e.g. rank 0 has written the checkpoint)."""
    if active():
        if dist.get_backend() == "nccl":
            dist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            dist.barrier()


def eval_shard(n: int, rank_: int | None = None, world: int | None = None) -> slice:
    """This rank's contiguous part of ``n`` evaluation items; in rank order they cover 0..n."""
    rank_ = rank() if rank_ is None else rank_
    world = world_size() if world is None else world
    return slice(n * rank_ // world, n * (rank_ + 1) // world)


def _comm_device() -> torch.device:
    return (
        torch.device("cuda", torch.cuda.current_device())
        if dist.get_backend() == "nccl"
        else torch.device("cpu")
    )


def all_gather(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's ``tensor`` concatenated along dim 0, in rank order, on every rank.

    The ranks' tensors may differ in length along dim 0 (the last shard of a split is
    often shorter) but must agree in the other dims and the dtype; the result lies
    on the caller's device. Without a process group it is ``tensor`` itself.
    """
    if not active():
        return tensor
    device = _comm_device()
    local = tensor.detach().to(device).contiguous()
    sizes = [torch.zeros(1, dtype=torch.long, device=device) for _ in range(world_size())]
    dist.all_gather(sizes, torch.tensor([local.shape[0]], dtype=torch.long, device=device))
    sizes = [int(s) for s in sizes]
    longest = max(sizes)
    # all_gather needs equal shapes: pad every part to the longest, then cut the padding off.
    padded = torch.zeros((longest, *local.shape[1:]), dtype=local.dtype, device=device)
    padded[: local.shape[0]] = local
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded)
    return torch.cat([p[:n] for p, n in zip(parts, sizes, strict=True)]).to(tensor.device)


def broadcast_object(obj, src: int = 0):
    """``obj`` as rank ``src`` has it, on every rank (small, picklable things: a seed, a path)."""
    if not active():
        return obj
    box = [obj if rank() == src else None]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def cleanup() -> None:
    """Leave the process group (at the end of a run, also after an error)."""
    if active():
        dist.destroy_process_group()
