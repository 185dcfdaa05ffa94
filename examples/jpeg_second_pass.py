"""How much does the JPEG copy of CIFAR-10 cost? Give it a second JPEG pass and measure.

The CIFAR-10 tree in ../shared/datasets is the original images re-encoded as JPEG (quality
75, 4:2:0 chroma, as their quantisation tables show), and no lossless copy can be fetched
here. So instead of removing that first pass, this script adds a second one of the same
strength and lets the benchmark measure what it costs:

    python examples/jpeg_second_pass.py ../shared/datasets/cifar10 runs/cifar10-jpeg2
    imbalance-lab benchmark cifar10-lt --data runs/cifar10-jpeg2 --methods baseline ...

Every image of the tree (train and test) is encoded again at quality 75 with 4:2:0 chroma,
on a block grid shifted by (3, 5) pixels, so that the new 8x8 blocks and 2x2 chroma pairs
straddle the old ones and the pass adds fresh error instead of re-quantising the same
coefficients (re-encoding on the old grid gives most images back bit for bit). The result
is decoded and stored as PNG (lossless), so the copy holds exactly two generations of JPEG
error. Run it on its own output with another --shift (e.g. 6,2) for a third generation.

It prints how strong each pass is, as PSNR in dB over all pixels and channels:
- first pass, measured where the original is known: 32x32 patches cut from the photos
  that ship with scikit-learn and matplotlib, each area-downsampled from a 128x128 crop
  (the way CIFAR's images were made from larger photos), encoded once;
- second pass, measured on the tree: this copy against the one it was made from.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

QUALITY = 75
SHIFT = (3, 5)  # rows, columns: odd, so neither 8x8 blocks nor 2x2 chroma pairs line up
SUFFIXES = {".jpg", ".jpeg", ".png"}


def jpeg_pass(rgb: np.ndarray, shift: tuple[int, int] = (0, 0)) -> np.ndarray:
    """`rgb` (H, W, 3 uint8) through one JPEG encode and decode, its grid moved by `shift`."""
    dy, dx = shift
    h, w, _ = rgb.shape
    padded = np.pad(rgb, ((dy, (-(h + dy)) % 8), (dx, (-(w + dx)) % 8), (0, 0)), mode="reflect")
    buf = io.BytesIO()
    Image.fromarray(padded).save(buf, format="JPEG", quality=QUALITY, subsampling="4:2:0")
    decoded = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return decoded[dy : dy + h, dx : dx + w]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _one(job: tuple[str, str, tuple[int, int]]) -> float:
    src, dst, shift = job
    rgb = np.asarray(Image.open(src).convert("RGB"))
    out = jpeg_pass(rgb, shift)
    Image.fromarray(out).save(dst, format="PNG")
    return psnr(rgb, out)


def natural_patches(per_photo: int = 200, seed: int = 0) -> list[np.ndarray]:
    """32x32 patches, each a random 128x128 crop of a bundled photo, area-downsampled 4x."""
    from matplotlib import cbook
    from sklearn.datasets import load_sample_images

    photos = list(load_sample_images().images)
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        photos.append(np.asarray(Image.open(f).convert("RGB")))
    rng = np.random.default_rng(seed)
    patches = []
    for photo in photos:
        h, w, _ = photo.shape
        for _ in range(per_photo):
            y, x = rng.integers(0, h - 128), rng.integers(0, w - 128)
            crop = Image.fromarray(photo[y : y + 128, x : x + 128])
            patches.append(np.asarray(crop.resize((32, 32), Image.Resampling.BOX)))
    return patches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "source", type=Path, help="image-folder tree (<root>/{train,test}/<class>/*)"
    )
    parser.add_argument(
        "dest", type=Path, help="where the second-generation copy goes (must not exist)"
    )
    parser.add_argument(
        "--shift", default=",".join(map(str, SHIFT)), help="rows,columns the block grid moves by"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    parts = args.shift.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) < 8 for p in parts):
        print(f"error: --shift {args.shift!r}: give two integers 0-7, e.g. 3,5", file=sys.stderr)
        return 2
    shift = (int(parts[0]), int(parts[1]))
    if not (args.source / "train").is_dir() or not (args.source / "test").is_dir():
        print(f"error: {args.source} has no train/ and test/ folders", file=sys.stderr)
        return 2
    if args.dest.exists():
        print(f"error: {args.dest} exists; give a new folder", file=sys.stderr)
        return 2

    first = [psnr(p, jpeg_pass(p)) for p in natural_patches()]
    print(f"first pass (quality {QUALITY}, 4:2:0) on {len(first)} natural 32x32 patches: "
          f"PSNR {np.mean(first):.2f} dB (median {np.median(first):.2f})")  # fmt: skip

    jobs = []
    for path in sorted(args.source.glob("*/*/*")):
        if path.suffix.lower() in SUFFIXES:
            out = args.dest / path.relative_to(args.source).with_suffix(".png")
            jobs.append((str(path), str(out)))
    for folder in {Path(dst).parent for _, dst in jobs}:
        folder.mkdir(parents=True, exist_ok=True)
    tmp = args.dest.with_name(args.dest.name + ".partial")
    args.dest.rename(tmp)  # written under a temporary name, renamed when whole
    jobs = [(src, str(tmp / Path(dst).relative_to(args.dest)), shift) for src, dst in jobs]
    with ProcessPoolExecutor(args.workers) as pool:
        per_image = np.fromiter(pool.map(_one, jobs, chunksize=256), dtype=np.float64)
    tmp.rename(args.dest)
    print(f"this pass (grid shifted by {shift}) on {len(jobs)} images of {args.source}: "
          f"PSNR {per_image.mean():.2f} dB (median {np.median(per_image):.2f})")  # fmt: skip
    print(f"wrote {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
