"""Seconds per training step of the long-tail recipes, to plan 200-epoch CIFAR-10-LT runs. Not a test.

Times, on random uint8 CIFAR-sized batches (the compute does not depend on the pixels):
- ``ce``: crop+flip, forward, cross-entropy, backward and SGD step of a ResNet-32;
- ``ce+mix``: the same with cutmix and soft targets (the mix's own cost);
- ``glmc``: GLMC's step (two views, mixup + cutmix, two forward/backward passes,
  SimSiam term), on the plain ResNet-32 (width 16) and on the authors' width-64 model;
- ``trivialaugment``: TrivialAugmentWide per image on the batch;
each in float32 and under bfloat16 autocast, with 1 and 2 threads, interleaved so every
setting sees the same machine load. Prints the median and the fastest wall time of the
timed steps, and the median CPU time of the process: on a machine shared with other jobs
the wall time grows with their load, while the CPU time of a 1-thread step stays close
to what that step takes on an idle core.

    PYTHONPATH=src python -m bench.longtail_steps --batch 128 --steps 6
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from imbalance_lab.models import create_model
from imbalance_lab.strategies import AUTO_AUGMENTS, AugmentConfig, augment_batch, auto_augment_batch
from imbalance_lab.strategies.mix import cutmix
from imbalance_lab.training.steps import GLMCStep
from imbalance_lab.training.trainer import prepare

CIFAR10_LT = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
CROP_FLIP = AugmentConfig(crop_pad=4, pad_mode="zeros", flip=True)


def make_step(kind: str, width: int, bf16: bool):
    """(model, optimizer, step(images, labels, generator) -> None)."""
    torch.manual_seed(0)
    name = "glmc-resnet32" if kind == "glmc" else "resnet32"
    model = create_model(name, num_classes=10, width=width).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-3)
    device = torch.device("cpu")
    glmc = GLMCStep(CIFAR10_LT, prepare=lambda im: prepare(im, device), bf16=bf16)

    def step(images, labels, g):
        if kind == "glmc":
            loss = glmc(model, images, labels, g, 0.5)
        else:
            images = augment_batch(images, CROP_FLIP, g)
            target = labels
            if kind == "ce+mix":
                mixed = cutmix(images, labels, 10, g)
                images, target = mixed.images, mixed.target
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = model(prepare(images, device))
            loss = F.cross_entropy(out.float(), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def time_steps(step, batch: int, steps: int, warmup: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each timed step."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (batch, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (batch,), generator=g)
    times = []
    for i in range(warmup + steps):
        t, c = time.perf_counter(), time.process_time()
        step(images, labels, g)
        if i >= warmup:
            times.append((time.perf_counter() - t, time.process_time() - c))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds")
    parser.add_argument(
        "--kinds", nargs="+", default=["ce", "ce+mix", "glmc", "glmc@64", "trivialaugment"]
    )
    args = parser.parse_args()
    results: dict[tuple, list[tuple[float, float]]] = {}
    for _ in range(args.repeats):
        for threads in args.threads:
            torch.set_num_threads(threads)
            for kind in args.kinds:
                for bf16 in (False, True):
                    if kind == "trivialaugment":
                        if bf16:
                            continue
                        policy = AUTO_AUGMENTS.get("trivialaugment")()

                        def step(images, labels, g, policy=policy):
                            auto_augment_batch(images, policy, g)
                    else:
                        base, _, w = kind.partition("@")
                        step = make_step(base, int(w or 16), bf16)
                    key = (kind, threads, "bf16" if bf16 else "fp32")
                    times = time_steps(step, args.batch, args.steps, args.warmup)
                    results.setdefault(key, []).extend(times)
                    print(_row(key, times), flush=True)  # as it goes: long runs can be cut
    print(f"batch {args.batch}, all rounds; wall median (fastest), CPU median, seconds per step:")
    for key, times in results.items():
        print(_row(key, times))


def _row(key: tuple, times: list[tuple[float, float]]) -> str:
    kind, threads, precision = key
    wall, cpu = [t for t, _ in times], [c for _, c in times]
    return (
        f"{kind:15s} threads={threads} {precision}: wall {statistics.median(wall):7.3f} "
        f"({min(wall):.3f})  cpu {statistics.median(cpu):7.3f}"
    )


if __name__ == "__main__":
    main()
