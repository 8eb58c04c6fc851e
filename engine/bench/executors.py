"""Executors: run isolated specs on local processes or on a Dask distributed cluster.

Either way each run is its own ``python -m engine.bench.worker`` process with a wall-clock
limit, so a crashing or hanging solver costs only its run (recorded as ``error`` or
``timeout``). On Dask the worker processes start those subprocesses; results are identical
to the local executor's for the same specs, whichever machine runs them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from engine.errors import ConfigError


def run_isolated(spec: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
    """Run one spec in a fresh Python process; never raises for the run's own failures."""
    limit = float(timeout if timeout is not None else spec.get("timeout", 600.0))
    start = time.perf_counter()
    env = {**os.environ, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": str(spec["settings"].get("threads", 1))}
    proc = subprocess.Popen([sys.executable, "-m", "engine.bench.worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(json.dumps(spec), timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"state": "timeout", "error": f"killed after {limit:g} s wall time", "elapsed": time.perf_counter() - start,
                "host": socket.gethostname()}
    elapsed = time.perf_counter() - start
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (err or "").strip().splitlines()[-5:]
        return {"state": "error", "error": f"worker exited with code {proc.returncode}: {' | '.join(tail)}",
                "elapsed": elapsed, "host": socket.gethostname()}
    payload = json.loads(lines[-1])
    if not payload["ok"]:
        return {"state": "error", "error": payload["error"], "elapsed": elapsed, "host": socket.gethostname()}
    return {"state": "ok", "result": payload["result"], "elapsed": elapsed, "host": socket.gethostname()}


def local_map(specs: list[dict[str, Any]], jobs: int = 1) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yield (spec, outcome) as runs finish, ``jobs`` at a time on this machine."""
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(run_isolated, s): s for s in specs}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


def dask_map(specs: list[dict[str, Any]], cluster: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yield (spec, outcome) from a Dask scheduler (``tcp://host:port``) or a LocalCluster (``local:N``)."""
    try:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import as_completed as dask_completed
    except ImportError:  # pragma: no cover - dask is an extra
        raise ConfigError("the Dask executor needs dask[distributed]: pip install 'nearstock[dask]'") from None
    local = None
    if cluster.startswith("local:"):
        n = cluster.removeprefix("local:")
        if not n.isdigit() or int(n) < 1:
            raise ConfigError(f"--cluster local:N needs a number of workers, got {cluster!r}")
        local = LocalCluster(n_workers=int(n), threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(local)
    elif cluster.startswith("tcp://"):
        try:
            client = Client(cluster, timeout=10)
        except OSError as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {cluster}: {exc}") from None
    else:
        raise ConfigError(f"--cluster expects tcp://HOST:PORT or local:N, got {cluster!r}")
    try:
        futures = [client.submit(run_isolated, s, key=f"run-{s['key']}", pure=False) for s in specs]
        by_key = {f.key: s for f, s in zip(futures, specs, strict=True)}
        for fut in dask_completed(futures):
            yield by_key[fut.key], fut.result()
    finally:
        client.close()
        if local is not None:
            local.close()


def executor_map(specs: list[dict[str, Any]], *, jobs: int = 1, cluster: str | None = None,
                 ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    return dask_map(specs, cluster) if cluster else local_map(specs, jobs)


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
