"""Executors: run isolated specs on local processes or on a Dask distributed cluster.

Either way each run is its own ``python -m engine.bench.worker`` process with a wall-clock
limit, so a crashing or hanging solver costs only its run (recorded as ``error`` or
``timeout``). On Dask the worker processes start those subprocesses; results are identical
to the local executor's for the same specs, whichever machine runs them.

Nothing is left behind: every worker leads its own process group, which is killed on
timeout, when the executor is stopped (``stop`` event, e.g. set on SIGINT / SIGTERM), when
the worker exits, and on Linux by the kernel when the process that started it dies, even
by SIGKILL (see :mod:`engine.bench.worker`). A stopped run is yielded as ``cancelled``:
not a result, never stored, so a resume runs it again.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from typing import Any

from engine.errors import ConfigError

PARENT_ENV = "NEARSTOCK_BENCH_PARENT"  # a worker dies with this pid (see engine.bench.worker)
POLL_S = 0.2  # how often a waiting loop looks at its stop request
DASK_STOP_POLL_S = 1.0  # how often a run on Dask asks the scheduler whether to stop
DRAIN_S = 10.0  # after a stop, how long Dask runs get to report that they were stopped


def kill_group(pgid: int) -> None:
    """SIGKILL every process of a worker's group; a group already gone is fine."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class WorkerGroups:
    """The worker processes one executor has running, each the leader of its own group.

    Starting and stopping share a lock: after :meth:`stop` no new worker starts, and every
    running one has had its whole group (the solver processes it started too) killed.
    A worker's group is killed again when it exits, so nothing it started outlives it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[int, subprocess.Popen[str]] = {}
        self._stopped = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    def start(self, env: dict[str, str]) -> subprocess.Popen[str] | None:
        """A new worker in its own session, or None once stopped."""
        with self._lock:
            if self._stopped:
                return None
            proc = subprocess.Popen([sys.executable, "-m", "engine.bench.worker"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env=env,
                                    start_new_session=True)
            self._running[proc.pid] = proc
            return proc

    def release(self, proc: subprocess.Popen[str]) -> None:
        """Forget a worker that has been waited for, killing whatever it left in its group.

        Its pid cannot have been handed to a new process while any member of the group
        lives, so the group id still names only what the worker started.
        """
        with self._lock:
            self._running.pop(proc.pid, None)
            kill_group(proc.pid)

    def stop(self) -> int:
        """Start no more workers and kill the running ones; returns how many were running."""
        with self._lock:
            self._stopped = True
            for pid in self._running:
                kill_group(pid)
            return len(self._running)


def _outcome(state: str, start: float, **extra: Any) -> dict[str, Any]:
    return {"state": state, **extra, "elapsed": time.perf_counter() - start,
            "host": socket.gethostname()}


def run_isolated(spec: dict[str, Any], timeout: float | None = None, *,
                 groups: WorkerGroups | None = None, stop: Callable[[], bool] | None = None,
                 poll: float = POLL_S) -> dict[str, Any]:
    """Run one spec in a fresh Python process; never raises for the run's own failures.

    The outcome's state is ``ok``, ``error`` or ``timeout``, or ``cancelled`` when the run was
    stopped before it finished: by ``groups.stop()`` or, checked every ``poll`` seconds, by
    ``stop()`` returning True. A cancelled outcome says whether a worker had ``started``; it
    is not a result and is never stored.
    """
    limit = float(timeout if timeout is not None else spec.get("timeout", 600.0))
    start = time.perf_counter()
    groups = groups if groups is not None else WorkerGroups()
    if stop is not None and stop():
        return _outcome("cancelled", start, started=False)
    env = {**os.environ, "PYTHONHASHSEED": "0",
           "OMP_NUM_THREADS": str(spec["settings"].get("threads", 1)), PARENT_ENV: str(os.getpid())}
    proc = groups.start(env)
    if proc is None:
        return _outcome("cancelled", start, started=False)
    try:
        out, err, ended = _wait(proc, json.dumps(spec), start + limit, stop, poll)
    finally:
        groups.release(proc)  # also when this thread is interrupted
    if ended == "cancelled" or (groups.stopped and proc.returncode != 0):
        return _outcome("cancelled", start, started=True)
    if ended == "timeout":
        return _outcome("timeout", start, error=f"killed after {limit:g} s wall time")
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (err or "").strip().splitlines()[-5:]
        return _outcome("error", start,
                        error=f"worker exited with code {proc.returncode}: {' | '.join(tail)}")
    payload = json.loads(lines[-1])
    if not payload["ok"]:
        return _outcome("error", start, error=payload["error"])
    return _outcome("ok", start, result=payload["result"])


def _wait(proc: subprocess.Popen[str], data: str, deadline: float, stop: Callable[[], bool] | None,
          poll: float) -> tuple[str, str, str]:
    """Feed the worker its spec and wait for it: (stdout, stderr, how it ended)."""
    sent: str | None = data
    while True:
        left = deadline - time.perf_counter()
        try:
            wait_s = left if stop is None else min(left, poll)
            out, err = proc.communicate(sent, timeout=max(0.0, wait_s))
            return out, err, "exited"
        except subprocess.TimeoutExpired:
            sent = None  # the rest of the input is still sent by the next call
            if time.perf_counter() >= deadline:
                ended = "timeout"
            elif stop is not None and stop():
                ended = "cancelled"
            else:
                continue
        kill_group(proc.pid)
        out, err = proc.communicate()
        return out, err, ended


def local_map(specs: list[dict[str, Any]], jobs: int = 1, *, stop: threading.Event | None = None,
              ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yield (spec, outcome) as runs finish, ``jobs`` at a time on this machine.

    When ``stop`` is set no further run starts, the running workers are killed, and each of
    them is yielded with a ``cancelled`` outcome (unless it had just finished anyway). The
    same clean-up runs when the consumer stops early or an exception interrupts the loop.
    """
    groups = WorkerGroups()
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="bench-run")
    pending: dict[Future[dict[str, Any]], dict[str, Any]] = {}
    try:
        pending = {pool.submit(run_isolated, s, groups=groups): s for s in specs}
        while pending and not (stop is not None and stop.is_set()):
            done, _ = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
            for fut in done:
                yield pending.pop(fut), fut.result()
        if pending:
            groups.stop()
            pool.shutdown(wait=True, cancel_futures=True)
            for fut, spec in list(pending.items()):
                if not fut.cancelled():
                    del pending[fut]
                    yield spec, fut.result()
    finally:
        groups.stop()
        pool.shutdown(wait=True, cancel_futures=True)


def _run_on_dask(spec: dict[str, Any], stop_name: str) -> dict[str, Any]:
    """A Dask task: one isolated run that ends early once the client sets the named Event."""
    try:
        from dask.distributed import Event
    except ImportError as exc:  # only ever sent to a Dask worker, which has it; said plainly if not
        raise ConfigError("a Dask worker without dask.distributed: pip install 'nearstock[dask]'") from exc

    flag = Event(stop_name)

    def stopped() -> bool:
        try:
            return bool(flag.is_set())
        except Exception:  # noqa: BLE001 - scheduler going away: the worker's own end kills the run
            return False

    return run_isolated(spec, stop=stopped, poll=DASK_STOP_POLL_S)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while processes are spawned, so they inherit that and a Ctrl-C at the
    terminal (sent to the whole foreground group) reaches only this process, which stops
    them in order; only possible from the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def dask_client(cluster: str) -> tuple[Any, Any]:
    """A Dask ``Client`` for ``--cluster``: ``local:N`` starts a LocalCluster of N one-thread
    worker processes on this machine, ``tcp://HOST:PORT`` connects to a running scheduler.
    Returns (client, the LocalCluster or None); the caller closes both."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - dask is an extra
        raise ConfigError("--cluster needs dask[distributed]: pip install 'nearstock[dask]'") from None
    if cluster.startswith("local:"):
        n = cluster.removeprefix("local:")
        if not n.isdigit() or int(n) < 1:
            raise ConfigError(f"--cluster local:N needs a number of workers, got {cluster!r}")
        with _sigint_ignored():
            local = LocalCluster(n_workers=int(n), threads_per_worker=1, processes=True,
                                 dashboard_address=None)
        return Client(local), local
    if cluster.startswith("tcp://"):
        try:
            return Client(cluster, timeout=10), None
        except OSError as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {cluster}: {exc}") from None
    raise ConfigError(f"--cluster expects tcp://HOST:PORT or local:N, got {cluster!r}")


def dask_map(specs: list[dict[str, Any]], cluster: str, *, stop: threading.Event | None = None,
             ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yield (spec, outcome) from a Dask scheduler (``tcp://host:port``) or a LocalCluster
    (``local:N``).

    When ``stop`` is set the runs still going are told to stop (a Dask Event they poll, so
    this works on remote workers too), each kills its worker and is yielded as
    ``cancelled``; runs not started are cancelled on the scheduler.
    """
    client, local = dask_client(cluster)
    try:
        from dask.distributed import Event
    except ImportError:  # pragma: no cover - dask_client has just imported it
        raise ConfigError("the Dask executor needs dask[distributed]: pip install 'nearstock[dask]'") from None
    stop_name = f"nearstock-stop-{uuid.uuid4().hex}"
    pending: dict[Any, dict[str, Any]] = {}
    try:
        pending = {client.submit(_run_on_dask, s, stop_name, key=f"run-{s['key']}", pure=False): s
                   for s in specs}
        while pending and not (stop is not None and stop.is_set()):
            done = [f for f in pending if f.done()]
            for fut in done:
                yield pending.pop(fut), fut.result()
            if not done:
                time.sleep(POLL_S)
        if pending:
            Event(stop_name, client=client).set()
            # runs not handed to a worker yet are simply dropped; the others see the Event
            # within a second or so, kill their worker and report back
            with suppress(Exception):
                busy = {k for keys in client.processing().values() for k in keys}
                queued = [f for f in pending if f.key not in busy]
                client.cancel(queued, force=True)
                for fut in queued:
                    del pending[fut]
            drain_until = time.monotonic() + DRAIN_S
            while pending and time.monotonic() < drain_until:
                done = [f for f in pending if f.done()]
                for fut in done:
                    spec = pending.pop(fut)
                    if fut.status == "finished":
                        yield spec, fut.result()
                if not done:
                    time.sleep(POLL_S)
            left = list(pending)
            pending.clear()
            client.cancel(left, force=True)
    finally:
        if pending:
            with suppress(Exception):
                client.cancel(list(pending), force=True)
        client.close()
        if local is not None:
            local.close()


def executor_map(specs: list[dict[str, Any]], *, jobs: int = 1, cluster: str | None = None,
                 stop: threading.Event | None = None,
                 ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Local processes, or a Dask cluster when ``cluster`` is given; ``stop`` ends it early."""
    return dask_map(specs, cluster, stop=stop) if cluster else local_map(specs, jobs, stop=stop)


def fan_out(func: Callable[..., Any], items: list[Any], *, cluster: str | None = None, jobs: int = 1) -> list[Any]:
    """Apply an importable, picklable ``func`` to independent items (e.g. many cities' dispatch)."""
    if cluster:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - dask is an extra
            raise ConfigError(
                "a Dask cluster needs dask[distributed]: pip install 'nearstock[dask]'"
            ) from None
        local = None
        if cluster.startswith("local:"):
            local = LocalCluster(n_workers=int(cluster.removeprefix("local:")), threads_per_worker=1,
                                 dashboard_address=None)
        client = Client(local or cluster)
        try:
            return client.gather(client.map(func, items, pure=False))
        finally:
            client.close()
            if local is not None:
                local.close()
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(func, items))
