"""Run an experiment: skip finished runs, execute the rest, store each as it finishes.

A run is committed to the store the moment its outcome arrives, so stopping the experiment
(``stop`` event; :func:`stop_on_signals` sets it on SIGINT / SIGTERM) keeps every finished
run; the runs in flight are killed and discarded, and a resume runs exactly those left.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from engine.bench.executors import executor_map
from engine.bench.experiment import Experiment
from engine.bench.store import ResultStore


@dataclass(frozen=True, slots=True)
class ExperimentRun:
    experiment: str
    db: Path
    total: int
    skipped: int
    ok: int
    failed: int  # error or timeout
    interrupted: bool = False  # stopped before every run was done
    discarded: int = 0  # runs in flight when stopped: killed, not stored

    def to_dict(self) -> dict[str, object]:
        return {"experiment": self.experiment, "db": str(self.db), "total": self.total,
                "skipped": self.skipped, "ok": self.ok, "failed": self.failed,
                "interrupted": self.interrupted, "discarded": self.discarded}

    @property
    def finished(self) -> int:
        """Runs finished (and stored) by this call."""
        return self.ok + self.failed


def run_experiment(exp: Experiment, *, jobs: int = 1, cluster: str | None = None,
                   db: str | Path | None = None, retry_failed: bool = False,
                   progress: Callable[[int, int, int], None] | None = None,
                   stop: threading.Event | None = None) -> ExperimentRun:
    """Execute every run of ``exp`` not already in the store; ``progress(done, failed, todo)``.

    Setting ``stop`` (from any thread or a signal handler) ends the call early: no new run
    starts, the running ones are killed and not stored, the result says ``interrupted``.
    """
    path = Path(db) if db else exp.db_path
    specs = [s.to_dict() for s in exp.runs()]
    with ResultStore(path) as store:
        done = store.done_keys(retry_failed=retry_failed)
        todo = [s for s in specs if s["key"] not in done]
        ok = failed = discarded = 0
        if progress:
            progress(0, 0, len(todo))
        for spec, outcome in executor_map(todo, jobs=jobs, cluster=cluster, stop=stop):
            if outcome["state"] == "cancelled":
                discarded += bool(outcome.get("started"))
                continue
            store.record(spec, outcome)
            if outcome["state"] == "ok":
                ok += 1
            else:
                failed += 1
            if progress:
                progress(ok + failed, failed, len(todo))
    interrupted = stop is not None and stop.is_set() and ok + failed < len(todo)
    return ExperimentRun(exp.name, path, len(specs), len(specs) - len(todo), ok, failed,
                         interrupted, discarded)


@dataclass
class StopRequest:
    """Set by the first SIGINT / SIGTERM while :func:`stop_on_signals` is active."""

    event: threading.Event
    signum: int | None = None

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by this signal: 128 + its number."""
        return 128 + int(self.signum or 0)


@contextmanager
def stop_on_signals(signums: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM),
                    ) -> Iterator[StopRequest]:
    """Turn the first of these signals into a stop request; the previous handlers come back
    on exit. A second signal, while stopping takes its course, ends the process at once with
    the default action (the workers still die with it; see :mod:`engine.bench.worker`).

    Signal handlers can only be installed from the main thread; elsewhere the request is
    handed out but never set by a signal.
    """
    request = StopRequest(threading.Event())
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if request.event.is_set():
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        request.signum = signum
        request.event.set()

    previous = {s: signal.signal(s, handle) for s in signums}
    try:
        yield request
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
