"""The ``imbalance-lab`` command line.

Every command that trains (``train``, ``compare``, ``sweep``, ``reproduce article``)
takes the same run parameters, generated from their one declaration (see
imbalance_lab.config): the same flags, the same TOML keys in ``--config``, the same
help. Bad input ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from pathlib import Path

import click

from imbalance_lab.errors import ConfigError, ImbalanceLabError, TrainingDiverged
from imbalance_lab.params import GROUPS, Param, spelled

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130


def _echo(quiet: bool):
    return (lambda *a, **k: None) if quiet else (lambda msg: click.echo(msg, err=True))


def quiet_option(f):
    return click.option("--quiet", is_flag=True, help="No progress bars or progress lines.")(f)


def workers_option(f):
    return click.option(
        "--workers", type=click.IntRange(min=1), default=1, show_default=True,
        help="Training processes at once, each with cores/N threads.",
    )(f)  # fmt: skip


def factory_options(f):
    """How to rebuild a model file's architecture: a model file is data, never code."""
    f = click.option(
        "--trust-factory", is_flag=True,
        help="Import and run the package.module:function the model file names (only for "
        "files you trust: naming it with --model is the same).",
    )(f)  # fmt: skip
    return click.option(
        "--model", "factory", metavar="NAME|package.module:function",
        help="Rebuild the architecture with this registered model or factory (needed for a "
        "model file made by your own factory, or by fit(model=...)).",
    )(f)  # fmt: skip


def force_option(f):
    return click.option("--force", is_flag=True, help="Replace another run or study in --out.")(f)


# --- run parameters as options ------------------------------------------------------------


class RunCommand(click.Command):
    """A command whose --help lists the run parameters by group, after its own options."""

    def format_options(self, ctx, formatter):
        sections: dict[str | None, list] = {}
        for option in self.get_params(ctx):
            record = option.get_help_record(ctx)
            if record:
                sections.setdefault(getattr(option, "run_group", None), []).append(record)
        with formatter.section("Options"):
            formatter.write_dl(sections.pop(None, []))
        for group, title in GROUPS.items():
            if group in sections:
                with formatter.section(f"Run parameters: {title}"):
                    formatter.write_dl(sections[group])


def run_options(defaults: dict | None = None):
    """--config, --print-config, and one option per run parameter (flag = --name, TOML key = name).

    ``defaults`` are the command's own defaults, {name: (value, why)}: --help shows them.
    """
    from imbalance_lab.config import params

    def decorate(f):
        for p in reversed(params()):
            f = _run_option(p, (defaults or {}).get(p.name))(f)
        f = click.option(
            "--print-config", is_flag=True,
            help="Print the resolved config (what config.json will hold) and stop.",
        )(f)  # fmt: skip
        return click.option(
            "--config", "config_file", type=click.Path(dir_okay=False),
            help="TOML file of run parameters (the flags' names, with _ for -); flags override it.",
        )(f)  # fmt: skip

    return decorate


def _run_option(p: Param, command_default):
    def attach(f):
        names = [f"{p.flag}/--no-{p.flag[2:]}" if p.is_bool else p.flag, p.name]
        option = click.Option(names, default=None, help=_option_help(p, command_default),
                              metavar=None if p.is_bool else _metavar(p))  # fmt: skip
        option.run_group = p.group
        f.__click_params__ = [*getattr(f, "__click_params__", []), option]
        return f

    return attach


def _metavar(p: Param) -> str:
    names = p.choice_names()
    if p.metavar:
        return p.metavar
    if names is not None and len(names) <= 8:
        return "[" + "|".join(names) + "]"
    return "NAME" if names is not None else "VALUE"


def _option_help(p: Param, command_default) -> str:
    from imbalance_lab.config import owners

    text = p.help[0].upper() + p.help[1:]
    names = p.choice_names()
    if names is not None and len(names) > 8:
        text += f" ({', '.join(names)})"
    used_by = owners(p.name)
    if used_by:
        text += f"; used by {', '.join(used_by)}"
    default = "none" if p.default is None else spelled(p.dump(p.default)) or "none"
    text += f". Default: {default}."
    if command_default is not None:
        value, why = command_default
        text += f" This command's default: {spelled(value)}, because {why}."
    return text


def _flags(run: dict) -> dict:
    """The run parameters given on the command line."""
    return {name: value for name, value in run.items() if value is not None}


def _print_config(cfg) -> None:
    click.echo(json.dumps(cfg.to_dict(), indent=2))


def _require_data(cfg) -> None:
    if not cfg.data:
        raise ConfigError("--data is required (or 'data' in the --config file)")


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


def _article_defaults():
    from imbalance_lab.experiments.article import DEFAULTS

    return DEFAULTS


@reproduce.command("article", cls=RunCommand)
@click.option(
    "--seeds", type=click.IntRange(min=1), default=1, show_default=True,
    help="Seeds per run: --seed .. --seed + K - 1.",
)  # fmt: skip
@click.option(
    "--both", is_flag=True, help="Run the faithful and the corrected variant, and compare them."
)
@click.option(
    "--out", type=click.Path(file_okay=False), default="results/article", show_default=True,
    help="Results folder; rerunning into it skips finished runs and resumes a killed one.",
)  # fmt: skip
@force_option
@workers_option
@quiet_option
@run_options(_article_defaults())
def reproduce_article_cmd(
    seeds, both, out, force, workers, quiet, config_file, print_config, **run
):
    """The article's study: mock model, ConvNet on 4:1 cats/dogs, class weights (0,1) and
    (0.15,0.85), and balanced data. Writes summary.md, summary.csv, plots/ and per-run logs.
    --faithful replays the article's code exactly, bugs included; --both runs both variants.

    \b
    Example:
      imbalance-lab reproduce article --data ../shared/datasets/cifar10 --both --seeds 3
    """
    from imbalance_lab.config import resolve_config
    from imbalance_lab.experiments.article import reproduce_article

    defaults = {k: v for k, (v, _) in _article_defaults().items()}
    cfg = resolve_config(defaults=defaults, file=config_file, flags=_flags(run))
    if print_config:
        return _print_config(cfg)
    if cfg.faithful and both:
        raise ConfigError("give --faithful or --both, not both")
    modes = ("faithful", "corrected") if both else ("faithful",) if cfg.faithful else ("corrected",)
    report = reproduce_article(
        cfg, out, seeds=seeds, modes=modes, progress=not quiet, force=force, workers=workers,
        echo=_echo(quiet),
    )  # fmt: skip
    click.echo(Path(report["summary"]).read_text().split("\n## ")[0])
    click.echo(
        f"wrote {report['summary']}, {report['csv']}, {len(report['plots'])} plots and {_html(report)}"
    )


# --- benchmark ---------------------------------------------------------------------------


@cli.group()
def benchmark():
    """Benchmark imbalance methods under a published protocol."""


def _protocol_defaults():
    from imbalance_lab.experiments.benchmark import protocol

    why = "the published CIFAR-10-LT protocol (Cao et al. 2019) sets it"
    return {
        "data": ("cifar10:", "CIFAR-10, downloaded by torchvision when online"),
        **{key: (value, why) for key, value in protocol({}).items()},
    }


@benchmark.command("cifar10-lt", cls=RunCommand)
@click.option(
    "--methods", default="default", show_default=True,
    help="'default' (the methods of docs/long-tail.md), 'all', or a comma-separated list of "
    "strategies: see 'imbalance-lab strategies'.",
)  # fmt: skip
@click.option(
    "--seeds", type=click.IntRange(min=1), default=1, show_default=True,
    help="Seeds per method: --seed .. --seed + K - 1.",
)  # fmt: skip
@click.option(
    "--out", type=click.Path(file_okay=False), default="results/benchmark-cifar10-lt",
    show_default=True,
    help="Results folder: one subfolder per imbalance factor and schedule (rho100-e200/...), "
    "so runs of several schedules share it and its page; rerunning resumes and skips.",
)  # fmt: skip
@click.option(
    "--doc", type=click.Path(dir_okay=False),
    help="Also write the page (long-tail.md) here, e.g. docs/long-tail.md.",
)  # fmt: skip
@force_option
@workers_option
@quiet_option
@run_options(_protocol_defaults())
def benchmark_cifar10_lt(methods, seeds, out, doc, force, workers, quiet, config_file, print_config, **run):  # fmt: skip
    """Train long-tail methods on CIFAR-10-LT under the published protocol (ResNet-32, 200
    epochs, SGD, steps at 160 and 180, zero-padded crops, every training image; top-1 on the
    test split after the final epoch) and write long-tail.md: each method's published
    figure, ours over the seeds, many/medium/few-shot accuracy, wall time and machine.
    --epochs shortens the schedule, every milestone at the same fraction; --long-tail 10
    is the other imbalance factor of the papers.

    \b
    Example (a 20-epoch schedule, every default method, then the full protocol for three):
      imbalance-lab benchmark cifar10-lt --data ../shared/datasets/cifar10 --epochs 20 --workers 2
      imbalance-lab benchmark cifar10-lt --data ../shared/datasets/cifar10 \\
          --methods baseline,ldam-drw,logit-adjusted --doc docs/long-tail.md --workers 2
    """
    from imbalance_lab.config import resolve_config
    from imbalance_lab.experiments.benchmark import parse_methods, protocol, run_benchmark
    from imbalance_lab.reports.long_tail import write_long_tail_page

    cfg = resolve_config(
        defaults={"data": "cifar10:"}, preset=protocol, file=config_file, flags=_flags(run)
    )
    if print_config:
        return _print_config(cfg)
    run_benchmark(cfg, parse_methods(methods), seeds, out, workers=workers, progress=not quiet,
                  force=force, echo=_echo(quiet))  # fmt: skip
    page = write_long_tail_page(out, doc)
    click.echo(page.read_text())
    click.echo(f"wrote {page}" + (f" and {doc}" if doc else ""))


# --- train -------------------------------------------------------------------------------


@cli.command(cls=RunCommand)
@click.option(
    "--out", type=click.Path(file_okay=False),
    help="Run folder (default results/train-<config hash>).",
)  # fmt: skip
@force_option
@click.option(
    "--resume", is_flag=True,
    help="Insist on continuing the run in --out (rerunning does it anyway); error if there is none.",
)  # fmt: skip
@quiet_option
@workers_option
@run_options()
def train(out, force, resume, quiet, workers, config_file, print_config, **run):
    """Train one configuration and write its log, model and metrics.

    Rerunning the same command resumes a killed run from its last epoch, or reports the
    finished one.

    \b
    Example:
      imbalance-lab train --data ../shared/datasets/cifar10 --classes cat,dog --ratio 4 \\
          --class-weights 0.15,0.85 --epochs 10 --seed 0
      imbalance-lab train --config examples/best-recipe.toml --data ../shared/datasets/cifar10
      imbalance-lab train --data photos/ --calibration cv:5 --objective 'recall>=0.9' --workers 2
    """
    from imbalance_lab.config import resolve_config
    from imbalance_lab.training.device import resolve_device
    from imbalance_lab.training.distributed import cleanup, init_from_env

    cfg = resolve_config(file=config_file, flags=_flags(run))
    if print_config:
        return _print_config(cfg)
    _require_data(cfg)
    run_dir = Path(out) if out else Path("results") / f"train-{_config_hash(cfg)}"
    # Under torchrun, every rank trains and rank 0 alone writes and talks.
    dist = init_from_env(resolve_device(cfg.device))
    try:
        if dist.world_size > 1 and cfg.folds is not None and cfg.fold is None:
            raise ConfigError(
                f"--calibration {cfg.calibration} trains its fold models as separate runs: start "
                "it without torchrun (--workers N trains N folds at once), or run each fold "
                "under torchrun with --fold K"
            )
        _train(cfg, run_dir, force, resume, quiet or not dist.is_main, talk=dist.is_main,
               workers=workers)  # fmt: skip
    finally:
        cleanup()


def _train(
    cfg, run_dir: Path, force: bool, resume: bool, quiet: bool, talk: bool, workers: int = 1
) -> None:
    from imbalance_lab.data.task import build_task
    from imbalance_lab.experiments.crossfit import is_cross_fitted
    from imbalance_lab.experiments.runner import PlannedRun, run_all
    from imbalance_lab.rundir import RunFolder
    from imbalance_lab.training.trainer import finished, fit

    folder = RunFolder(run_dir)
    started = folder.has_checkpoint() or folder.result() is not None
    if resume and not started and not (is_cross_fitted(cfg) and (run_dir / "folds").is_dir()):
        raise ConfigError(
            f"--resume: {run_dir} holds no run to continue (no checkpoint.pt or result.json)"
        )
    done = None if force else finished(run_dir, cfg)
    if done is None and is_cross_fitted(cfg):  # K fold models, then the point on their scores
        run_all([PlannedRun("", cfg)], run_dir, workers=workers, progress=not quiet,
                echo=_echo(quiet), force=force)  # fmt: skip
        final = folder.result()["final"]
    elif done is None:
        task = build_task(cfg, progress=not quiet)
        if task.notes["data_mode"] == "stream":
            _echo(quiet)(_stream_note(task.notes))
        result = fit(
            cfg, task, out_dir=run_dir, progress=not quiet, desc="train", warn=_echo(quiet),
            force=force,
        )  # fmt: skip
        _report_loading(task.notes, _echo(quiet))
        final = result.final
    else:
        _echo(quiet)(f"{run_dir} holds this finished run; showing its result")
        final = done["final"]
    if talk:
        _print_final(final)
        click.echo(f"wrote {run_dir}/ (model.pt, log.json, result.json)")


def _stream_note(notes: dict) -> str:
    from imbalance_lab.data.budget import format_size

    budget = notes["memory_budget"]
    return (
        f"note: streaming the images from the decoded cache ({format_size(notes['decoded_bytes'])} "
        + (f"exceed --memory-budget {format_size(budget)})" if budget else "asked for)")
    )


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
    from imbalance_lab.reports.points import interval_text

    keys = ("accuracy", "balanced_accuracy", "recall", "precision", "f1")
    click.echo(f"{'split':<14}" + "".join(f"{k:>19}" for k in keys))
    for split in ("train", "val", "test", "test_at_point"):
        if split in final:
            click.echo(f"{split:<14}" + "".join(f"{final[split][k]:>19.4f}" for k in keys))
    if "operating_point" in final:
        point = final["operating_point"]
        click.echo(point["message"])
        if point.get("interval"):
            click.echo(interval_text(point["interval"]))
        if point.get("warning"):
            click.echo(f"warning: {point['warning']}")


def _compare_defaults():
    from imbalance_lab.experiments.compare import DEFAULTS

    return DEFAULTS


def _preset_names() -> list[str]:
    from imbalance_lab.experiments.presets import PRESETS

    return PRESETS.names()


@cli.command(cls=RunCommand)
@click.option(
    "--preset", type=click.Choice(_preset_names()),
    help="Defaults for a known task (a layer under the --config file and the flags): "
    "see 'imbalance-lab presets'.",
)  # fmt: skip
@click.option(
    "--strategies", help="'all' or a comma-separated list: see 'imbalance-lab strategies' "
    "(default: the preset's, else all).",
)  # fmt: skip
@click.option(
    "--seeds", type=click.IntRange(min=1),
    help="Seeds per strategy: --seed .. --seed + K - 1 (default: the preset's, else 3).",
)  # fmt: skip
@click.option(
    "--out", type=click.Path(file_okay=False),
    help="Results folder (default results/compare-<preset>).",
)  # fmt: skip
@force_option
@workers_option
@quiet_option
@run_options(_compare_defaults())
def compare(
    preset, strategies, seeds, out, force, workers, quiet, config_file, print_config, **run
):
    """Run every strategy with the same model, budget and seeds; rank them by the
    objective, measured on the calibration split. Writes compare.md, compare.csv
    and plots/ (PR curves, confusion matrices, metrics per epoch).

    \b
    Example:
      imbalance-lab compare --preset article --data ../shared/datasets/cifar10 --workers 2
      imbalance-lab compare --config examples/best-recipe.toml --data ../shared/datasets/cifar10 \\
          --strategies baseline,logit-adjusted --seeds 3
    """
    from imbalance_lab.config import resolve_config
    from imbalance_lab.experiments.compare import run_compare
    from imbalance_lab.experiments.presets import PRESETS, preset_values
    from imbalance_lab.strategies.registry import parse_strategies

    defaults = {k: v for k, (v, _) in _compare_defaults().items()}
    cfg = resolve_config(
        defaults=defaults, preset=lambda given: preset_values(preset, given), file=config_file,
        flags=_flags(run),
    )  # fmt: skip
    if print_config:
        return _print_config(cfg)
    _require_data(cfg)
    chosen = PRESETS.get(preset) if preset else None
    strategies = parse_strategies(strategies or (chosen.strategies if chosen else "all"))
    seeds = seeds or (chosen.seeds if chosen else 3)
    out = out or f"results/compare-{preset or 'custom'}"
    report = run_compare(
        cfg, strategies, seeds, out, workers=workers, progress=not quiet, force=force,
        echo=_echo(quiet),
    )  # fmt: skip
    click.echo(Path(report["summary"]).read_text())
    click.echo(
        f"wrote {report['summary']}, {report['csv']}, {len(report['plots'])} plots and {_html(report)}"
    )


def _sweep_defaults():
    from imbalance_lab.experiments.sweep import DEFAULTS

    return DEFAULTS


@cli.command(cls=RunCommand)
@click.option(
    "--params", "searched", default="weight", show_default=True,
    help="What to search: weight, lr, epochs, gamma, tau, strategy.",
)  # fmt: skip
@click.option(
    "--trials", type=click.IntRange(min=1), default=12, show_default=True,
    help="Completed trials wanted.",
)  # fmt: skip
@click.option(
    "--grid", is_flag=True,
    help="The article's hand iteration: the minority weight on an even grid of --trials values.",
)  # fmt: skip
@click.option(
    "--storage",
    help="Optuna storage URL, e.g. postgresql://user:pw@host/db (default: SQLite in --out).",
)
@click.option(
    "--prune", is_flag=True,
    help="Stop unpromising trials early on the per-epoch calibration objective.",
)  # fmt: skip
@click.option(
    "--out", type=click.Path(file_okay=False), default="results/sweep", show_default=True,
    help="Results folder.",
)  # fmt: skip
@workers_option
@quiet_option
@run_options(_sweep_defaults())
def sweep(searched, trials, grid, storage, prune, out, workers, quiet, config_file, print_config, **run):  # fmt: skip
    """Search class weights (and optionally lr, epochs, gamma, tau, strategy) for an
    objective measured on the calibration split, with Optuna. Rerunning the same
    command continues the study; trials of a killed run are retried.

    \b
    Example (the article's task, 12 trials on 2 processes):
      imbalance-lab sweep --data ../shared/datasets/cifar10 --classes cat,dog --ratio 4 \\
          --objective 'recall>=0.9' --trials 12 --workers 2
    """
    from imbalance_lab.config import resolve_config
    from imbalance_lab.experiments.sweep import make_spec, run_sweep

    defaults = {k: v for k, (v, _) in _sweep_defaults().items()}
    cfg = resolve_config(defaults=defaults, file=config_file, flags=_flags(run))
    if print_config:
        return _print_config(cfg)
    _require_data(cfg)
    spec = make_spec(
        cfg, Path(out), params=searched, trials=trials, grid=grid, storage=storage, prune=prune
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

    _listing(STRATEGIES)


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
@factory_options
@quiet_option
def predict(model, paths, out, positive, skip_bad_images, factory, trust_factory, quiet):
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
    from imbalance_lab.reports.points import interval_text

    preds, meta, notes = predict_files(
        model, list(paths), skip_bad_images=skip_bad_images, factory=factory,
        trust_factory=trust_factory,
    )  # fmt: skip
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
    for kind in ("threshold", "tau"):
        if kind in meta:
            echo(f"operating point saved with the model: {kind} {float(meta[kind]):.4f}")
    if isinstance(meta.get("interval"), dict):
        # An interval the file spells otherwise is not worth failing a prediction.
        with contextlib.suppress(KeyError, TypeError, ValueError):
            echo(interval_text(meta["interval"]))
    if meta.get("warning"):
        echo(f"warning: {meta['warning']}")
    if out:
        echo(f"wrote {len(preds)} predictions to {out}")


@cli.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option(
    "--format", "fmt", type=click.Choice(["onnx", "torchscript"]), default="onnx",
    show_default=True, help="What to write.",
)  # fmt: skip
@click.option(
    "--out", type=click.Path(dir_okay=False),
    help="File to write (default: beside MODEL, model.onnx or model.torchscript.pt).",
)  # fmt: skip
@factory_options
def export(model, fmt, out, factory, trust_factory):
    """Export a saved model (model.pt) for a service that does not run this package: the
    file takes raw uint8 images (N, C, H, W) of the model's input size and returns class
    probabilities, normalisation inside; the operating point (threshold or tau, positive
    class, class names) is in its metadata. Test-time augmentation stays a Python-side
    option of predict. ONNX needs the 'export' extra (pip install 'imbalance-lab[export]').

    \b
    Example:
      imbalance-lab export results/weighted/model.pt --format onnx
    """
    from imbalance_lab.models.export import export_model

    path = export_model(model, out, fmt=fmt, factory=factory, trust_factory=trust_factory)
    click.echo(f"wrote {path}")


@cli.command()
def models():
    """List the registered models.

    \b
    Example:
      imbalance-lab models
    """
    from imbalance_lab.models.registry import MODELS

    _listing(MODELS)


@cli.command()
def presets():
    """List the presets of compare --preset.

    \b
    Example:
      imbalance-lab presets
    """
    from imbalance_lab.experiments.presets import PRESETS

    _listing(PRESETS)


def _listing(registry) -> None:
    width = max(len(name) for name in registry.names()) + 2
    for entry in registry.entries():
        click.echo(f"{entry.name:<{width}}{entry.summary}")


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
