"""The ``imbalance-lab`` command line.

Every command spells the same thing the same way (``--data``, ``--out``,
``--classes``, ``--ratio``, ``--epochs``, ``--seed``/``--seeds``, ``--model``,
``--quiet``). Bad input ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import click

from imbalance_lab.errors import ConfigError, ImbalanceLabError, TrainingDiverged

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130


def _echo(quiet: bool):
    return (lambda *a, **k: None) if quiet else (lambda msg: click.echo(msg, err=True))


def quiet_option(f):
    return click.option("--quiet", is_flag=True, help="No progress bars or progress lines.")(f)


def threads_option(f):
    return click.option(
        "--threads", type=click.IntRange(min=1), default=None,
        help="Torch threads for this process (default: all cores).",
    )(f)  # fmt: skip


def workers_option(f):
    return click.option(
        "--workers", type=click.IntRange(min=1), default=1, show_default=True,
        help="Training processes at once, each with cores/N threads.",
    )(f)  # fmt: skip


def bf16_option(f):
    return click.option(
        "--bf16/--no-bf16", default=None,
        help="bf16 autocast. Default: on for CUDA and for CPUs with AMX, off otherwise.",
    )(f)  # fmt: skip


def compile_option(f):
    return click.option(
        "--compile/--no-compile", default=None,
        help="torch.compile the training step: about 40 s to compile (cached for later runs), "
        "then faster epochs (1.1-1.3x for ResNet-20 on a 2-core CPU). Default off.",
    )(f)  # fmt: skip


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="imbalance-lab")
def cli():
    """See and fix what class imbalance does to image classifiers.

    \b
    Example:
      imbalance-lab reproduce article --data ../shared/datasets/cifar10 --out results/article
    """


# --- reproduce ---------------------------------------------------------------------------


@cli.group()
def reproduce():
    """Reproduce a published study."""


@reproduce.command("article")
@click.option(
    "--data",
    default="cifar10:",
    show_default=True,
    help="CIFAR-10: an image-folder copy, or cifar10:DIR for torchvision's layout (downloads when online).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="results/article",
    show_default=True,
    help="Results folder; rerunning into it skips finished runs and resumes a killed one.",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Epochs per run (the article: 10).",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Seeds per run: 0 .. K-1.",
)
@click.option(
    "--faithful",
    is_flag=True,
    help="Replay the article's code exactly, bugs included (softmax + CE, train mode set once).",
)
@click.option(
    "--both", is_flag=True, help="Run the faithful and the corrected variant, and compare them."
)
@click.option("--force", is_flag=True, help="Replace results of another study in --out.")
@workers_option
@threads_option
@bf16_option
@quiet_option
def reproduce_article_cmd(
    data, out, epochs, seeds, faithful, both, force, workers, threads, bf16, quiet
):
    """The article's study: mock model, ConvNet on 4:1 cats/dogs, class weights (0,1) and
    (0.15,0.85), and balanced data. Writes summary.md, summary.csv, plots/ and per-run logs.

    \b
    Example:
      imbalance-lab reproduce article --data ../shared/datasets/cifar10 --both --seeds 3
    """
    from imbalance_lab.experiments.article import reproduce_article

    if faithful and both:
        raise ConfigError("give --faithful or --both, not both")
    modes = ("faithful", "corrected") if both else ("faithful",) if faithful else ("corrected",)
    report = reproduce_article(
        data, out, epochs=epochs, seeds=seeds, modes=modes, threads=threads, bf16=bf16,
        progress=not quiet, force=force, workers=workers, echo=_echo(quiet),
    )  # fmt: skip
    click.echo(Path(report["summary"]).read_text().split("\n## ")[0])
    click.echo(
        f"wrote {report['summary']}, {report['csv']}, {len(report['plots'])} plots and {_html(report)}"
    )


# --- train -------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="TOML file of RunConfig keys; flags override it.",
)
@click.option(
    "--data",
    help="Image-folder root (<root>/<split>/<class>/*.png), cifar10:DIR, or fashion-mnist:DIR.",
)
@click.option(
    "--classes", help="Comma-separated class names; binary: negative,positive (e.g. cat,dog)."
)
@click.option("--ratio", help="Training-count ratio, e.g. 4 or 4:1 (binary) or 10:5:1.")
@click.option("--counts", help="Training count per class, e.g. 4800,1200.")
@click.option(
    "--long-tail",
    type=float,
    help="Exponential long-tail profile with this imbalance factor, e.g. 100.",
)
@click.option(
    "--size", type=int, help="Total training images for --ratio (default: the largest round total)."
)
@click.option(
    "--image-size", type=int, help="Resize every image to NxN (needed when sizes are mixed)."
)
@click.option(
    "--skip-bad-images",
    is_flag=True,
    default=None,
    help="Skip corrupt images and count them instead of stopping.",
)
@click.option(
    "--val",
    help="'test' (the balanced test split, as the article) or a fraction carved from training, e.g. 0.1.",
)
@click.option("--model", help="Model name from the registry: see 'imbalance-lab models'.")
@click.option(
    "--faithful",
    is_flag=True,
    default=None,
    help="Replay the article's softmax + CE and train-mode bugs.",
)
@click.option("--epochs", type=int, help="Epochs (default 10).")
@click.option("--batch-size", type=int, help="Batch size (default 64).")
@click.option("--lr", type=float, help="Adam learning rate (default 1e-3).")
@click.option("--seed", type=int, help="Seed (default 0).")
@click.option("--class-weights", help="Per-class loss weights, e.g. 0.15,0.85.")
@click.option(
    "--weight-scheme",
    type=click.Choice(["balanced", "effective-number"]),
    help="Class weights from the training counts.",
)
@click.option(
    "--sampler",
    type=click.Choice(["downsample", "upsample", "weighted-sampler"]),
    help="Resample the training split.",
)
@click.option(
    "--augment",
    type=click.Choice(["none", "all", "copies"]),
    help="Crop+flip every image, or only upsampled copies.",
)
@click.option(
    "--loss",
    help="Loss from the registry: weighted-ce (default), focal, logit-adjusted, balanced-softmax, ldam.",
)
@click.option("--gamma", type=float, help="Focal loss gamma (default 2).")
@click.option("--tau", type=float, help="Logit-adjusted loss tau (default 1).")
@click.option(
    "--drw-at",
    type=float,
    help="LDAM: deferred re-weighting from this fraction of the epochs, e.g. 0.8.",
)
@click.option(
    "--objective",
    help="Choose the operating point on the --val split: max-f1, f-beta:B, recall>=R, precision>=P, balanced-accuracy.",
)
@click.option(
    "--tta",
    type=click.Choice(["none", "flip", "flip-shift"]),
    help="Test-time augmentation: average predictions over the mirror (and 1-pixel shifts).",
)
@click.option(
    "--ema",
    type=float,
    help="Score and save an exponential moving average of the weights with this decay, e.g. 0.998.",
)
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), help="Optimiser (default adam).")
@click.option("--weight-decay", type=float, help="L2 weight decay (default 0).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Device (default auto).")
@compile_option
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Run folder (default results/train-<config hash>).",
)
@click.option("--force", is_flag=True, help="Replace another run in --out.")
@click.option(
    "--resume",
    is_flag=True,
    help="Insist on continuing the run in --out (rerunning does it anyway); error if there is none.",
)
@threads_option
@bf16_option
@quiet_option
@click.pass_context
def train(ctx, config_file, out, force, resume, quiet, **flags):
    """Train one configuration and write its log, model and metrics.

    Rerunning the same command resumes a killed run from its last epoch, or reports the
    finished one.

    \b
    Example:
      imbalance-lab train --data ../shared/datasets/cifar10 --classes cat,dog --ratio 4 \\
          --class-weights 0.15,0.85 --epochs 10 --seed 0
    """
    from imbalance_lab.config import RunConfig, load_toml
    from imbalance_lab.data.task import build_task
    from imbalance_lab.training.trainer import finished, fit

    values = load_toml(config_file) if config_file else {}
    if config_file:
        RunConfig.from_dict(values, source=config_file)  # name unknown keys before anything else
    for name, value in flags.items():
        if (
            value is not None
            and ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT
        ):
            values[name] = value
    if not values.get("data"):
        raise ConfigError("--data is required (or 'data' in the --config file)")
    cfg = RunConfig.from_dict(values, source=config_file or "flags")
    run_dir = Path(out) if out else Path("results") / f"train-{_config_hash(cfg)}"
    if resume and not any(
        (run_dir / n).exists() for n in ("checkpoint.pt", "checkpoint.prev.pt", "result.json")
    ):
        raise ConfigError(
            f"--resume: {run_dir} holds no run to continue (no checkpoint.pt or result.json)"
        )
    done = None if force else finished(run_dir, cfg)
    if done is None:
        task = build_task(cfg)
        result = fit(
            cfg,
            task,
            out_dir=run_dir,
            progress=not quiet,
            desc="train",
            warn=_echo(quiet),
            force=force,
        )
        _report_loading(task.notes, _echo(quiet))
        final = result.final
    else:
        _echo(quiet)(f"{run_dir} holds this finished run; showing its result")
        final = done["final"]
    _print_final(final)
    click.echo(f"wrote {run_dir}/ (model.pt, log.json, result.json)")


def _html(report: dict) -> Path:
    from imbalance_lab.reports.html import write_html_report

    return write_html_report(Path(report["summary"]).parent)


def _config_hash(cfg) -> str:
    return hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode()).hexdigest()[:10]


def _report_loading(notes: dict, echo) -> None:
    loading = notes.get("loading", {})
    if loading.get("converted_modes"):
        modes = ", ".join(f"{n} {m}" for m, n in loading["converted_modes"].items())
        echo(f"note: converted images to a common mode ({modes})")
    if loading.get("skipped_bad_images"):
        echo(f"note: skipped {loading['skipped_bad_images']} unreadable images")
    if loading.get("ignored_non_images"):
        echo(f"note: ignored {loading['ignored_non_images']} files that are not images")
    echo("training counts: " + ", ".join(f"{k} {v}" for k, v in notes["train"].items()))


def _print_final(final: dict) -> None:
    keys = ("accuracy", "balanced_accuracy", "recall", "precision", "f1")
    click.echo(f"{'split':<14}" + "".join(f"{k:>19}" for k in keys))
    for split in ("train", "val", "test", "test_at_point"):
        if split in final:
            click.echo(f"{split:<14}" + "".join(f"{final[split][k]:>19.4f}" for k in keys))
    if "operating_point" in final:
        click.echo(final["operating_point"]["message"])


@cli.command()
@click.option(
    "--preset",
    type=click.Choice(["article", "cifar10-lt"]),
    help="Defaults for a known task; flags override them.",
)
@click.option("--data", help="Image-folder root, cifar10:DIR, or fashion-mnist:DIR.")
@click.option("--classes", help="Comma-separated class names; binary: negative,positive.")
@click.option("--ratio", help="Training-count ratio, e.g. 4 or 4:1.")
@click.option("--counts", help="Training count per class, e.g. 4800,1200.")
@click.option(
    "--long-tail", type=float, help="Exponential long-tail profile with this imbalance factor."
)
@click.option("--objective", help="max-f1, f-beta:B, recall>=R, precision>=P or balanced-accuracy.")
@click.option(
    "--strategies", help="'all' or a comma-separated list: see 'imbalance-lab strategies'."
)
@click.option(
    "--seeds", type=click.IntRange(min=1), help="Seeds per strategy: 0 .. K-1 (default 3)."
)
@click.option("--model", help="Model name from the registry.")
@click.option("--epochs", type=click.IntRange(min=1), help="Epochs per run.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Batch size.")
@click.option("--lr", type=float, help="Learning rate.")
@click.option("--val", help="Calibration split: a fraction of the training data (default 0.2).")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Results folder (default results/compare-<preset>).",
)
@click.option("--force", is_flag=True, help="Replace another study in --out.")
@compile_option
@workers_option
@threads_option
@quiet_option
@click.pass_context
def compare(ctx, preset, out, force, workers, quiet, **flags):
    """Run every strategy with the same model, budget and seeds; rank them by the
    objective, measured on the calibration split. Writes compare.md, compare.csv
    and plots/ (PR curves, confusion matrices, metrics per epoch).

    \b
    Example:
      imbalance-lab compare --preset article --data ../shared/datasets/cifar10 --workers 2
      imbalance-lab compare --data ../shared/datasets/cifar10 --classes cat,dog --ratio 4 \\
          --objective 'recall>=0.9' --strategies all --seeds 3 --epochs 10
    """
    from imbalance_lab.experiments.compare import resolve_compare, run_compare

    overrides = {k: v for k, v in flags.items() if v is not None}
    if isinstance(overrides.get("classes"), str):
        overrides["classes"] = tuple(c for c in overrides["classes"].split(",") if c)
    base, strategies, seeds, objective = resolve_compare(preset, overrides)
    out = out or f"results/compare-{preset or 'custom'}"
    report = run_compare(
        base,
        strategies,
        seeds,
        out,
        workers=workers,
        progress=not quiet,
        force=force,
        echo=_echo(quiet),
    )
    click.echo(Path(report["summary"]).read_text())
    click.echo(
        f"wrote {report['summary']}, {report['csv']}, {len(report['plots'])} plots and {_html(report)}"
    )


@cli.command()
@click.option("--data", help="Image-folder root, cifar10:DIR, or fashion-mnist:DIR.")
@click.option("--classes", help="Comma-separated class names; binary: negative,positive.")
@click.option("--ratio", help="Training-count ratio, e.g. 4 or 4:1.")
@click.option("--counts", help="Training count per class.")
@click.option(
    "--objective",
    default="recall>=0.9",
    show_default=True,
    help="Objective on the calibration split.",
)
@click.option(
    "--params",
    default="weight",
    show_default=True,
    help="What to search: weight, lr, epochs, gamma, tau, strategy.",
)
@click.option(
    "--trials",
    type=click.IntRange(min=1),
    default=12,
    show_default=True,
    help="Completed trials wanted.",
)
@click.option(
    "--grid",
    is_flag=True,
    help="The article's hand iteration: the minority weight on an even grid of --trials values.",
)
@click.option(
    "--storage",
    help="Optuna storage URL, e.g. postgresql://user:pw@host/db (default: SQLite in --out).",
)
@click.option(
    "--prune",
    is_flag=True,
    help="Stop unpromising trials early on the per-epoch calibration objective.",
)
@click.option(
    "--model", default="article-convnet", show_default=True, help="Model name from the registry."
)
@click.option(
    "--epochs", type=click.IntRange(min=1), default=10, show_default=True, help="Epochs per trial."
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the data, the trials and the sampler.",
)
@click.option(
    "--val",
    default="0.2",
    show_default=True,
    help="Calibration split: a fraction of the training data.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="results/sweep",
    show_default=True,
    help="Results folder.",
)
@workers_option
@quiet_option
def sweep(data, classes, ratio, counts, objective, params, trials, grid, storage, prune, model, epochs, seed, val,
          out, workers, quiet):  # fmt: skip
    """Search class weights (and optionally lr, epochs, gamma, tau, strategy) for an
    objective measured on the calibration split, with Optuna. Rerunning the same
    command continues the study; trials of a killed run are retried.

    \b
    Example (the article's task, 12 trials on 2 processes):
      imbalance-lab sweep --data ../shared/datasets/cifar10 --classes cat,dog --ratio 4 \\
          --objective 'recall>=0.9' --trials 12 --workers 2
    """
    from imbalance_lab.config import RunConfig
    from imbalance_lab.experiments.sweep import make_spec, run_sweep

    if not data:
        raise ConfigError("--data is required")
    values = {
        "data": data,
        "model": model,
        "epochs": epochs,
        "seed": seed,
        "val": val,
        "objective": objective,
    }
    values.update(
        {k: v for k, v in (("classes", classes), ("ratio", ratio), ("counts", counts)) if v}
    )
    base = RunConfig.from_dict(values, source="sweep")
    spec = make_spec(
        base, Path(out), params=params, trials=trials, grid=grid, storage=storage, prune=prune
    )
    report = run_sweep(spec, out, workers=workers, progress=not quiet, echo=_echo(quiet))
    click.echo(Path(report["summary"]).read_text().split("\n## Trials")[0])
    click.echo(
        f"wrote {report['summary']}, {report['csv']}, {len(report['plots'])} plots and {_html(report)}"
    )


@cli.command()
@click.argument("results_dir", type=click.Path(file_okay=False))
def report(results_dir):
    """Write RESULTS_DIR/report.html: one self-contained page (config, class counts,
    sample images, metric curves, PR curves, confusion matrices, tables) that opens
    with no server. reproduce, compare and sweep write it when they finish.

    \b
    Example:
      imbalance-lab report results/article
    """
    from imbalance_lab.reports.html import write_html_report

    if not Path(results_dir).is_dir():
        raise ConfigError(f"results folder not found: {results_dir}")
    click.echo(f"wrote {write_html_report(results_dir)}")


@cli.command()
def strategies():
    """List the imbalance strategies that compare runs.

    \b
    Example:
      imbalance-lab strategies
    """
    from imbalance_lab.strategies.registry import STRATEGIES

    for strategy in (e.obj for e in STRATEGIES.entries()):
        click.echo(f"{strategy.name:<18} {strategy.summary}")


@cli.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--out", type=click.Path(dir_okay=False), help="CSV file to write (default: print to stdout)."
)
@click.option(
    "--positive", help="Binary models: the class to keep out; each image is marked admit or reject."
)
@click.option(
    "--skip-bad-images",
    is_flag=True,
    help="Skip corrupt images and count them instead of stopping.",
)
@quiet_option
def predict(model, paths, out, positive, skip_bad_images, quiet):
    """Use a saved model (model.pt) on image files or folders; writes a CSV of
    file, predicted class and score.

    \b
    Example (the article's shelter door: reject dogs, admit cats):
      imbalance-lab predict results/train-xxxx/model.pt photos/ --positive dog --out decisions.csv
    """
    import csv
    import io

    from imbalance_lab.io import atomic_write_text
    from imbalance_lab.models.predict import predict_files

    preds, meta, notes = predict_files(model, list(paths), skip_bad_images=skip_bad_images)
    classes = meta["classes"]
    if positive is not None and positive not in classes:
        raise ConfigError(
            f"--positive {positive!r} is not a class of this model; its classes: {', '.join(classes)}"
        )
    if positive is not None and len(classes) != 2:
        raise ConfigError(f"--positive needs a binary model; this one has {len(classes)} classes")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header = ["file", "predicted", "score"] + [f"p_{c}" for c in classes]
    writer.writerow(header + (["decision"] if positive else []))
    for p in preds:
        row = [p.file, p.label, f"{p.score:.6f}"] + [f"{v:.6f}" for v in p.scores]
        writer.writerow(row + (["reject" if p.label == positive else "admit"] if positive else []))
    if out:
        atomic_write_text(out, buffer.getvalue())
    else:
        click.echo(buffer.getvalue(), nl=False)
    echo = _echo(quiet)
    for key, what in (("ignored_non_images", "ignored {} files that are not images"),
                      ("skipped_bad_images", "skipped {} unreadable images"),
                      ("resized", "resized {} images to the model's input size")):  # fmt: skip
        if notes[key]:
            echo("note: " + what.format(notes[key]))
    if out:
        echo(f"wrote {len(preds)} predictions to {out}")


@cli.command()
def models():
    """List the registered models.

    \b
    Example:
      imbalance-lab models
    """
    from imbalance_lab.models import model_names

    for name in model_names():
        click.echo(name)


# --- entry point -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="imbalance-lab", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except TrainingDiverged as exc:
        _fail(str(exc), EXIT_DIVERGED)
    except ImbalanceLabError as exc:
        _fail(str(exc), EXIT_BAD_INPUT)
    except click.ClickException as exc:
        _fail(exc.format_message(), EXIT_BAD_INPUT)
    except (click.exceptions.Abort, KeyboardInterrupt):
        _fail(
            "interrupted; run the same command again to resume from the last finished epoch",
            EXIT_INTERRUPTED,
        )


def _fail(message: str, code: int) -> None:
    click.echo(f"imbalance-lab: error: {' '.join(message.split())}", err=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
