"""``sweep``: search class weights (and more) for an objective, with Optuna.

The article found its (0.15, 0.85) weights by hand and said the search "requires a
lot of iterations". A sweep runs those iterations: every trial trains on the
training part, chooses its operating point on the calibration split and reports
the objective there. The test split is scored once, for the best trial, at the end.

Storage is an Optuna RDB storage with heartbeats: a SQLite file in the results
folder by default, or ``--storage postgresql://...`` so workers on several machines
share one study. A worker killed mid-trial stops beating; once its grace period
has passed the trial is marked failed and re-queued with the same parameters, and
the retry resumes from the trial's last per-epoch checkpoint. Exactly ``--trials``
trials complete: a worker only starts a trial while fewer than that are complete
or running ahead of it.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imbalance_lab.config import RunConfig
from imbalance_lab.errors import ConfigError, OutputError, closest
from imbalance_lab.io import atomic_write_json
from imbalance_lab.rundir import BEST, MODEL, SWEEP, TRIALS, RunFolder

# sweep's own defaults, and why they differ from a single run's (shown in --help).
DEFAULTS = {
    "val": (0.2, "a sweep scores every trial on a calibration split carved from the training "
                 "data, never on test"),
    "objective": ("recall>=0.9", "a sweep searches for the setting that meets an objective; "
                                 "this one is the article's aim"),
}  # fmt: skip

SEARCHABLE = ("weight", "lr", "epochs", "gamma", "tau", "strategy")
HEARTBEAT_S = 5  # seconds between a running trial's heartbeats
GRACE_S = 20  # a trial silent for this long belongs to a dead worker
# A trial asked for but never beaten (its worker died between ask and first beat) is dead
# after this long: above SQLite's 60 s lock wait, which can delay a first beat.
UNBEATEN_S = 90
POLL_S = 1.0


@dataclass(frozen=True)
class SweepSpec:
    base: RunConfig  # the config every trial starts from (objective and --val set)
    params: tuple[str, ...]  # what is searched, from SEARCHABLE
    trials: int  # completed trials wanted
    grid: bool  # the article's hand iteration: minority weight on an even grid
    storage: str  # Optuna storage URL
    study_name: str  # derived from base + params, so the same command continues the study
    prune: bool  # stop unpromising trials on the per-epoch calibration objective


def parse_params(text: str | None) -> tuple[str, ...]:
    names = tuple(p.strip() for p in (text or "weight").split(",") if p.strip())
    for name in names:
        if name not in SEARCHABLE:
            raise ConfigError(
                f"cannot search {name!r}{closest(name, SEARCHABLE)}; searchable: {', '.join(SEARCHABLE)}"
            )
    if len(set(names)) != len(names):
        raise ConfigError(f"--params names a parameter twice: {text}")
    return names


def make_spec(base: RunConfig, out: Path, *, params: str | None, trials: int, grid: bool,
              storage: str | None, prune: bool) -> SweepSpec:  # fmt: skip
    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {trials}")
    if base.folds is not None:
        raise ConfigError(
            f"sweep scores every trial on one calibration split; --calibration {base.calibration} "
            "would train K models per trial: sweep with --val 0.2, then train or compare the "
            "best setting with --calibration cv:K"
        )
    if base.objective is None or base.val_fraction is None:
        raise ConfigError(
            "sweep scores every trial by an objective on a calibration split; "
            "pass --objective (e.g. 'recall>=0.9') and --val 0.2 (not test)"
        )
    chosen = parse_params(params)
    if grid and chosen != ("weight",):
        raise ConfigError("--grid searches the minority weight only; drop --params or --grid")
    if grid and len(base.classes) != 2:
        raise ConfigError("--grid needs a binary task (two --classes)")
    key = json.dumps({"base": base.identity(), "params": chosen, "grid": grid}, sort_keys=True)
    name = "sweep-" + hashlib.sha256(key.encode()).hexdigest()[:12]
    url = storage or f"sqlite:///{(out / 'optuna.sqlite3').resolve()}"
    return SweepSpec(base, chosen, trials, grid, url, name, prune)


def trial_config(spec: SweepSpec, trial) -> RunConfig:
    """The RunConfig of one trial, from the parameters Optuna suggests."""
    from imbalance_lab.strategies.registry import STRATEGIES

    cfg, n = spec.base, max(len(spec.base.classes), 2)
    changes: dict = {}
    if "weight" in spec.params:
        if n == 2:
            # The article's convention: (1 - w) for the majority, w for the minority.
            # With --grid, Optuna's GridSampler supplies w from the grid.
            w = round(trial.suggest_float("weight", 0.0, 1.0), 4)
            changes["class_weights"] = (round(1.0 - w, 4), w)
        else:
            changes["class_weights"] = tuple(
                round(trial.suggest_float(f"weight_{c}", 0.01, 1.0, log=True), 4)
                for c in cfg.classes
            )
    if "lr" in spec.params:
        changes["lr"] = trial.suggest_float("lr", 1e-4, 1e-2, log=True)
    if "epochs" in spec.params:
        changes["epochs"] = trial.suggest_int("epochs", max(1, cfg.epochs // 2), cfg.epochs * 2)
    if "gamma" in spec.params:
        changes["gamma"] = trial.suggest_float("gamma", 0.0, 5.0)
        changes.setdefault("loss", "focal")
    if "tau" in spec.params:
        changes["tau"] = trial.suggest_float("tau", 0.0, 2.0)
        changes.setdefault("loss", "logit-adjusted")
    if "strategy" in spec.params:
        name = trial.suggest_categorical("strategy", STRATEGIES.names())
        for key, value in STRATEGIES.get(name).changes.items():
            changes.setdefault(key, value)
    if changes.get("class_weights") is not None and changes.get("loss") == "ldam":
        changes.pop("class_weights")
    if "class_weights" in changes:
        changes["weight_scheme"] = None
    return cfg.replace(**changes)


SCHEMA_RETRIES = 5
# What a driver says when another process is creating the same schema at that moment
# (PostgreSQL also reports concurrent DDL as "tuple concurrently updated" or a deadlock).
SCHEMA_RACE_MESSAGES = (
    "already exists", "UNIQUE constraint failed", "duplicate key value", "concurrently updated",
    "deadlock detected", "could not serialize access",
)  # fmt: skip


def _storage(url: str):
    import warnings

    import optuna
    from optuna.storages import RDBStorage

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # We drive heartbeats ourselves (see Heartbeat), which Optuna warns about.
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # A trial silent for GRACE_S is failed and re-queued with the same parameters (3 tries).
    try:
        from optuna.storages import RetryHeartbeatStaleTrialCallback  # Optuna >= 4.9

        retry = {"heartbeat_stale_trial_callback": RetryHeartbeatStaleTrialCallback(max_retry=3)}
    except ImportError:
        from optuna.storages import RetryFailedTrialCallback

        retry = {"failed_trial_callback": RetryFailedTrialCallback(max_retry=3)}
    engine = (
        {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    )
    for attempt in range(SCHEMA_RETRIES + 1):
        try:
            return RDBStorage(
                url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                engine_kwargs=engine, **retry,
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001  (drivers raise many types; the user needs one line)
            # Workers (or machines) opening a new study at once race to create its tables;
            # the loser sees the winner's tables or version row, and simply opens again.
            racing = any(m in str(exc) for m in SCHEMA_RACE_MESSAGES)
            if racing and attempt < SCHEMA_RETRIES:
                time.sleep(0.2 * (attempt + 1))
                continue
            raise ConfigError(
                f"cannot open Optuna storage {_safe_url(url)}: {str(exc).splitlines()[0][:200]}"
            ) from None


def _load_study(spec: SweepSpec):
    import optuna

    # --grid enqueues its points once (see run_sweep); ask/tell with Optuna's GridSampler
    # would call Study.stop outside optimize().
    # Unseeded on purpose: workers (and reruns) with one seed would all propose the same
    # points. Every trial's parameters are stored, so the study stays reproducible.
    sampler = optuna.samplers.TPESampler()
    pruner = (
        optuna.pruners.MedianPruner(n_warmup_steps=2) if spec.prune else optuna.pruners.NopPruner()
    )
    objective = spec.base.objective
    storage = _storage(spec.storage)
    for attempt in range(10):
        try:
            study = optuna.create_study(
                study_name=spec.study_name, storage=storage, sampler=sampler, pruner=pruner,
                direction="maximize", load_if_exists=True,
            )  # fmt: skip
            return study, objective
        except Exception:  # noqa: BLE001  (two machines creating the study at once: load it)
            if attempt == 9:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


class Heartbeat:
    """Beats for one trial from a background thread, as Study.optimize would.

    The sweep drives Optuna with ask/tell, which records no heartbeat by itself; without
    one a killed worker's trial would stay RUNNING for ever instead of being retried.
    """

    def __init__(self, study, trial):
        import threading

        self.storage, self.trial_id = study._storage, trial._trial_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.wait(HEARTBEAT_S):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception:  # noqa: BLE001  (a locked SQLite file: beat again next time)
                continue

    def __enter__(self):
        self.storage.record_heartbeat(self.trial_id)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def fail_unbeaten(study, grace_s: float = UNBEATEN_S) -> list[int]:
    """Fail the running trials that never recorded a heartbeat and began over grace_s ago.

    Optuna's fail_stale_trials judges a trial by its last heartbeat, and skips a trial that
    has none. A worker killed between ask() and its first beat leaves such a trial
    RUNNING for ever; when it holds the last slot the sweep would wait on it for ever.
    Returns the failed trials' numbers. (Trial start times are each worker's clock: with
    several machines, their clocks must agree to well within grace_s.)
    """
    from datetime import datetime

    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.storages._rdb.models import TrialHeartbeatModel
    from optuna.trial import TrialState

    now = datetime.now()
    old = {
        t._trial_id: t.number
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if t.datetime_start is not None and (now - t.datetime_start).total_seconds() > grace_s
    }
    if not old:
        return []
    storage = study._storage
    rdb = getattr(storage, "_backend", storage)  # the RDBStorage under Optuna's cache
    session = rdb.scoped_session()
    try:
        rows = session.query(TrialHeartbeatModel.trial_id).filter(
            TrialHeartbeatModel.trial_id.in_(list(old))
        )
        beaten = {trial_id for (trial_id,) in rows}
    finally:
        rdb.scoped_session.remove()
    failed = []
    for trial_id in sorted(set(old) - beaten):
        try:
            if storage.set_trial_state_values(trial_id, state=TrialState.FAIL):
                failed.append(old[trial_id])
        except UpdateFinishedTrialError:
            pass  # another worker failed it first
    return failed


def _count(study, state) -> list:
    return study.get_trials(deepcopy=False, states=(state,))


def worker(spec: SweepSpec, out: Path, worker_id: int, threads: int) -> int:
    """One worker's loop; returns how many trials it completed."""
    os.environ["IMBALANCE_LAB_THREADS"] = str(threads)
    import optuna
    from optuna.storages import fail_stale_trials
    from optuna.trial import TrialState

    from imbalance_lab.data.task import build_task
    from imbalance_lab.training.trainer import TrainResult, finished, fit

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study, objective = _load_study(spec)
    task_cache: dict[str, object] = {}
    done = 0
    while True:
        fail_stale_trials(study)  # a dead worker's trial -> FAIL, and re-queued with its params
        fail_unbeaten(study)  # one that died before its first beat -> FAIL (nothing trained)
        complete = len(_count(study, TrialState.COMPLETE))
        running = _count(study, TrialState.RUNNING)
        if complete >= spec.trials:
            return done
        if complete + len(running) >= spec.trials:
            time.sleep(
                POLL_S
            )  # the last trials are running elsewhere (or about to be declared dead)
            continue
        trial = study.ask()
        study._storage.record_heartbeat(trial._trial_id)
        # Count again after asking: a trial may have completed since the count above,
        # and its worker may already hold a lower-numbered new trial.
        complete = len(_count(study, TrialState.COMPLETE))
        ahead = [
            t
            for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if t.number < trial.number
        ]
        if complete + len(ahead) >= spec.trials:
            # Another worker asked first for the last slot: give this one back.
            study.tell(trial, state=TrialState.FAIL)
            time.sleep(POLL_S)
            continue
        cfg = trial_config(spec, trial)
        run_dir = out / "trials" / _run_key(cfg)
        data_key = cfg.task_key()
        if data_key not in task_cache:
            task_cache[data_key] = build_task(cfg)

        def report(epoch, val_metrics, trial=trial):
            trial.report(objective.score(val_metrics), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        try:
            with Heartbeat(study, trial):
                # A retry of a trial whose training had finished reuses it: never train twice.
                done_before = finished(run_dir, cfg)
                result = TrainResult(None, {}, done_before["final"], run_dir) if done_before else fit(cfg, task_cache[data_key], out_dir=run_dir, progress=False, warn=lambda *_: None,
                             on_epoch=report if spec.prune else None, evaluate_test=False)  # fmt: skip
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
            continue
        point = result.final["operating_point"]
        attrs = {
            "run_dir": str(run_dir.relative_to(out)),
            "calibration": _small(point["calibration"]),
            "calibration_default": _small(result.final["val"]),
            "operating_point": {
                k: point[k] for k in ("kind", "value", "met_on_calibration", "message")
            },
            "class_weights": list(cfg.class_weights) if cfg.class_weights else None,
        }
        try:
            for key, value in attrs.items():
                trial.set_user_attr(key, value)
            study.tell(trial, objective.score(point["calibration"]))
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # declared dead meanwhile; its retry reuses the finished run above
        done += 1


def _small(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, float | int)}


def _run_key(cfg: RunConfig) -> str:
    # Same parameters -> same folder: a retried trial resumes the killed one's checkpoints.
    return hashlib.sha256(json.dumps(cfg.identity(), sort_keys=True).encode()).hexdigest()[:16]


def run_sweep(
    spec: SweepSpec, out: str | Path, *, workers: int = 1, progress: bool = True, echo=print
) -> dict:
    out = Path(out)
    _claim(out, spec)
    threads = max(1, (os.cpu_count() or 1) // workers)
    echo(f"study {spec.study_name} in {_safe_url(spec.storage)}: {spec.trials} trials, "
         f"{workers} worker(s) x {threads} thread(s)")  # fmt: skip
    study, _ = _load_study(spec)  # create it once, before the workers race to
    if spec.grid and not study.get_trials(deepcopy=False):
        for w in np.linspace(0.0, 1.0, spec.trials):
            study.enqueue_trial({"weight": round(float(w), 4)})
    if workers == 1:
        _monitor_and_run(spec, out, [], progress, echo, inline=True, threads=threads)
    else:
        context = multiprocessing.get_context("spawn")
        procs = [
            context.Process(target=worker, args=(spec, out, i, threads), daemon=False)
            for i in range(workers)
        ]
        for p in procs:
            p.start()
        try:
            _monitor_and_run(spec, out, procs, progress, echo, inline=False, threads=threads)
        finally:
            for p in procs:
                if p.is_alive():
                    p.terminate()
        bad = [p.exitcode for p in procs if p.exitcode not in (0, None)]
        if bad:
            raise OutputError(
                f"{len(bad)} sweep worker(s) failed (exit codes {bad}); rerun the same command to continue"
            )
    study, _ = _load_study(spec)  # again: the workers' trials are in the storage
    write_trials(out, study)
    score_best_trial(out, study)
    from imbalance_lab.reports.sweep import write_sweep_report

    return write_sweep_report(out)


def write_trials(out: Path, study) -> None:
    """trials.json: every trial as the report shows it, so that a report never opens the study."""
    trials = [
        {
            "number": t.number,
            "state": t.state.name,
            "params": t.params,
            "value": t.value,
            "user_attrs": t.user_attrs,
        }
        for t in study.get_trials(deepcopy=False)
    ]
    atomic_write_json(out / TRIALS, {"trials": trials})


def score_best_trial(out: Path, study) -> None:
    """best.json: the best complete trial, scored on the test split once, after the search."""
    from optuna.trial import TrialState

    complete = _count(study, TrialState.COMPLETE)
    if not complete:
        return
    trial = max(complete, key=lambda t: t.value)
    try:
        cached = json.loads((out / BEST).read_text())
    except (OSError, ValueError):
        cached = {}
    if cached.get("trial") == trial.number and "test_at_point" in cached:
        return
    name = trial.user_attrs["run_dir"]
    best = {"trial": trial.number, "params": trial.params, "value": trial.value, "run": name}
    run = RunFolder(out / name)
    result = run.result()
    if result is None:
        # Another machine sharing the study (PostgreSQL) ran it: its model is there.
        best["operating_point"] = trial.user_attrs.get("operating_point", {})
    else:
        best["config"] = result["config"]
        best["operating_point"] = result["final"]["operating_point"]
        best.update(_test_metrics(run, result))
    atomic_write_json(out / BEST, best)


def _test_metrics(run: RunFolder, result: dict) -> dict:
    """The run's model on the test split, at its operating point and at argmax."""
    from imbalance_lab.data.task import build_task
    from imbalance_lab.evaluation.thresholds import OperatingPoint
    from imbalance_lab.models.saved import load_saved_model
    from imbalance_lab.training.device import resolve_device
    from imbalance_lab.training.trainer import predict_scores, test_metrics_at

    cfg = RunConfig.from_dict(result["config"])
    task = build_task(cfg)
    model, _ = load_saved_model(run / MODEL)
    scores = predict_scores(model, task.test, resolve_device("cpu"), False, cfg.tta).numpy()
    op = result["final"]["operating_point"]
    point = OperatingPoint(
        op["kind"], op["value"], op["met_on_calibration"], op["calibration"], op["message"]
    )
    prior = np.asarray(op["prior"])
    return {
        "test_at_point": test_metrics_at(task.test, scores, point, prior),
        "test_at_default": test_metrics_at(task.test, scores, None, prior),
    }


def _monitor_and_run(spec, out, procs, progress, echo, inline, threads):
    from optuna.trial import TrialState
    from tqdm.auto import tqdm

    if inline:
        with tqdm(total=spec.trials, desc="trials", unit="trial", disable=not progress) as bar:
            study, _ = _load_study(spec)
            bar.update(len(_count(study, TrialState.COMPLETE)))
            worker(spec, out, 0, threads)
            bar.update(spec.trials - bar.n)
        return
    study, _ = _load_study(spec)
    with tqdm(total=spec.trials, desc="trials", unit="trial", disable=not progress) as bar:
        while any(p.is_alive() for p in procs):
            n = len(_count(study, TrialState.COMPLETE))
            bar.update(n - bar.n)
            time.sleep(1.0)
        bar.update(len(_count(study, TrialState.COMPLETE)) - bar.n)


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def _claim(out: Path, spec: SweepSpec) -> None:
    from imbalance_lab.experiments.runner import claim_study

    record = {"study": "sweep", "study_name": spec.study_name, "base": spec.base.identity(),
              "params": list(spec.params), "trials": spec.trials, "grid": spec.grid,
              "storage": _safe_url(spec.storage)}  # fmt: skip
    claim_study(out, record, same=("study_name",), force=False)
    atomic_write_json(out / SWEEP, record)
