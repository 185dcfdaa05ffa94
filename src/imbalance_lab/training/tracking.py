"""Send a run's metrics where people look: TensorBoard event files, an MLflow tracking server.

A sink is told three things by the trainer, and the trainer does nothing else for it:

- ``on_epoch(epoch, metrics, lr)`` after each epoch's checkpoint: ``epoch`` counts the
  epochs finished (1 after the first), ``metrics`` is ``{"train": {...}, "val": {...}}``
  (the epoch's metrics dicts, as in log.json), ``lr`` the head's learning rate;
- ``on_finish(final, scores, model_path)`` once the model file is written: ``final`` as in
  result.json, ``scores`` ``{split: (labels, class probabilities)}`` as in scores.npz;
- ``close(failed)`` at the end, whatever happened.

Both sinks are optional extras (``pip install 'imbalance-lab[tensorboard]'``, ``[mlflow]``);
asking for one that is not installed is refused in one line before anything runs. Sinks
write what they are told and never decide anything; they are not part of a run's identity.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import time
from pathlib import Path

import numpy as np

from imbalance_lab.errors import ConfigError, closest
from imbalance_lab.params import Param, name_list, optional, spelled, text
from imbalance_lab.registry import Registry
from imbalance_lab.rundir import MLRUNS, TENSORBOARD

SINKS = Registry("log sink")
EXPERIMENT = "imbalance-lab"
RUN_TAG = (
    "imbalance_lab.run_dir"  # MLflow tag: the run folder, so a resumed run continues its MLflow run
)


def epoch_scalars(split: str, metrics: dict, classes) -> dict[str, float]:
    """``split/metric`` -> value for every number in ``metrics``; per-class lists become
    ``split/metric/class``; the confusion matrix (a table) is left to on_finish."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            out[f"{split}/{key}"] = float(value)
        elif (
            isinstance(value, list | tuple)
            and len(value) == len(classes)
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            out.update(
                {f"{split}/{key}/{c}": float(v) for c, v in zip(classes, value, strict=True)}
            )
    return out


def confusion_table(matrix, classes) -> str:
    """A Markdown table, rows = true class, columns = predicted class."""
    head = "| true \\ predicted | " + " | ".join(classes) + " |"
    rule = "|---" * (len(classes) + 1) + "|"
    rows = [f"| {c} | " + " | ".join(str(int(v)) for v in row) + " |"
            for c, row in zip(classes, matrix, strict=True)]  # fmt: skip
    return "\n".join([head, rule, *rows])


def pr_curves(scores: dict, classes) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(tag, is-this-class labels, its probability) per split: binary tasks the positive class
    (the second), multi-class tasks every class one-vs-rest."""
    wanted = [1] if len(classes) == 2 else range(len(classes))
    return [(f"pr/{split}/{classes[c]}", np.asarray(labels) == c, np.asarray(probs)[:, c])
            for split, (labels, probs) in scores.items() for c in wanted]  # fmt: skip


class TensorBoardSink:
    module, extra = "tensorboard", "tensorboard"

    def __init__(self, out_dir: Path, *, classes, config: dict, **_):
        from torch.utils.tensorboard import SummaryWriter

        self.classes = list(classes)
        self.writer = SummaryWriter(log_dir=str(Path(out_dir) / TENSORBOARD))
        self.step = 0
        self.writer.add_text("config", "```\n" + json.dumps(config, indent=2) + "\n```", 0)

    def on_epoch(self, epoch: int, metrics: dict, lr: float) -> None:
        self.step = epoch
        for split, values in metrics.items():
            for tag, value in epoch_scalars(split, values, self.classes).items():
                self.writer.add_scalar(tag, value, epoch)
        self.writer.add_scalar("lr", lr, epoch)
        self.writer.flush()

    def on_finish(self, final: dict, scores: dict, model_path: Path | None) -> None:
        for tag, labels, probs in pr_curves(scores, self.classes):
            self.writer.add_pr_curve(tag, labels, probs, self.step)
        for split, metrics in final.items():
            if isinstance(metrics, dict) and "confusion_matrix" in metrics:
                table = confusion_table(metrics["confusion_matrix"], self.classes)
                self.writer.add_text(f"confusion_matrix/{split}", table, self.step)
            if isinstance(metrics, dict):
                for tag, value in epoch_scalars(split, metrics, self.classes).items():
                    self.writer.add_scalar("final/" + tag, value, self.step)
        self.writer.flush()

    def close(self, failed: bool = False) -> None:
        self.writer.close()


class MLflowSink:
    module, extra = "mlflow", "mlflow"

    def __init__(self, out_dir: Path, *, classes, config: dict, run_name: str | None = None,
                 mlflow_uri: str | None = None, **_):  # fmt: skip
        import logging

        from mlflow.tracking import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.WARNING)  # "creating tables" notes
        out_dir = Path(out_dir).resolve()
        self.classes = list(classes)
        uri = mlflow_uri or os.environ.get("MLFLOW_TRACKING_URI")
        artifacts = None
        if not uri:  # MLflow 3 keeps local runs in SQLite (its file store is retired)
            local = out_dir / MLRUNS
            local.mkdir(parents=True, exist_ok=True)
            uri, artifacts = f"sqlite:///{local / 'mlflow.db'}", (local / "artifacts").as_uri()
        self.client = client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name(EXPERIMENT)
        experiment_id = (
            experiment.experiment_id if experiment is not None
            else client.create_experiment(EXPERIMENT, artifact_location=artifacts)
        )  # fmt: skip
        unfinished = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{RUN_TAG}` = '{out_dir}' and attributes.status != 'FINISHED'",
            max_results=1,
        )
        run = unfinished[0] if unfinished else client.create_run(
            experiment_id, run_name=run_name or out_dir.name, tags={RUN_TAG: str(out_dir)}
        )  # fmt: skip
        self.run_id, self.step, self.finished = run.info.run_id, 0, False
        # Parameters cannot change once logged: a resumed run adds only those it lacks.
        known = client.get_run(self.run_id).data.params
        self._log(params={k: v for k, v in _flat_params(config).items() if k not in known})

    def _log(self, *, params: dict | None = None, metrics: dict | None = None, step: int = 0):
        from mlflow.entities import Metric
        from mlflow.entities import Param as MlflowParam

        now = int(time.time() * 1000)
        self.client.log_batch(
            self.run_id,
            metrics=[Metric(_key(k), v, now, step) for k, v in (metrics or {}).items()],
            params=[MlflowParam(_key(k), v) for k, v in (params or {}).items()],
        )

    def on_epoch(self, epoch: int, metrics: dict, lr: float) -> None:
        self.step = epoch
        values = {"lr": lr}
        for split, m in metrics.items():
            values.update(epoch_scalars(split, m, self.classes))
        self._log(metrics={k: v for k, v in values.items() if math.isfinite(v)}, step=epoch)

    def on_finish(self, final: dict, scores: dict, model_path: Path | None) -> None:
        values = {}
        for split, metrics in final.items():
            if isinstance(metrics, dict):
                values.update(epoch_scalars(split, metrics, self.classes))
        self._log(metrics={"final/" + k: v for k, v in values.items() if math.isfinite(v)},
                  step=self.step)  # fmt: skip
        if model_path is not None:
            self.client.log_artifact(self.run_id, str(model_path))
        self.client.set_terminated(self.run_id, "FINISHED")
        self.finished = True

    def close(self, failed: bool = False) -> None:
        if not self.finished:  # left unfinished, so running the command again continues it
            self.client.set_terminated(self.run_id, "FAILED" if failed else "KILLED")


def _key(name: str) -> str:
    # MLflow keys allow letters, digits, _ - . / and space; class names may hold anything.
    return re.sub(r"[^\w\-./ ]", "_", name)


def _flat_params(config: dict) -> dict[str, str]:
    return {k: "none" if v is None else spelled(v)[:6000] for k, v in config.items()}


SINKS.add("tensorboard", TensorBoardSink,
          "TensorBoard event files in <run>/tensorboard: per-epoch scalars, PR curves, confusion matrices")  # fmt: skip
SINKS.add("mlflow", MLflowSink,
          "an MLflow run: the config as params, per-epoch metrics, the model file as an artifact")  # fmt: skip


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def parse_log_to(value) -> tuple[str, ...]:
    """``"tensorboard,mlflow"`` -> the sink names, each registered and installed."""
    names = name_list(value)
    for name in names:
        if name not in SINKS:
            raise ConfigError(
                f"--log-to: unknown sink {name!r}{closest(name, SINKS.names())}; "
                f"choose from {', '.join(SINKS.names())}"
            )
        kind = SINKS.get(name)
        if not installed(kind.module):
            raise ConfigError(
                f"--log-to {name} needs {kind.module}, which is not installed: "
                f"pip install 'imbalance-lab[{kind.extra}]'"
            )
    return tuple(dict.fromkeys(names))


LOG_TO = Param(
    "log_to", (), "also log the run to: tensorboard, mlflow (comma-separated)", "execution",
    parse=parse_log_to, example="tensorboard", execution=True, metavar="SINKS", dump=list,
)  # fmt: skip
MLFLOW_URI = Param(
    "mlflow_uri", None,
    "MLflow tracking URI for --log-to mlflow; default $MLFLOW_TRACKING_URI, else an SQLite "
    "store in <run>/mlruns",
    "execution", parse=optional(text), execution=True, metavar="URI", example="sqlite:///mlflow.db",
)  # fmt: skip


class Sinks:
    """The sinks of one run, called together; a context manager that closes them."""

    def __init__(self, sinks: list):
        self.sinks = sinks

    def on_epoch(self, epoch: int, metrics: dict, lr: float) -> None:
        for sink in self.sinks:
            sink.on_epoch(epoch, metrics, lr)

    def on_finish(self, final: dict, scores: dict, model_path: Path | None) -> None:
        for sink in self.sinks:
            sink.on_finish(final, scores, model_path)

    def close(self, failed: bool = False) -> None:
        for sink in self.sinks:
            sink.close(failed)

    def __enter__(self) -> Sinks:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(failed=exc_type is not None and not issubclass(exc_type, KeyboardInterrupt))


def open_sinks(
    names, out_dir: Path | None, *, classes, config: dict, run_name: str | None = None,
    mlflow_uri: str | None = None,
) -> Sinks:  # fmt: skip
    """The sinks named by ``--log-to``, writing for the run in ``out_dir``."""
    names = parse_log_to(names)
    if names and out_dir is None:
        raise ConfigError("--log-to needs an output folder for the run (--out)")
    sinks = Sinks([])
    try:
        for name in names:
            sinks.sinks.append(SINKS.get(name)(Path(out_dir), classes=classes, config=config,
                                               run_name=run_name, mlflow_uri=mlflow_uri))  # fmt: skip
    except BaseException:
        sinks.close(failed=True)
        raise
    return sinks
