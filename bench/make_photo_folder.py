"""Build a photo-like image folder from the CIFAR-10 copy: mixed sizes and aspect ratios, JPEG.

Not a test and never committed: the files it writes are generated. Every image is
a CIFAR-10 image (train images for ``train/``, test images for ``test/``, so the
splits stay apart), cropped to a random box of 24-32 px and flipped at random
when it is reused, resized to a random width and height between 64 and 320 px
(the longer side uniform in [min, max], the aspect ratio log-uniform in [1, 2],
either orientation) and saved as JPEG. Image ``i`` of a split depends only on
(seed, split, i), so any number of processes writes the same folder.

    PYTHONPATH=src python -m bench.make_photo_folder /tmp/photos --train 20000 --test 2000
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

CIFAR = Path("../shared/datasets/cifar10")
SPLIT_SALT = {"train": 0, "test": 1}


def _sources(cifar: Path, split: str, classes: list[str]) -> list[list[Path]]:
    out = []
    for name in classes:
        files = sorted((cifar / split / name).glob("*.jpg"))
        if not files:
            raise SystemExit(f"no CIFAR-10 images in {cifar / split / name}")
        out.append(files)
    return out


def photo_size(rng: np.random.Generator, low: int, high: int) -> tuple[int, int]:
    """(width, height): the longer side uniform in [low, high], the aspect ratio log-uniform in [1, 2]."""
    longer = int(rng.integers(low, high + 1))
    ratio = float(np.exp(rng.uniform(0.0, np.log(2.0))))
    shorter = max(low, round(longer / ratio))
    return (longer, shorter) if rng.random() < 0.5 else (shorter, longer)


def make_photo(
    source: Path, rng: np.random.Generator, low: int, high: int, vary: bool
) -> Image.Image:
    with Image.open(source) as img:
        img = img.convert("RGB")
        if vary:  # a reused image gets another crop and maybe a flip, so no two files are the same
            side = int(rng.integers(24, img.width + 1))
            x, y = (int(rng.integers(0, img.width - side + 1)) for _ in range(2))
            img = img.crop((x, y, x + side, y + side))
            if rng.random() < 0.5:
                img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return img.resize(photo_size(rng, low, high), Image.Resampling.BICUBIC)


def _write_chunk(job) -> int:
    out, cifar, split, classes, per_class, start, stop, seed, low, high, quality = job
    sources = _sources(cifar, split, classes)
    written = 0
    for i in range(start, stop):
        c, k = divmod(i, per_class)
        files = sources[c]
        rng = np.random.default_rng([seed, SPLIT_SALT[split], i])
        photo = make_photo(files[k % len(files)], rng, low, high, vary=k >= len(files))
        photo.save(out / split / classes[c] / f"{k:06d}.jpg", quality=quality)
        written += 1
    return written


def make_photo_folder(
    out: Path, *, train: int, test: int, classes: list[str] | None = None, cifar: Path = CIFAR,
    seed: int = 0, low: int = 64, high: int = 320, quality: int = 90, processes: int | None = None,
) -> dict[str, int]:  # fmt: skip
    """Write ``train`` and ``test`` images (split evenly over the classes); returns images per split."""
    classes = classes or sorted(p.name for p in (cifar / "train").iterdir() if p.is_dir())
    if not 64 <= low <= high:
        raise SystemExit(f"sizes must satisfy 64 <= min <= max, got {low}..{high}")
    counts = {}
    jobs = []
    for split, total in (("train", train), ("test", test)):
        per_class = total // len(classes)
        counts[split] = per_class * len(classes)
        for name in classes:
            (out / split / name).mkdir(parents=True, exist_ok=True)
        step = 500
        for start in range(0, counts[split], step):
            stop = min(start + step, counts[split])
            jobs.append(
                (out, cifar, split, classes, per_class, start, stop, seed, low, high, quality)
            )
    with ProcessPoolExecutor(processes or os.cpu_count()) as pool:
        sum(pool.map(_write_chunk, jobs))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--train", type=int, default=20_000, help="training images in all")
    parser.add_argument("--test", type=int, default=2_000, help="test images in all")
    parser.add_argument(
        "--classes", default=None, help="comma-separated CIFAR-10 classes (default: all 10)"
    )
    parser.add_argument("--cifar", type=Path, default=Path(os.environ.get("DATA", CIFAR)))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-size", type=int, default=64)
    parser.add_argument("--max-size", type=int, default=320)
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality")
    parser.add_argument("--processes", type=int, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    counts = make_photo_folder(
        args.out, train=args.train, test=args.test,
        classes=args.classes.split(",") if args.classes else None, cifar=args.cifar,
        seed=args.seed, low=args.min_size, high=args.max_size, quality=args.quality,
        processes=args.processes,
    )  # fmt: skip
    files = [p for p in args.out.rglob("*.jpg")]
    size = sum(p.stat().st_size for p in files)
    print(
        f"wrote {counts['train']} train + {counts['test']} test JPEGs to {args.out} in "
        f"{time.perf_counter() - started:.0f} s ({size / 2**20:.0f} MiB, seed {args.seed})"
    )


if __name__ == "__main__":
    main()
