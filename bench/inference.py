"""Inference images/s: ``predict`` (PyTorch) against the exported ONNX model in onnxruntime.

Both read the same 2,000 CIFAR-10 test images (cats and dogs) from JPEG files, batch by
batch, and run the same weights with the same number of threads. Two figures each:
end to end from the files (decode included: what ``imbalance-lab predict`` does), and
the model alone on images already decoded in memory. Weights do not change the cost, so
untrained models are used unless a model file is given. Not a test.

    PYTHONPATH=. python -m bench.inference --data ../shared/datasets/cifar10 [--model model.pt]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from imbalance_lab.models import create_model
from imbalance_lab.models.export import export_model
from imbalance_lab.models.inference import class_probabilities
from imbalance_lab.models.predict import predict_files
from imbalance_lab.models.saved import load_saved_model, model_meta, save_model

BATCH = 256


def _files(data: Path) -> list[Path]:
    return [p for c in ("cat", "dog") for p in sorted((data / "test" / c).iterdir())]


def _untrained(name: str, folder: Path) -> Path:
    torch.manual_seed(0)
    model = create_model(name, num_classes=2, image_size=32).eval()
    path = folder / f"{name}.pt"
    save_model(path, model, model_meta(model, classes=("cat", "dog"), image_shape=(3, 32, 32)))
    return path


def _decode(files) -> np.ndarray:
    return np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files]).transpose(0, 3, 1, 2)


def _rate(n: int, fn, repeats: int = 3) -> float:
    fn()  # warm-up: first-call allocations, onnxruntime's graph preparation
    best = min(_timed(fn) for _ in range(repeats))
    return n / best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_model(model_path: Path, files: list[Path], threads: int) -> dict:
    import onnxruntime as ort

    torch.set_num_threads(threads)
    onnx_path = export_model(model_path, model_path.with_suffix(".onnx"))
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    model, meta = load_saved_model(model_path)
    spec = model.model_spec.input
    images = _decode(files)

    def onnx_files():
        for i in range(0, len(files), BATCH):
            session.run(None, {"images": _decode(files[i : i + BATCH])})

    def onnx_memory():
        for i in range(0, len(images), BATCH):
            session.run(None, {"images": images[i : i + BATCH]})

    @torch.no_grad()
    def torch_memory():
        for i in range(0, len(images), BATCH):
            class_probabilities(model, spec.normalize(torch.from_numpy(images[i : i + BATCH])))

    return {
        "predict (files)": _rate(
            len(files), lambda: predict_files(model_path, files, batch_size=BATCH)
        ),
        "onnxruntime (files)": _rate(len(files), onnx_files),
        "pytorch (decoded)": _rate(len(files), torch_memory),
        "onnxruntime (decoded)": _rate(len(files), onnx_memory),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/cifar10")
    parser.add_argument("--model", action="append", help="model file(s); default: untrained "
                        "article-convnet, resnet20 and resnet18 (small stem)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    files = _files(Path(args.data))
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(p) for p in args.model] if args.model else [
            _untrained(n, Path(tmp)) for n in ("article-convnet", "resnet20", "resnet18")
        ]  # fmt: skip
        print(f"{len(files)} test images, batch {BATCH}, {args.threads} threads; images/s:")
        for path in paths:
            rates = bench_model(path, files, args.threads)
            print(f"  {path.stem:<18}" + "  ".join(f"{k} {v:8.0f}" for k, v in rates.items()))


if __name__ == "__main__":
    main()
