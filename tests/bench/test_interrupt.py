"""Interrupting `nearstock bench run` with real signals: finished runs stay stored, no worker
process survives, and running the command again runs only what is missing.

Every process a test starts carries the test's temporary directory in its environment
(``NEARSTOCK_TEST_TAG``), so leftovers are found in /proc without touching anyone else's.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.bench import load_experiment, run_isolated
from engine.bench.executors import WorkerGroups
from tests.helpers import REPO

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads /proc; Linux only")

# Two runs started together with --jobs 2: the rule finishes in a few seconds, the MIP (which
# starts a solver process of its own) runs for its 2 s limit after two process start-ups,
# so when the first row is stored the second run is still in flight.
EXP = """
name = "interrupt"
kind = "stocking_random"
run_timeout = 60

[instances]
paths = ["random:S=12,W=3,Z=5,K=4,seed=1"]

[[configs]]
name = "newsvendor"
backend = "newsvendor"

[[configs]]
name = "highs"
backend = "highs"
time_limit = 2
"""
TAG = "NEARSTOCK_TEST_TAG"
WAIT_S = 60.0  # generous: the machine may be shared and slow


def _tagged(tag: str) -> list[str]:
    """Command lines of live processes whose command line or environment holds ``tag``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # gone meanwhile, or not ours
            continue
        if state != "Z" and (tag.encode() in cmdline or tag.encode() in environ):
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace").strip())
    return found


def _workers(tag: str) -> list[str]:
    return [c for c in _tagged(tag) if "engine.bench.worker" in c]


def _assert_nothing_left(tag: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while (left := _tagged(tag)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes left behind: {left}"


def _rows(db: Path) -> dict[str, tuple[str, str]]:
    """key -> (state, finished) of every stored run; empty before the table exists."""
    if not db.exists():
        return {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return {k: (s, f) for k, s, f in conn.execute("SELECT key, state, finished FROM runs")}
    except sqlite3.OperationalError:  # not created yet
        return {}
    finally:
        conn.close()


def _env(tmp_path: Path) -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, TAG: str(tmp_path),
            "PYTHONPATH": str(REPO) + (os.pathsep + path if path else "")}


def _cli(exp: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", "from engine.cli import main; main()", "bench", "run", str(exp),
            *args]


def _start_and_wait_for_progress(tmp_path: Path, exp: Path, *args: str) -> subprocess.Popen[str]:
    """The CLI in its own session, once at least one run is stored and a worker is running."""
    proc = subprocess.Popen(_cli(exp, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env(tmp_path), start_new_session=True)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and proc.poll() is None:
        if _rows(exp.with_suffix(".sqlite")) and _workers(str(tmp_path)):
            return proc
        time.sleep(0.1)
    proc.kill()
    out, err = proc.communicate()
    pytest.fail(f"no stored run with a worker still running within {WAIT_S:g} s:\n{out}\n{err}")


def _stop(proc: subprocess.Popen[str], signum: int) -> tuple[int, str, str]:
    # SIGINT as a terminal's Ctrl-C delivers it: to the whole foreground process group
    # (dask's worker processes are in it); SIGTERM as `kill PID` does: to the process only
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    try:
        out, err = proc.communicate(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"bench run did not stop within {WAIT_S:g} s of signal {signum}:\n{out}\n{err}")
    return proc.returncode, out, err


def _interrupt_and_resume(tmp_path: Path, signum: int, code: int, *args: str) -> None:
    exp = tmp_path / "exp.toml"
    exp.write_text(EXP)
    db = exp.with_suffix(".sqlite")
    keys = {s.key for s in load_experiment(exp).runs()}
    tag = str(tmp_path)

    proc = _start_and_wait_for_progress(tmp_path, exp, *args)
    rc, out, err = _stop(proc, signum)
    assert rc == code, (out, err)
    said = re.search(r"interrupted: (\d+) finished runs kept, (\d+) in flight discarded; "
                     r"re-run to resume", err)
    assert said, (out, err)
    _assert_nothing_left(tag)
    kept = _rows(db)
    assert len(kept) == int(said[1]) >= 1 and int(said[2]) == len(keys) - len(kept) >= 1
    assert set(kept) < keys and {s for s, _ in kept.values()} == {"ok"}

    again = subprocess.run(_cli(exp, "--jobs", "2"), capture_output=True, text=True,
                           env=_env(tmp_path), timeout=WAIT_S)
    assert again.returncode == 0, again.stderr
    missing = len(keys) - len(kept)
    assert f"{len(keys)} runs: {len(kept)} already stored, {missing} ok, 0 failed" in again.stdout
    after = _rows(db)
    assert set(after) == keys
    assert {k: after[k] for k in kept} == kept  # the kept rows were not run again
    _assert_nothing_left(tag)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_signal_keeps_finished_runs_and_kills_every_worker(tmp_path: Path, signum: int,
                                                          code: int) -> None:
    _interrupt_and_resume(tmp_path, signum, code, "--jobs", "2")


@pytest.mark.slow
def test_signal_stops_a_dask_local_cluster(tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed")
    _interrupt_and_resume(tmp_path, signal.SIGINT, 130, "--cluster", "local:2")


def test_sigkill_of_the_runner_leaves_no_worker(tmp_path: Path) -> None:
    """No chance to clean up: the kernel's parent-death signal ends the workers and the
    solver processes they started."""
    exp = tmp_path / "exp.toml"
    exp.write_text(EXP)
    proc = _start_and_wait_for_progress(tmp_path, exp, "--jobs", "2")
    kept = _rows(exp.with_suffix(".sqlite"))
    proc.kill()
    proc.communicate(timeout=WAIT_S)
    assert proc.returncode == -signal.SIGKILL
    _assert_nothing_left(str(tmp_path))
    after = _rows(exp.with_suffix(".sqlite"))
    assert set(kept) <= set(after) and {s for s, _ in after.values()} == {"ok"}


def test_worker_whose_parent_is_gone_does_not_run(tmp_path: Path) -> None:
    env = {**_env(tmp_path), "NEARSTOCK_BENCH_PARENT": "1"}  # not our pid: as if re-parented
    proc = subprocess.run([sys.executable, "-m", "engine.bench.worker"], input="not even JSON",
                          capture_output=True, text=True, env=env, timeout=WAIT_S,
                          start_new_session=True)
    assert proc.returncode == 1 and proc.stdout == "" and proc.stderr == ""


def test_stopped_run_is_cancelled_and_its_group_killed(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TAG, str(tmp_path))
    exp = tmp_path / "exp.toml"
    exp.write_text(EXP)
    spec = load_experiment(exp).runs()[1].to_dict()  # the MIP: starts a solver process too
    groups = WorkerGroups()
    outcome: dict[str, object] = {}
    thread = threading.Thread(target=lambda: outcome.update(run_isolated(spec, groups=groups)))
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not _solving(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert groups.stop() == 1
    thread.join(WAIT_S)
    assert outcome["state"] == "cancelled" and outcome["started"] is True
    _assert_nothing_left(str(tmp_path))
    # once stopped, nothing starts
    assert run_isolated(spec, groups=groups)["started"] is False
    # the poll used on Dask: a stop request seen while the run goes on
    late = run_isolated(spec, stop=lambda: _solving(str(tmp_path)), poll=0.1)
    assert late["state"] == "cancelled" and late["started"] is True and late["elapsed"] < WAIT_S
    _assert_nothing_left(str(tmp_path))


def _solving(tag: str) -> bool:
    """A run's own solver process (started by the worker, in the worker's group) is up."""
    return any("engine.stocking.worker" in c for c in _tagged(tag))


def test_stop_on_signals_turns_a_signal_into_a_request() -> None:
    from engine.bench.runner import stop_on_signals

    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals() as stop:
        assert not stop.event.is_set()
        os.kill(os.getpid(), signal.SIGTERM)  # handled in this (main) thread, before the next line
        assert stop.event.wait(5) and stop.signum == signal.SIGTERM and stop.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) is before
