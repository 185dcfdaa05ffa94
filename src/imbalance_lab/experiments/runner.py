"""Run a list of configs into a results folder, skipping the ones already finished.

With ``workers > 1`` the runs go to that many processes, each pinned to
``cores // workers`` threads: two trainings that each use every core of a 2-core
machine ran 10x slower here than one after the other.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from queue import Empty

from tqdm.auto import tqdm

from imbalance_lab.config import RunConfig
from imbalance_lab.data.task import build_task
from imbalance_lab.errors import OutputError
from imbalance_lab.experiments.crossfit import combine, is_cross_fitted, member_runs
from imbalance_lab.io import atomic_write_json
from imbalance_lab.rundir import RunFolder
from imbalance_lab.training.trainer import finished, fit


@dataclass(frozen=True)
class PlannedRun:
    name: str  # folder name below the study's results folder, e.g. "corrected/cnn-4to1/seed-0"
    config: RunConfig


def claim_study(
    out: Path, study: dict, *, same: tuple[str, ...], merge: tuple[str, ...] = (), force: bool
) -> dict:
    """Write ``out/study.json``, refusing a folder whose study differs on ``same``.

    A rerun with more seeds, modes or strategies extends the study: the ``merge`` lists
    are united with the ones on disk. Returns the study as written.
    """
    path = out / "study.json"
    if path.exists() and not force:
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            old = {}
        differs = [k for k in ("study", *same) if old.get(k) != study.get(k)]
        if differs:
            key = differs[0]
            raise OutputError(
                f"{out} holds another study ({key} was {old.get(key)!r}, now {study.get(key)!r}); "
                "choose another --out, or pass --force to replace it"
            )
        study = {**study, **{k: list(dict.fromkeys(old.get(k, []) + study[k])) for k in merge}}
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"output folder {out} is not writable: {exc.strerror or exc}") from None
    atomic_write_json(path, study)
    return study


def run_all(
    runs: list[PlannedRun],
    out: Path,
    *,
    workers: int = 1,
    progress: bool = True,
    echo=print,
    force: bool = False,
) -> None:
    """Train every planned run that has not finished; a killed run resumes from its checkpoint.

    A ``--calibration cv:K`` run becomes its K fold trainings (and the refit), all run by
    the same workers; once they have finished, its point is chosen on their out-of-fold
    scores and its own folder written (experiments/crossfit.py).
    """
    pending, crossed = [], []
    for run in runs:
        if finished(out / run.name, run.config) is not None:
            echo(f"{run.name or out}: finished earlier, skipped")
        elif is_cross_fitted(run.config):
            RunFolder(out / run.name).claim(run.config.to_dict(), run.config.identity_of, force)
            crossed.append(run)
            for name, cfg in member_runs(run.name, run.config):
                if finished(out / name, cfg) is None:
                    pending.append(PlannedRun(name, cfg))
        else:
            pending.append(run)
    _train_all(pending, out, workers=workers, progress=progress, echo=echo, force=force)
    for run in crossed:
        combine(out / run.name, run.config)
        echo(f"{run.name or out}: operating point chosen on the out-of-fold scores of "
             f"{run.config.folds} fold models")  # fmt: skip


def _train_all(
    pending: list[PlannedRun], out: Path, *, workers: int, progress: bool, echo, force: bool
) -> None:
    if workers <= 1 or len(pending) <= 1:
        tasks: dict[str, object] = {}
        for i, run in enumerate(pending, 1):
            key = run.config.task_key()
            if key not in tasks:
                tasks[key] = build_task(run.config)
            echo(f"[{i}/{len(pending)}] {run.name}")
            fit(
                run.config,
                tasks[key],
                out_dir=out / run.name,
                progress=progress,
                desc=run.name,
                warn=echo,
                force=force,
            )
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    echo(f"{len(pending)} runs on {workers} worker processes, {threads} thread(s) each")
    context = multiprocessing.get_context("spawn")
    epochs_done = context.Queue()  # (run name, epochs finished), from each worker's every epoch
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(threads, epochs_done)
    ) as pool:
        futures = {pool.submit(_train_one, run, out, force): run for run in pending}
        bars = _Bars(pending, progress)
        remaining = set(futures)
        try:
            while remaining:
                done, remaining = wait(remaining, timeout=1.0, return_when=FIRST_COMPLETED)
                bars.read(epochs_done)
                for future in done:
                    future.result()  # re-raises a worker's error here
                    bars.finished(futures[future])
                    (bars.write if progress else echo)(f"finished {futures[future].name}")
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            bars.close()


class _Bars:
    """Two bars over runs in worker processes: runs finished, and epochs finished in all of them.

    A run that resumes from its checkpoint at epoch k reports k + 1 first: its bar jumps.
    """

    def __init__(self, runs: list[PlannedRun], progress: bool):
        common = dict(disable=not progress, dynamic_ncols=True)
        self.runs = tqdm(total=len(runs), desc="runs", unit="run", position=0, **common)
        # An epoch takes seconds to hours: show every one.
        self.epochs = tqdm(total=sum(r.config.epochs for r in runs), desc="epochs", unit="epoch",
                           position=1, mininterval=0, miniters=1, **common)  # fmt: skip
        self.at = {r.name: 0 for r in runs}
        self.write = self.runs.write

    def read(self, queue) -> None:
        while True:
            try:
                name, epochs = queue.get_nowait()
            except Empty:
                return
            self._advance(name, epochs)

    def finished(self, run: PlannedRun) -> None:
        self._advance(run.name, run.config.epochs)  # also a run with no epochs (the mock)
        self.runs.update()

    def _advance(self, name: str, epochs: int) -> None:
        if epochs > self.at[name]:
            self.epochs.update(epochs - self.at[name])
            self.at[name] = epochs

    def close(self) -> None:
        self.epochs.close()
        self.runs.close()


_EPOCHS_DONE = None  # the parent's queue, in a worker process


def _init_worker(threads: int, epochs_done) -> None:
    global _EPOCHS_DONE
    os.environ["IMBALANCE_LAB_THREADS"] = str(threads)
    _EPOCHS_DONE = epochs_done


def _train_one(run: PlannedRun, out: Path, force: bool) -> str:
    fit(
        run.config,
        build_task(run.config),
        out_dir=out / run.name,
        progress=False,
        warn=lambda *_: None,
        force=force,
        on_epoch=lambda epoch, _metrics: _EPOCHS_DONE.put((run.name, epoch + 1)),
    )
    return run.name
