"""`nearstock stock --cluster local:N | tcp://HOST:PORT`: the per-SKU work on a Dask cluster.

Two stages of the command are made of independent SKU chunks, and both take a *chunk map*
— ``chunk_map(f, chunks, shared, stage=...)`` returning ``[f(c, shared) for c in chunks]`` in
order — instead of looping themselves:

- the forecast's prediction (:meth:`engine.forecast.hier.HierarchicalFit.predict`): quantiles,
  SKU scenario draws and their split to zones, in fixed chunks of SKUs, each seeded from the
  run's seed and its chunk number;
- the decomposition's per-SKU work (:mod:`engine.stocking.decomp`, its chunk-map hook): the
  max-flow oracle passes over all SKUs (each SKU's flow and marginal values at the current
  plan; passes over at least ``MAP_ORACLE_MIN`` SKUs) and the exact phase (one small priced MIP
  per SKU).

:class:`ChunkMap` runs the chunks in this process; :class:`DaskChunkMap` sends ``shared`` (the
fitted forecast, the SKUs' grouped demand and prices: everything the chunks read) to every
worker once with ``client.scatter(..., broadcast=True)`` — an object sent before (the demand
every oracle pass reads) is not sent again — and maps the chunks over the workers; nothing is re-read from the instance's files there. The chunks and their seeds do not
depend on the workers, and the results are gathered in chunk order, so the plan is the one the
local run makes for the same seed, on any number of workers.

Both record every chunk's seconds (measured where it ran) and every mapped section's wall
seconds, which is what the summary's ``cluster`` entry and the scaling estimate in
``docs/scale.md`` are made of.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from engine.errors import ConfigError
from engine.solver import Settings


def _timed(chunk: Any, *, f: Callable[[Any, Any], Any], shared: Any) -> tuple[Any, float, str]:
    """Run one chunk; returns (result, seconds, where) — also on a Dask worker."""
    t0 = time.perf_counter()
    out = f(chunk, shared)
    return out, time.perf_counter() - t0, f"{socket.gethostname()}:{os.getpid()}"


def _nbytes(obj: Any) -> float:
    """Bytes of the numpy arrays an object holds in its fields (what a scatter sends)."""
    names = getattr(obj, "__dataclass_fields__", {})
    return float(sum(getattr(getattr(obj, n), "nbytes", 0) for n in names))


@dataclass(frozen=True, slots=True)
class ChunkTime:
    """One chunk: the stage it belongs to, its number, its seconds where it ran, and where."""

    stage: str
    chunk: int
    seconds: float
    worker: str

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "chunk": self.chunk, "seconds": round(self.seconds, 4),
                "worker": self.worker}


@dataclass(frozen=True, slots=True)
class Section:
    """One mapped call: its stage, chunks, wall seconds on the client, and what was scattered."""

    stage: str
    chunks: int
    wall_seconds: float
    scatter_seconds: float = 0.0
    scattered_mb: float = 0.0


@dataclass
class ChunkMap:
    """Runs chunks in this process, in order, timing each (the local run's chunk map)."""

    address: str = "in-process"
    workers: int = 1
    times: list[ChunkTime] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def __call__(self, f: Callable[[Any, Any], Any], chunks: Sequence[Any], shared: Any, *,
                 stage: str = "") -> list[Any]:
        t0 = time.perf_counter()
        out = []
        for i, c in enumerate(chunks):
            res, sec, where = _timed(c, f=f, shared=shared)
            out.append(res)
            self.times.append(ChunkTime(stage, i, sec, where))
        self.sections.append(Section(stage, len(chunks), time.perf_counter() - t0))
        return out

    # -- what the summary shows -----------------------------------------------------------
    def chunk_frame(self) -> pd.DataFrame:
        """One row per chunk: stage, chunk, seconds, worker."""
        return pd.DataFrame([t.to_dict() for t in self.times], columns=["stage", "chunk", "seconds", "worker"])

    def to_dict(self) -> dict[str, Any]:
        stages: dict[str, dict[str, Any]] = {}
        for s in self.sections:
            d = stages.setdefault(s.stage, {"calls": 0, "chunks": 0, "wall_seconds": 0.0, "scatter_seconds": 0.0,
                                            "scattered_mb": 0.0, "chunk_seconds": 0.0, "max_chunk_seconds": 0.0,
                                            "workers_used": 0})
            d["calls"] += 1
            d["chunks"] += s.chunks
            d["wall_seconds"] += s.wall_seconds
            d["scatter_seconds"] += s.scatter_seconds
            d["scattered_mb"] += s.scattered_mb
        for name, d in stages.items():
            ts = [t for t in self.times if t.stage == name]
            d["chunk_seconds"] = sum(t.seconds for t in ts)
            d["max_chunk_seconds"] = max((t.seconds for t in ts), default=0.0)
            d["workers_used"] = len({t.worker for t in ts})
            for k in ("wall_seconds", "scatter_seconds", "chunk_seconds", "max_chunk_seconds"):
                d[k] = round(d[k], 3)
            d["scattered_mb"] = round(d["scattered_mb"], 3)
        return {"address": self.address, "workers": self.workers, "stages": stages,
                "chunks": [[t.stage, t.chunk, round(t.seconds, 4), t.worker] for t in self.times]}

    def describe(self, stage: str | None = None) -> str:
        """What ran where (one stage, or all), for the stage table's notes; "" if nothing did."""
        parts = []
        for name, d in self.to_dict()["stages"].items():
            if stage is not None and name != stage:
                continue
            parts.append(f"{name}: {d['chunks']} chunks, {d['chunk_seconds']:.1f}s of chunk work in "
                         f"{d['wall_seconds']:.1f}s wall on {d['workers_used']} worker(s)")
        return "; ".join(parts)


@dataclass
class DaskChunkMap(ChunkMap):
    """Maps chunks over a Dask cluster; ``shared`` goes to every worker once per call."""

    client: Any = None
    # what has been sent already, by the identity of the object: (the object, its future)
    _sent: dict[int, tuple[Any, Any]] = field(default_factory=dict)

    def __call__(self, f: Callable[[Any, Any], Any], chunks: Sequence[Any], shared: Any, *,
                 stage: str = "") -> list[Any]:
        t0 = time.perf_counter()
        hit = self._sent.get(id(shared))
        if hit is not None and hit[0] is shared:  # e.g. decomp's demand, read by every oracle pass
            remote, sent_mb = hit[1], 0.0
        else:
            # one copy to every worker, up front: each chunk then reads it where it runs
            remote = self.client.scatter(shared, broadcast=True, hash=False)
            self._sent[id(shared)] = (shared, remote)
            sent_mb = _nbytes(shared) / 2**20
        t_scatter = time.perf_counter() - t0
        call = uuid.uuid4().hex  # task keys unique to this call
        futures = self.client.map(_timed, list(chunks), f=f, shared=remote, pure=False,
                                  key=[f"nearstock-{stage or 'chunk'}-{call}-{i}" for i in range(len(chunks))])
        try:
            done = self.client.gather(futures)
            # which worker holds each result = which one computed it
            held = self.client.who_has(futures)
        finally:
            self.client.cancel(futures, force=True)
        out = []
        for i, (fut, (res, sec, where)) in enumerate(zip(futures, done, strict=True)):
            out.append(res)
            on = held.get(fut.key) or (where,)
            self.times.append(ChunkTime(stage, i, sec, str(on[0])))
        self.sections.append(Section(stage, len(chunks), time.perf_counter() - t0, t_scatter, sent_mb))
        return out


def forecast_with(chunk_map: ChunkMap | None, history: pd.DataFrame, *, n_scenarios: int = 0,
                  settings: Settings | None = None, **fit_kw: Any) -> Any:
    """:func:`engine.forecast.forecast`, with a hierarchical forecast's prediction (quantiles,
    scenarios) done chunk by chunk through ``chunk_map``; other methods, and ``chunk_map=None``,
    forecast as usual (the chunked prediction is the same either way)."""
    from engine.forecast import forecast
    from engine.forecast.core import fit
    from engine.forecast.hier import HierarchicalFit

    if chunk_map is None:
        return forecast(history, n_scenarios=n_scenarios, settings=settings, **fit_kw)
    s = settings or Settings()
    fitted = fit(history, settings=s, **fit_kw)
    if isinstance(fitted, HierarchicalFit):
        return fitted.predict(n_scenarios=n_scenarios, seed=s.seed, chunk_map=chunk_map)
    return fitted.predict(n_scenarios=n_scenarios, seed=s.seed)


@contextmanager
def open_cluster(cluster: str) -> Iterator[DaskChunkMap]:
    """A :class:`DaskChunkMap` on ``local:N`` (a LocalCluster of N worker processes, started
    here and closed on exit) or ``tcp://HOST:PORT`` (a running scheduler; left running)."""
    from engine.bench.executors import dask_client

    client, local = dask_client(cluster)
    try:
        try:
            client.wait_for_workers(1, timeout=30)
        except Exception as exc:  # noqa: BLE001 - dask raises TimeoutError or its own
            raise ConfigError(f"the Dask scheduler at {cluster} has no worker: {exc}") from None
        n = len(client.scheduler_info().get("workers", {}))
        address = client.scheduler.address if local is None else f"{cluster} ({client.scheduler.address})"
        yield DaskChunkMap(address=address, workers=n, client=client)
    finally:
        client.close()
        if local is not None:
            local.close()
