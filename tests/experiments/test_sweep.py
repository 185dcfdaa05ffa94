"""Sweeps with real Optuna storages: SQLite in the results folder, and a real PostgreSQL server."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import make_image_folder

optuna = pytest.importorskip("optuna")

# Every test here runs sweeps in several processes (tens of seconds to minutes).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sweep_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweepdata")
    return make_image_folder(
        root, {"train": {"cat": 240, "dog": 60}, "test": {"cat": 30, "dog": 30}}
    )


def _cmd(data, out, trials, workers, storage=None):
    cmd = [sys.executable, "-m", "imbalance_lab", "sweep", "--data", str(data), "--classes", "cat,dog",
           "--ratio", "4", "--objective", "recall>=0.8", "--trials", str(trials), "--epochs", "3",
           "--workers", str(workers), "--out", str(out), "--quiet"]  # fmt: skip
    return cmd + (["--storage", storage] if storage else [])


def _study(out: Path, storage: str | None):
    import json

    name = json.loads((out / "sweep.json").read_text())["study_name"]
    url = storage or f"sqlite:///{(out / 'optuna.sqlite3').resolve()}"
    return optuna.load_study(study_name=name, storage=url)


def _states(study):
    from optuna.trial import TrialState

    return {s: [t for t in study.get_trials(deepcopy=False) if t.state == s] for s in TrialState}


def _kill_mid_trial_then_rerun(data, out, storage, trials):
    from optuna.trial import TrialState

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    killed_running = []
    # A trial seen running may finish between the look and the kill (a trial takes about a
    # second here); then the sweep is rerun, resuming, and caught again.
    for _attempt in range(3):
        proc = subprocess.Popen(_cmd(data, out, trials, 2, storage), env=env,
                                start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)  # fmt: skip
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.5)
            if not (out / "sweep.json").exists():
                continue
            try:
                states = _states(_study(out, storage))
            except Exception:  # noqa: BLE001  (the study may not exist yet)
                continue
            if len(states[TrialState.COMPLETE]) >= 1 and states[TrialState.RUNNING]:
                os.killpg(proc.pid, signal.SIGKILL)  # the command and both workers, mid-trial
                proc.wait()
                # Read after the kill: what was running when it died.
                killed_running = [
                    t.number for t in _states(_study(out, storage))[TrialState.RUNNING]
                ]
                break
        proc.wait()
        if killed_running:
            break
    assert killed_running, f"never caught a running trial: {proc.stderr.read().decode()[-2000:]}"
    rerun = subprocess.run(
        _cmd(data, out, trials, 2, storage), env=env, capture_output=True, timeout=600
    )
    assert rerun.returncode == 0, rerun.stderr.decode()[-3000:]
    states = _states(_study(out, storage))
    complete = states[TrialState.COMPLETE]
    assert len(complete) == trials
    assert len({t.number for t in complete}) == trials
    # Each killed trial was failed and its parameters retried.
    failed = {t.number for t in states[TrialState.FAIL]}
    assert set(killed_running) <= failed
    assert not states[TrialState.RUNNING]
    assert (out / "plots" / "tradeoff.png").exists() and (out / "best.json").exists()
    return complete


def test_sqlite_sweep_survives_sigkill_and_ends_with_exactly_n_trials(sweep_data, tmp_path):
    _kill_mid_trial_then_rerun(sweep_data, tmp_path / "sweep", None, trials=5)


def test_grid_sweep_reproduces_the_articles_hand_iteration(sweep_data, tmp_path):
    out = tmp_path / "grid"
    cmd = _cmd(sweep_data, out, 3, 1) + ["--grid"]
    assert subprocess.run(cmd, capture_output=True, timeout=300).returncode == 0
    weights = sorted(
        t.params["weight"] for t in _study(out, None).get_trials() if t.value is not None
    )
    assert weights == [0.0, 0.5, 1.0]
    # What the report reads instead of the study: every trial, and the best one scored on test.
    trials = json.loads((out / "trials.json").read_text())["trials"]
    complete = [t for t in trials if t["state"] == "COMPLETE"]
    assert sorted(t["params"]["weight"] for t in complete) == weights
    top = max(complete, key=lambda t: t["value"])
    best = json.loads((out / "best.json").read_text())
    assert (best["trial"], best["run"]) == (top["number"], top["user_attrs"]["run_dir"])
    for block in ("test_at_point", "test_at_default"):
        cm = np.asarray(best[block]["confusion_matrix"])
        assert cm.sum() == 60  # the whole test split, 30 cats and 30 dogs
        assert best[block]["accuracy"] == pytest.approx(np.trace(cm) / 60)


# --- a real PostgreSQL server on loopback ---------------------------------------------------


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    pg = _pg_bin()
    if pg is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    pytest.importorskip("psycopg")
    import tempfile

    # Outside pytest's 0700 temp tree, so that the postgres user can reach it.
    root = Path(tempfile.mkdtemp(prefix="imbalance-lab-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    as_user = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
    if as_user:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    port = _free_port()
    subprocess.run([*as_user, str(pg / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True)  # fmt: skip
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c max_connections=200"
    subprocess.run([*as_user, str(pg / "pg_ctl"), "-D", str(data), "-o", opts, "-w", "-l", str(root / "log"), "start"],
                   check=True, capture_output=True)  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*as_user, str(pg / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def _database(server: str, name: str) -> str:
    """A fresh database per test, so that two tests never share one study."""
    port = server.rsplit(":", 1)[1]
    subprocess.run([str(_pg_bin() / "createdb"), "-h", "127.0.0.1", "-p", port, "-U", "postgres", name],
                   check=True, capture_output=True)  # fmt: skip
    return f"{server}/{name}"


def test_two_workers_share_one_postgres_study_and_survive_a_kill(sweep_data, tmp_path, postgres):
    storage = _database(postgres, "kill")
    complete = _kill_mid_trial_then_rerun(sweep_data, tmp_path / "pg-sweep", storage, trials=5)
    assert len({tuple(sorted(t.params.items())) for t in complete}) == len(complete)


def test_two_commands_on_one_postgres_study_complete_every_trial_once(
    sweep_data, tmp_path, postgres
):
    # Two separate commands (as on two machines) share one study through the server.
    out = tmp_path / "pg-two"
    storage = _database(postgres, "two")
    cmd = _cmd(sweep_data, out, 4, 1, storage)
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)
    second = subprocess.run(cmd, capture_output=True, timeout=300)
    first.wait(timeout=600)
    assert first.returncode == 0, first.stderr.read().decode()[-2000:]
    assert second.returncode == 0, second.stderr.decode()[-2000:]
    from optuna.trial import TrialState

    complete = _states(_study(out, storage))[TrialState.COMPLETE]
    assert len(complete) == 4 and len({t.number for t in complete}) == 4


def _open_storage_at(url: str, start: float, queue) -> None:
    from imbalance_lab.errors import ConfigError
    from imbalance_lab.experiments.sweep import _storage

    time.sleep(max(0.0, start - time.time()))
    try:
        _storage(url)
        queue.put("ok")
    except ConfigError as exc:
        queue.put(str(exc))


def test_processes_creating_one_new_storage_at_once_all_succeed(tmp_path):
    # Two workers, or two machines on a fresh PostgreSQL study, can create the schema at once.
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    url = f"sqlite:///{tmp_path / 'optuna.sqlite3'}"
    start = time.time() + 4  # after every process has imported Optuna
    procs = [ctx.Process(target=_open_storage_at, args=(url, start, queue)) for _ in range(4)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join()
    assert results == ["ok"] * 4, results


def test_a_trial_whose_worker_died_before_its_first_heartbeat_is_failed(tmp_path):
    # Killed between ask() and its first beat, a worker leaves a RUNNING trial with no
    # heartbeat, which Optuna's fail_stale_trials never fails: the sweep waited on it for ever.
    from optuna.storages import fail_stale_trials
    from optuna.trial import TrialState

    from imbalance_lab.experiments.sweep import _storage, fail_unbeaten

    url = f"sqlite:///{tmp_path / 'optuna.sqlite3'}"
    study = optuna.create_study(study_name="s", storage=_storage(url), direction="maximize")
    ghost, beating = study.ask(), study.ask()
    study._storage.record_heartbeat(beating._trial_id)

    fail_stale_trials(study)  # Optuna's own check: the ghost has no heartbeat to be stale by
    assert study._storage.get_trial(ghost._trial_id).state == TrialState.RUNNING
    assert fail_unbeaten(study, grace_s=60) == []  # too young to be declared dead
    assert fail_unbeaten(study, grace_s=0) == [ghost.number]
    reread = optuna.load_study(study_name="s", storage=url)
    states = {t.number: t.state for t in reread.get_trials()}
    assert states == {ghost.number: TrialState.FAIL, beating.number: TrialState.RUNNING}
