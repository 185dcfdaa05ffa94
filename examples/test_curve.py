"""How much would picking the best test epoch flatter a CIFAR-10-LT figure? Measure it.

`imbalance-lab benchmark cifar10-lt` scores the test split once, after the final epoch.
The LDAM-DRW and GLMC code instead score it after every epoch and keep the best
(`best_acc1`), and their papers do not say which of the two their tables hold. This
script trains one method exactly as the benchmark does (same protocol, same seed, same
initial weights) and also scores the test split after each of the last epochs, for the
measurement only: nothing is chosen on it, and the run's own figure stays the final
epoch's.

    python examples/test_curve.py --data ../shared/datasets/cifar10 --epochs 50 --seed 2 \
        --threads 1 --out runs/curve/ce-s2

Prints the run's final top-1 and, from the curve, the best epoch's top-1 and how far it
lies above the curve's last epoch; writes test_curve.json (epoch -> top-1, %) beside the
run. The curve is scored under the training's bf16 autocast where that is on; the run's
final figure is scored in fp32 (as `predict` scores), so it can differ from the curve's
last point by a tenth or two: compare the best epoch with the curve's own last epoch.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from imbalance_lab.config import resolve_config
from imbalance_lab.data import build_task
from imbalance_lab.errors import ImbalanceLabError
from imbalance_lab.experiments.benchmark import method_config, parse_methods, protocol
from imbalance_lab.models import create_model
from imbalance_lab.models.registry import MODELS
from imbalance_lab.training import fit
from imbalance_lab.training.device import resolve_device, use_bf16
from imbalance_lab.training.evaluate import evaluate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="CIFAR-10 root (image-folder tree)")
    parser.add_argument("--out", required=True, type=Path, help="the run's folder")
    parser.add_argument("--method", default="baseline", help="a strategy, as in --methods")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--from", dest="start", type=float, default=0.6,
        help="score the test split after every epoch from this fraction of the schedule on",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        flags = {"data": args.data, "epochs": args.epochs, "threads": args.threads}
        base = resolve_config(defaults={"data": "cifar10:"}, preset=protocol, flags=flags)
        (strategy,) = parse_methods(args.method)
        cfg = method_config(base, strategy, args.seed)
        task = build_task(cfg)
        # The model the trainer would build, from the same seed, so the weights start alike.
        torch.manual_seed(cfg.run_seed)
        settings = {p.name: getattr(cfg, p.name) for p in MODELS.params()}
        c, h, _ = task.train.image_shape
        model = create_model(cfg.model, num_classes=task.train.num_classes, in_channels=c,
                             image_size=h, faithful=cfg.faithful, loss=cfg.loss, **settings)  # fmt: skip
        device = resolve_device(cfg.device)
        bf16 = use_bf16(cfg.bf16, device)
        saved = args.out / "test_curve.json"  # a resumed run keeps the epochs scored before
        curve = (
            {int(k): v for k, v in json.loads(saved.read_text()).items()} if saved.exists() else {}
        )

        def score(epoch: int, _val_metrics: dict) -> None:
            if epoch + 1 >= args.start * cfg.epochs:
                _, _, probs = evaluate(model, task.test, None, device, bf16)
                hits = probs.argmax(dim=1) == task.test.labels
                curve[epoch + 1] = 100 * hits.double().mean().item()
                saved.write_text(json.dumps(curve, indent=1))

        result = fit(cfg, task, out_dir=args.out, model=model, on_epoch=score, progress=False)
    except ImbalanceLabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    final = 100 * result.final["test"]["accuracy"]
    last, best = max(curve), max(curve, key=curve.get)
    print(f"{args.method}, seed {args.seed}, {cfg.epochs} epochs: final {final:.2f}; "
          f"curve: best test epoch {best} at {curve[best]:.2f}, last epoch {curve[last]:.2f} "
          f"(+{curve[best] - curve[last]:.2f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
