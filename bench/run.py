"""``make bench``: figures and ratios, measured side by side in one session. Not a test.

1. Trains the article's ConvNet on the article's 4:1 set (4800 cats + 1200 dogs, 3
   epochs, validation on the 2000 test images) with the project's trainer and with a
   plain re-statement of the article's loop; prints images per second and the ratio.
2. Trains the best recipe's ResNet-20 with and without ``--compile`` and prints the
   steady-state epoch time, the compile cost (cold, then cached) and the ratio
   (`--skip-compile`).
3. Times one sweep with 1 worker and with 2 workers (`--skip-sweep` to leave out).
4. Times `compare --preset article` (8-17 minutes on 2 cores; `--skip-compare` to leave out).
5. Data loading of photos at 128 px: the streaming path against torchvision ImageFolder +
   DataLoader with the same workers and transforms, epochs interleaved, and the ratio from
   the second epoch on (`--photos DIR` reads a folder of bench/make_photo_folder.py; without
   it, 4,000 photos are generated into a temporary folder; `--skip-loading`).
6. Inference images/s: `predict` against the exported ONNX model in onnxruntime, same
   weights and threads (`--skip-inference`).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch
from torch import nn

from bench.article_loop import train_article_style
from imbalance_lab.config import RunConfig
from imbalance_lab.data import build_task
from imbalance_lab.training import fit
from imbalance_lab.training.device import cpu_has_amx, set_threads, use_bf16


def _items(data):
    return [
        (img.permute(1, 2, 0).numpy(), int(y))
        for img, y in zip(data.images, data.labels, strict=True)
    ]


def bare_training_steps(task, epochs: int, batch_size: int = 64) -> None:
    """The compute floor: forward, backward and Adam step on images already in float.

    No data handling, no metrics, no evaluation: no trainer of this model at this
    batch size and precision on this machine can go faster, so ``ceiling / article
    loop`` bounds any speed-up the trainer can show.
    """
    from imbalance_lab.models.convnet import ArticleConvNet
    from imbalance_lab.models.spec import spec_of
    from imbalance_lab.training.trainer import prepare

    torch.manual_seed(0)
    model = ArticleConvNet(2, 3).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    c, h, _ = task.train.image_shape
    x = prepare(task.train.images, torch.device("cpu"), spec_of(model, c, h).input)
    y = task.train.labels
    bf16 = use_bf16(None, torch.device("cpu"))  # the precision the trainer picks here
    for _ in range(epochs):
        for start in range(0, len(x), batch_size):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = model(x[start : start + batch_size])
            loss = nn.functional.cross_entropy(out.float(), y[start : start + batch_size])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


def bench_trainer_vs_article(data: str, epochs: int, repeats: int) -> None:
    cfg = RunConfig(data=data, classes=("cat", "dog"), ratio="4", epochs=epochs, seed=0)
    task = build_task(cfg)
    n = len(task.train) * epochs
    train_items, val_items = _items(task.train), _items(task.val)
    print(
        f"article 4:1 set: {len(task.train)} training images x {epochs} epochs, {len(task.val)} validation images"
    )
    ours, theirs, bare = [], [], []
    for r in range(repeats):  # interleaved, so all three see the same machine load
        t = time.perf_counter()
        fit(cfg, task, progress=False)
        ours.append(n / (time.perf_counter() - t))
        t = time.perf_counter()
        torch.manual_seed(0)
        train_article_style(train_items, val_items, epochs)
        theirs.append(n / (time.perf_counter() - t))
        t = time.perf_counter()
        bare_training_steps(task, epochs)
        bare.append(n / (time.perf_counter() - t))
        print(
            f"  repeat {r + 1}: project trainer {ours[-1]:7.0f} img/s   article-style loop "
            f"{theirs[-1]:7.0f} img/s   bare steps {bare[-1]:7.0f} img/s"
        )
    best_ours, best_theirs, best_bare = max(ours), max(theirs), max(bare)
    print(f"project trainer     : {best_ours:7.0f} images/s (best of {repeats})")
    print(f"article-style loop  : {best_theirs:7.0f} images/s (best of {repeats})")
    print(f"speed-up            : {best_ours / best_theirs:5.2f}x")
    print(
        f"bare steps (no data handling, metrics or evaluation): {best_bare:7.0f} images/s, "
        f"{best_bare / best_theirs:4.2f}x the article loop: the ceiling of any trainer here; "
        f"the project trainer reaches {best_ours / best_bare:.0%} of it"
    )


def bench_compile(data: str, epochs: int, repeats: int) -> None:
    """Epoch seconds of the best recipe's training with and without torch.compile.

    The first epoch holds the compilation, so the steady state is the mean of the later
    epochs and the compile cost is the first epoch less that. Inductor gets an empty
    cache directory: the first compiled repeat compiles cold, the later ones hit the cache.
    """
    import tempfile
    import tomllib
    from pathlib import Path
    from unittest import mock

    import torch._dynamo

    recipe = tomllib.loads(Path("examples/best-recipe.toml").read_text())
    recipe.update(data=data, epochs=epochs, tta="none", seed=0)
    cfg = RunConfig.from_dict(recipe, source="examples/best-recipe.toml")
    task = build_task(cfg)
    print(
        f"best recipe ({cfg.model}, batch {cfg.batch_size}): {len(task.train)} training images "
        f"x {epochs} epochs, eager vs torch.compile"
    )
    steady: dict[bool, list[float]] = {False: [], True: []}
    with (
        tempfile.TemporaryDirectory(prefix="inductor-") as cache,
        mock.patch.dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache),
    ):
        for r in range(repeats):  # interleaved, so both see the same machine load
            for compiled in (False, True):
                torch._dynamo.reset()  # nothing compiled in memory from the last repeat
                seconds = fit(cfg.replace(compile=compiled), task, progress=False).log[
                    "epoch_seconds"
                ]
                steady[compiled].append(sum(seconds[1:]) / (len(seconds) - 1))
                extra = ""
                if compiled:
                    cost = seconds[0] - steady[compiled][-1]
                    extra = f", compile {cost:4.1f} s ({'cold' if r == 0 else 'from cache'})"
                print(
                    f"  repeat {r + 1}, {'compiled' if compiled else 'eager   '}: first "
                    f"epoch {seconds[0]:5.1f} s, later epochs {steady[compiled][-1]:5.2f} s "
                    f"each{extra}"
                )
    eager, compiled = min(steady[False]), min(steady[True])
    print(
        f"steady-state epoch: eager {eager:5.2f} s, compiled {compiled:5.2f} s: "
        f"{eager / compiled:4.2f}x faster (best of {repeats})"
    )


def _timed(cmd: list[str]) -> float:
    import subprocess
    import sys

    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "imbalance_lab", *cmd, "--quiet"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def bench_sweep_workers(data: str, trials: int, epochs: int) -> None:
    """Wall time of one sweep with 1 worker (2 threads) and with 2 workers (1 thread each)."""
    import tempfile

    print(f"sweep, article task: {trials} trials x {epochs} epochs, objective recall>=0.9")
    times = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as out:
            times[workers] = _timed(["sweep", "--data", data, "--classes", "cat,dog", "--ratio", "4",
                                     "--trials", str(trials), "--epochs", str(epochs),
                                     "--workers", str(workers), "--out", out])  # fmt: skip
        print(f"  {workers} worker(s): {times[workers]:7.1f} s wall")
    print(f"  2 workers vs 1: {times[1] / times[2]:5.2f}x faster")


def bench_compare_preset(data: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        seconds = _timed(
            ["compare", "--preset", "article", "--data", data, "--workers", "2", "--out", out]
        )
    print(
        f"compare --preset article (10 strategies x 3 seeds x 10 epochs, 2 workers): {seconds / 60:5.1f} min wall"
    )


def bench_photo_loading(data: str, photos: str | None) -> None:
    """Streaming vs ImageFolder + DataLoader on photos of mixed sizes, 128 px, 2 workers."""
    import tempfile
    from pathlib import Path

    from bench.data_loading import bench_loading
    from bench.make_photo_folder import make_photo_folder

    with tempfile.TemporaryDirectory(prefix="photos-") as tmp:
        if photos is None:
            photos = Path(tmp) / "photos"
            cifar = Path(data.removeprefix("cifar10:"))
            make_photo_folder(photos, train=4000, test=0, cifar=cifar, seed=0)
            print(f"4000 generated photos (64-320 px JPEGs from CIFAR-10) in {photos}")
        bench_loading(photos, image_size=128, workers=2, epochs=3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=os.environ.get("DATA", "../shared/datasets/cifar10"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--skip-compile", action="store_true", help="skip the eager-vs-compile recipe timing"
    )
    parser.add_argument(
        "--skip-sweep", action="store_true", help="skip the sweep 1-vs-2-worker timing"
    )
    parser.add_argument(
        "--skip-compare", action="store_true", help="skip the compare preset (8-17 min on 2 cores)"
    )
    parser.add_argument(
        "--photos", help="photo folder for the loading benchmark (bench/make_photo_folder.py)"
    )
    parser.add_argument("--skip-loading", action="store_true", help="skip the data-loading ratio")
    parser.add_argument("--skip-inference", action="store_true", help="skip predict vs onnxruntime")
    args = parser.parse_args()
    threads = set_threads(None)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {threads} threads"
    )
    print(
        f"AMX: {'yes' if cpu_has_amx() else 'no'}; the trainer's bf16 autocast is "
        f"{'on' if use_bf16(None, torch.device('cpu')) else 'off (fp32)'}"
    )
    bench_trainer_vs_article(args.data, args.epochs, args.repeats)
    if not args.skip_compile:
        bench_compile(args.data, epochs=3, repeats=args.repeats)
    if not args.skip_sweep:
        bench_sweep_workers(args.data, trials=8, epochs=3)
    if not args.skip_compare:
        bench_compare_preset(args.data)
    if not args.skip_loading:
        bench_photo_loading(args.data, args.photos)
    if not args.skip_inference:
        from bench.inference import main as bench_inference

        bench_inference(["--data", args.data, "--threads", str(threads)])


if __name__ == "__main__":
    main()
