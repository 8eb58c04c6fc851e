"""Replications in worker processes give what one process gives."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.errors import ConfigError
from engine.instance import load_instance
from engine.simulate.logcheck import check_execution
from engine.simulate.replicate import execute_day
from engine.solver import Settings
from tests.helpers import tiny_copy
from tests.simulate.test_replicate import _allocated


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    inst = load_instance(tiny_copy(tmp_path_factory.mktemp("workers")))
    return inst, _allocated(inst)


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(a.outcomes, b.outcomes)
    assert a.events.to_csv(index=False) == b.events.to_csv(index=False)
    pd.testing.assert_frame_equal(a.stops, b.stops)
    pd.testing.assert_frame_equal(a.epochs.drop(columns="seconds"), b.epochs.drop(columns="seconds"))
    for x, y in zip(a.days, b.days, strict=True):
        assert x.events.to_csv(index=False) == y.events.to_csv(index=False)
        pd.testing.assert_frame_equal(x.orders, y.orders)
        assert y.problem is not None and y.problem.order_ids == x.problem.order_ids
        assert check_execution(y) == []


def test_two_workers_give_the_results_of_one(tiny) -> None:
    inst, alloc = tiny
    # rolling with an iteration budget: the solves do not depend on the time each process gets
    s = Settings(backend="pyvrp", time_limit=30.0, seed=0, options={"max_iterations": 15})
    one = execute_day(inst, alloc, policy="rolling", settings=s, replications=2, seed=11)
    two = execute_day(inst, alloc, policy="rolling", settings=s, replications=2, seed=11, workers=2)
    assert len(two.days) == 2
    _same(one, two)
    assert two.to_dict()["final_states"] == one.to_dict()["final_states"]


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_workers_must_be_a_positive_whole_number(tiny, bad) -> None:
    inst, alloc = tiny
    with pytest.raises(ConfigError, match="workers must be a whole number"):
        execute_day(inst, alloc, policy="greedy", replications=1, workers=bad)


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_workers_die_with_a_killed_parent(tmp_path) -> None:
    """kill -9 of the process running the replications leaves no worker behind."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = tmp_path / "long.py"
    script.write_text(
        "import sys\n"
        "from engine.instance import load_instance\n"
        "from engine.simulate.replicate import execute_day\n"
        "from tests.simulate.test_replicate import _allocated\n"
        "if __name__ == '__main__':\n"
        "    inst = load_instance(sys.argv[1])\n"
        "    execute_day(inst, _allocated(inst), policy='greedy', replications=400, seed=1, workers=2)\n")
    inst = tiny_copy(tmp_path / "inst")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, str(script), str(inst)], env=env, cwd=root)

    def parents() -> dict[int, int]:
        out = {}
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    stat = (d / "stat").read_text()
                except OSError:
                    continue
                out[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        return out

    def descendants() -> set[int]:
        ppid = parents()
        found, frontier = set(), {proc.pid}
        while frontier:
            frontier = {p for p, pp in ppid.items() if pp in frontier} - found
            found |= frontier
        return found

    def workers(tree: set[int]) -> set[int]:
        """The pool's workers: children of the fork server (or spawned children), not the
        fork server or the resource tracker themselves."""
        ppid = parents()
        return {p for p in tree if ppid.get(p) != proc.pid}

    deadline = time.monotonic() + 60
    tree: set[int] = set()
    while time.monotonic() < deadline and len(workers(tree)) < 2:
        time.sleep(0.5)
        tree = descendants()
    assert len(workers(tree)) >= 2, "the workers never started"
    time.sleep(2.0)  # let them receive the day and start working
    tree = descendants()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    end = time.monotonic() + 10
    while time.monotonic() < end and any(Path(f"/proc/{k}").exists() for k in tree):
        time.sleep(0.2)
    alive = [k for k in tree if Path(f"/proc/{k}").exists()
             and "python" in Path(f"/proc/{k}/cmdline").read_bytes().decode(errors="replace")]
    for k in alive:  # do not leave them behind even when the test fails
        os.kill(k, signal.SIGKILL)
    assert not alive


def test_workers_read_the_travel_matrices_from_shared_memory(tiny, monkeypatch) -> None:
    """The tiny day's matrices are below the sharing threshold; lowered to 0, they go through
    shared memory: same results, and no segment is left once the replications are done."""
    import os

    from engine.simulate import replicate

    monkeypatch.setattr(replicate, "SHARE_MIN_BYTES", 0)
    before = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    inst, alloc = tiny
    s = Settings(backend="pyvrp", time_limit=30.0, seed=0, options={"max_iterations": 15})
    one = execute_day(inst, alloc, policy="rolling", settings=s, replications=2, seed=5)
    two = execute_day(inst, alloc, policy="rolling", settings=s, replications=2, seed=5, workers=2)
    _same(one, two)
    after = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    assert {f for f in after - before if not f.startswith("sem.")} == set()
