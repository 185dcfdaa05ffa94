"""Data loading without a model: the streaming path against torchvision ImageFolder + DataLoader.

Not a test. Both loaders read the same photo folder (bench/make_photo_folder.py),
with the same batch size, workers and augmentation (the image fitted to NxN, then
a random resized crop and a flip), and yield uint8 batches; nothing trains. The
epochs are interleaved (ImageFolder epoch 1, streaming epoch 1, ImageFolder epoch
2, ...), so both see the same machine load. The streaming path's first epoch also
decodes the folder into an empty cache; its later epochs read the decoded cache.

    PYTHONPATH=src python -m bench.data_loading /tmp/photos --image-size 128 --workers 2

:func:`bench_loading` is what ``bench/run.py`` calls; :func:`peak_rss` measures the
peak resident memory of any command's whole process tree (DataLoader workers
included), e.g. ``imbalance-lab train ... --data-mode stream``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2

from imbalance_lab.data.budget import format_size
from imbalance_lab.data.store import folder_store
from imbalance_lab.data.streaming import ImageDataset, epoch_keys, make_loader
from imbalance_lab.data.transforms import CROP_RATIO, CROP_SCALE, train_transform


def imagefolder_loader(train_dir: Path, size: int, batch: int, workers: int, fit_first: bool):
    """What users write: ImageFolder (PIL decoding) + the same crop and flip + DataLoader.

    ``fit_first``: the same geometry as the streaming path (shorter side to N, centre
    crop, then the random resized crop); otherwise the usual single random resized
    crop of the whole photo, which resizes once and is the cheaper of the two.
    """
    steps = [v2.PILToTensor()]
    if fit_first:
        steps += [v2.Resize(size, antialias=True), v2.CenterCrop(size)]
    steps += [
        v2.RandomResizedCrop(size, scale=CROP_SCALE, ratio=CROP_RATIO, antialias=True),
        v2.RandomHorizontalFlip(),
    ]
    dataset = ImageFolder(str(train_dir), transform=v2.Compose(steps))
    return DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers)


def _epoch(loader) -> tuple[int, float]:
    started, n = time.perf_counter(), 0
    for images, _ in loader:
        assert images.dtype == torch.uint8
        n += images.shape[0]
    return n, time.perf_counter() - started


def bench_loading(
    folder: str | Path, *, image_size: int = 128, workers: int = 2, batch: int = 256,
    epochs: int = 3, seed: int = 0, usual: bool = True,
) -> dict:  # fmt: skip
    """Images/s per epoch of ImageFolder+DataLoader and of the streaming path; prints a table."""
    train_dir = Path(folder) / "train"
    classes = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    results: dict[str, list[float]] = {"imagefolder": [], "streaming": []}
    if usual:
        results["imagefolder (crop of the whole photo)"] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-cache-") as cache,
        mock.patch.dict(os.environ, IMBALANCE_LAB_CACHE=cache),
    ):
        started = time.perf_counter()
        store = folder_store(train_dir, classes, image_size, False, workers=workers, progress=False)
        build = time.perf_counter() - started
        n = len(store)
        print(
            f"{n} training images of {len(classes)} classes, {image_size} px, batch {batch}, "
            f"{workers} workers; decoded cache {format_size(store.nbytes())}, built in "
            f"{build:.1f} s ({n / build:.0f} images/s)"
        )
        dataset = ImageDataset(store, transform=train_transform(image_size))
        order = np.random.default_rng(seed)
        for epoch in range(epochs):
            for name in results:
                if name == "streaming":
                    keys = epoch_keys(order.permutation(n), seed, epoch)
                    loader = make_loader(dataset, batch_size=batch, sampler=keys, workers=workers)
                else:
                    loader = imagefolder_loader(
                        train_dir, image_size, batch, workers, fit_first=name == "imagefolder"
                    )
                count, seconds = _epoch(loader)
                if name == "streaming" and epoch == 0:
                    seconds += build  # the first epoch pays for decoding into the cache
                results[name].append(count / seconds)
                print(f"  epoch {epoch + 1}, {name:38s}: {count / seconds:7.0f} images/s")
    base = results["imagefolder"]
    later = slice(1, None)
    print(f"{'':10s}{'first epoch':>14s}{'later epochs (mean)':>22s}")
    for name, rates in results.items():
        print(
            f"{name[:38]:38s}{rates[0]:8.0f}{np.mean(rates[later]) if epochs > 1 else float('nan'):14.0f}"
        )
    if epochs > 1:
        ratio = np.mean(results["streaming"][later]) / np.mean(base[later])
        print(f"streaming / ImageFolder, later epochs: {ratio:.2f}x (same transforms)")
        if usual:
            cheap = np.mean(results["imagefolder (crop of the whole photo)"][later])
            print(
                f"streaming / ImageFolder cropping the whole photo: {np.mean(results['streaming'][later]) / cheap:.2f}x"
            )
    return results


# --- peak resident memory of a process tree ------------------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo += _children(p)
    return pids


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB; PSS shares each shared page among the processes that map it."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def peak_rss(cmd: list[str], interval: float = 0.05, env: dict | None = None) -> dict:
    """Run ``cmd``; its exit code, wall time and peak memory (bytes), polled every ``interval`` s.

    ``tree_rss``: the largest sum of RSS over the process and all its descendants
    (DataLoader workers count; the pages they share, torch's libraries first of all,
    count once per process); ``tree_pss``: the same with each shared page split among
    the processes that map it (other programs using the same libraries included), the
    fairer figure; ``largest``: the kernel's high-water mark of the largest single
    process of the tree (wait4), which polling cannot miss.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    peak_rss_kib = peak_pss_kib = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        totals = [_memory_kib(p) for p in _tree(proc.pid)]
        peak_rss_kib = max(peak_rss_kib, sum(r for r, _ in totals))
        peak_pss_kib = max(peak_pss_kib, sum(p for _, p in totals))
        time.sleep(interval)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "returncode": proc.returncode,
        "seconds": time.perf_counter() - started,
        "tree_rss": peak_rss_kib * 1024,
        "tree_pss": peak_pss_kib * 1024,
        "largest": usage.ru_maxrss * 1024,  # KiB on Linux
    }


STREAM_EPOCH = """
import sys, torch
from pathlib import Path
from imbalance_lab.data.store import folder_store
from imbalance_lab.data.streaming import ImageDataset, epoch_keys, make_loader
from imbalance_lab.data.transforms import train_transform
root, size, workers = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
store = folder_store(root / "train", classes, size, False, workers=workers, progress=False)
data = ImageDataset(store, transform=train_transform(size))
loader = make_loader(data, batch_size=256, sampler=epoch_keys(torch.randperm(len(data)).numpy(), 0, 0), workers=workers)
print(sum(x.shape[0] for x, _ in loader), store.nbytes())
"""


def bench_streaming_rss(folder: str | Path, *, image_size: int = 128, workers: int = 2) -> dict:
    """Peak memory of one streaming epoch (no model) over an already built cache, against its
    size and against a process that only imports the same modules (torch's own footprint)."""
    cmd = [sys.executable, "-c", STREAM_EPOCH, str(folder), str(image_size), str(workers)]
    subprocess.run(cmd, check=True, capture_output=True)  # builds the cache, if needed
    baseline = peak_rss([sys.executable, "-c", STREAM_EPOCH.split("root, size")[0]])
    result = peak_rss(cmd)
    decoded = _decoded_size(folder, image_size)
    print(
        f"one streaming epoch, {image_size} px, {workers} workers, {format_size(decoded)} of decoded "
        f"images: largest process {format_size(result['largest'])} (imports alone "
        f"{format_size(baseline['largest'])}), process tree RSS {format_size(result['tree_rss'])}, "
        f"PSS {format_size(result['tree_pss'])}"
    )
    return {**result, "decoded": decoded, "baseline": baseline["largest"]}


def _decoded_size(folder, image_size) -> int:
    n = sum(1 for _ in Path(folder, "train").glob("*/*"))
    return n * 3 * image_size * image_size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path, help="a folder from bench/make_photo_folder.py")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--no-usual", action="store_true", help="leave out ImageFolder cropping the whole photo"
    )
    parser.add_argument(
        "--rss", action="store_true", help="also measure one streaming epoch's peak memory"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    bench_loading(args.folder, image_size=args.image_size, workers=args.workers, batch=args.batch,
                  epochs=args.epochs, usual=not args.no_usual)  # fmt: skip
    if args.rss:
        bench_streaming_rss(args.folder, image_size=args.image_size, workers=args.workers)


if __name__ == "__main__":
    main()
