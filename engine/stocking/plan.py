"""`nearstock stock` as one function: load → forecast → build → solve → write, within one time limit.

A time limit bounds the whole run, not only the solver: :func:`plan_stock` measures from the
start of the process (Python start-up and imports count), gives each stage a share of what is
left, and hands the solver whatever the earlier stages did not use, less a reserve for the
writing that follows it.

- load and build are not interruptible; they are measured and their time taken out of the rest;
- forecast: ``auto`` runs only the candidate methods whose estimated work fits the forecast's
  share (``FORECAST_SHARE`` of the limit, fixed by the limit alone, not by what the load took:
  the same instance, seed and limit give the same forecast at any load); at city scale it
  forecasts top-down (``hierarchical``), which keeps this stage to a few tens of seconds;
- solve: the stocking back-end gets 90% of the time left after a 2 s reserve for writing and
  exiting (its own uninterruptible steps overran a full share on a busy machine); every back-end
  returns its best plan with its status at its limit (``decomp`` leaves room for the exact
  evaluation inside it). When the earlier stages have used everything, the solver still gets
  ``MIN_SOLVE_S`` seconds: the run then ends at most that much (plus the reserve) after its limit,
  with status ``time_limit`` — the margin the summary states as ``overrun_margin_s``.

Every stage reports its wall seconds, its share (if bounded) and the peak resident memory of
the process while it ran (sampled every 20 ms from ``/proc/self/statm``; elsewhere the
process's peak so far, from ``getrusage``).
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from engine.solver import Settings

FORECAST_SHARE = 0.35  # of the whole limit: the estimated work auto's candidates may take
MIN_SOLVE_S = 1.0  # the solver always gets this long, even when the limit is already used
WRITE_RESERVE_S = 2.0  # kept back from the solver for writing the outputs and the process's exit
# the solver's share of what is left after the reserve: on a busy machine its uninterruptible
# steps (one oracle pass, the exact evaluation) overran a 49 s share by 5 s at 20 000 SKUs
SOLVE_SHARE = 0.9


def process_age() -> float:
    """Seconds since this process started (Linux: from /proc; elsewhere 0)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        start_ticks = float(fields[19])  # field 22 of the line, counted after the command name
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        return max(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return 0.0


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _maxrss_bytes() -> int:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(r if sys.platform == "darwin" else r * 1024)


class _Meter:
    """Peak resident memory while a block runs, sampled by a background thread."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Meter:
        now = _rss_bytes()
        if now is None:
            return self
        self.peak = now
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            v = _rss_bytes()
            if v is not None and v > self.peak:
                self.peak = v

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            v = _rss_bytes()
            if v is not None:
                self.peak = max(self.peak, v)
        else:
            self.peak = _maxrss_bytes()


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of the run: wall seconds, its time share (None = not bounded), peak memory."""

    name: str
    seconds: float
    peak_rss_mb: float
    budget_s: float | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.name, "seconds": round(self.seconds, 3), "budget_s": self.budget_s,
                "peak_rss_mb": round(self.peak_rss_mb, 1), "note": self.note}


@dataclass(frozen=True, slots=True)
class StockRun:
    """What `nearstock stock` did: the plan, the forecast summary and every stage's time and memory."""

    result: Any  # StockingResult
    forecast: dict[str, Any]  # ForecastResult.to_dict()
    stages: tuple[Stage, ...]
    time_limit: float | None
    wall_seconds: float  # from the process start to the end of the last stage
    peak_rss_mb: float
    overrun_margin_s: float
    scenario_storage: str  # "sparse" or "dense"
    instance_name: str
    n_scenarios: int
    cycle_days: int
    notes: tuple[str, ...] = field(default=())
    cluster: dict[str, Any] | None = None  # where the chunked work ran (engine.stocking.cluster)

    @property
    def within_limit(self) -> bool | None:
        return None if self.time_limit is None else self.wall_seconds <= self.time_limit

    def stage_frame(self) -> pd.DataFrame:
        return pd.DataFrame([s.to_dict() for s in self.stages])

    def to_frame(self) -> pd.DataFrame:
        """The plan: units per (sku, warehouse)."""
        return self.result.to_frame()

    def to_dict(self) -> dict[str, Any]:
        out = self.result.to_dict()
        out["run"] = {
            "instance": self.instance_name,
            "time_limit": self.time_limit,
            "wall_seconds": round(self.wall_seconds, 3),
            "within_limit": self.within_limit,
            "overrun_margin_s": self.overrun_margin_s,
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "scenarios": self.n_scenarios,
            "scenario_storage": self.scenario_storage,
            "cycle_days": self.cycle_days,
            "stages": [s.to_dict() for s in self.stages],
            "notes": list(self.notes),
            "cluster": self.cluster,
        }
        out["forecast"] = self.forecast
        return out


class _Clock:
    def __init__(self, time_limit: float | None, age: float) -> None:
        self.t0 = time.perf_counter() - age  # the process start on this clock
        self.limit = time_limit
        self.stages: list[Stage] = []

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def left(self) -> float | None:
        return None if self.limit is None else self.limit - self.now()

    @contextmanager
    def stage(self, name: str, budget: float | None = None, note: str = "") -> Iterator[list[str]]:
        start = time.perf_counter()
        notes: list[str] = [note] if note else []
        with _Meter() as meter:
            yield notes
        self.stages.append(Stage(name, time.perf_counter() - start, meter.peak / 2**20,
                                 None if budget is None else round(budget, 3), "; ".join(n for n in notes if n)))


def plan_stock(
    instance: str | Path | Any,
    *,
    stocking: Settings | None = None,
    forecast_settings: Settings | None = None,
    backend: str | None = None,
    mip_gap: float | None = None,
    forecast_method: str | None = None,
    scenarios: int | None = None,
    cycle_days: int | None = None,
    time_limit: float | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    process_start_age: float | None = None,
    cluster: str | None = None,
) -> StockRun:
    """Forecast an instance's demand scenarios and choose units per (SKU, forward warehouse).

    ``instance`` is a directory or a loaded :class:`~engine.instance.model.Instance`;
    ``stocking`` / ``forecast_settings`` default to the instance's ``[solver.*]`` settings
    (``seed`` replaces both seeds; ``backend``, ``mip_gap`` and ``forecast_method`` replace the
    stocking back-end, its gap and the forecast method). ``time_limit`` bounds the whole run (see the module
    docstring); without it the stocking settings' own limit applies to the solver alone. With
    ``out``, ``plan.csv``, ``warehouses.csv`` and ``result.json`` are written atomically
    (``force`` replaces an earlier nearstock output). ``progress`` is called with each stage's name.
    ``cluster`` (``local:N`` or ``tcp://HOST:PORT``) runs the forecast's SKU chunks and the
    decomposition's exact per-SKU phase on a Dask cluster, with the same plan as without it
    (:mod:`engine.stocking.cluster`); its start-up is the ``cluster`` stage.
    """
    if cluster:
        from engine.stocking.cluster import open_cluster

        if out is not None:
            from engine.io import check_output_dir

            check_output_dir(Path(out), force=force)  # before any worker starts
        t0 = time.perf_counter()
        (progress or (lambda _name: None))("cluster")
        with _Meter() as meter, open_cluster(cluster) as chunk_map:
            up = Stage("cluster", time.perf_counter() - t0, meter.peak / 2**20, None,
                       f"{chunk_map.address}: {chunk_map.workers} worker(s)")
            age = process_age() if process_start_age is None else float(process_start_age)
            return _plan(instance, stocking=stocking, forecast_settings=forecast_settings, backend=backend,
                         mip_gap=mip_gap, forecast_method=forecast_method, scenarios=scenarios,
                         cycle_days=cycle_days, time_limit=time_limit, seed=seed, out=out, force=force,
                         progress=progress, process_start_age=age, chunk_map=chunk_map, first_stages=(up,))
    return _plan(instance, stocking=stocking, forecast_settings=forecast_settings, backend=backend, mip_gap=mip_gap,
                 forecast_method=forecast_method, scenarios=scenarios, cycle_days=cycle_days, time_limit=time_limit,
                 seed=seed, out=out, force=force, progress=progress, process_start_age=process_start_age)


def _plan(
    instance: str | Path | Any,
    *,
    stocking: Settings | None,
    forecast_settings: Settings | None,
    backend: str | None,
    mip_gap: float | None,
    forecast_method: str | None,
    scenarios: int | None,
    cycle_days: int | None,
    time_limit: float | None,
    seed: int | None,
    out: str | Path | None,
    force: bool,
    progress: Callable[[str], None] | None,
    process_start_age: float | None,
    chunk_map: Any = None,  # engine.stocking.cluster.ChunkMap
    first_stages: tuple[Stage, ...] = (),
) -> StockRun:
    from engine.forecast import FORECASTERS
    from engine.forecast.scenarios import SparseScenarios
    from engine.instance import load_instance
    from engine.io import atomic_dir, check_output_dir, to_json_text, write_frame
    from engine.stocking.build import build_problem
    from engine.stocking.cluster import forecast_with
    from engine.stocking.decomp import using_chunk_map
    from engine.stocking.solve import STOCKING, solve_stocking

    age = process_age() if process_start_age is None else float(process_start_age)
    clock = _Clock(None if time_limit is None else float(time_limit), age)
    if age > 0:
        before = sum(st.seconds for st in first_stages)  # the cluster's start-up is its own stage
        clock.stages.append(Stage("start-up", max(age - before, 0.0), _maxrss_bytes() / 2**20, None,
                                  "interpreter and imports"))
    clock.stages.extend(first_stages)
    tell = progress or (lambda _name: None)
    if out is not None:
        check_output_dir(Path(out), force=force)

    tell("load")
    with clock.stage("load"):
        inst = load_instance(instance) if isinstance(instance, str | Path) else instance
    m = inst.manifest
    run_seed = m.seed if seed is None else int(seed)
    k = int(scenarios or m.planning.scenarios)
    fs = (forecast_settings or m.settings("forecast")).with_(seed=run_seed)
    if forecast_method:
        fs = fs.with_(backend=forecast_method)
    st = (stocking or m.settings("stocking")).with_(seed=run_seed)
    if backend:
        st = st.with_(backend=backend)
    if mip_gap is not None:
        st = st.with_(mip_gap=float(mip_gap))
    STOCKING.check(st)  # unknown back-end, method or option names fail before any work
    FORECASTERS.info(fs.backend)

    tell("forecast")
    # a work budget from the limit alone (not from the clock), so that the forecast is the same
    # however long start-up and loading took on a busy machine
    share = None if clock.limit is None else FORECAST_SHARE * clock.limit
    with clock.stage("forecast", share) as notes:
        fc = forecast_with(chunk_map, inst.demand, horizon=m.planning.horizon_days, start=m.planning.start_date,
                           events=inst.events, n_scenarios=k, settings=fs, time_limit=share)
        sparse = isinstance(fc.scenarios, SparseScenarios)
        notes.append(f"{fc.method}; {len(fc.series)} series; scenarios "
                     + (f"sparse ({fc.scenarios.nnz} non-zero cells)" if sparse else "dense"))
        if chunk_map is not None:
            notes.append(chunk_map.describe("forecast") or "on the client: only a hierarchical forecast is chunked")

    tell("build")
    with clock.stage("build"):
        problem = build_problem(inst, fc, cycle_days=cycle_days, scenarios=k)
    fc_summary = fc.to_dict()
    del fc  # the scenarios are in the problem now

    tell("solve")
    run_notes: list[str] = []
    if clock.limit is not None:
        left = clock.left() or 0.0
        solve_limit = max(SOLVE_SHARE * (left - WRITE_RESERVE_S), MIN_SOLVE_S)
        if left - WRITE_RESERVE_S < MIN_SOLVE_S:
            run_notes.append(f"the stages before the solve left {max(left, 0.0):.1f}s of the {clock.limit:g}s limit: "
                             f"the solver got its minimum of {MIN_SOLVE_S:g}s")
        st = st.with_(time_limit=solve_limit)
    with clock.stage("solve", st.time_limit if clock.limit is not None else None) as notes, using_chunk_map(chunk_map):
        result = solve_stocking(problem, st)
        notes.append(f"{result.stats.backend} {result.stats.status}")
        if chunk_map is not None:
            notes.append(chunk_map.describe("exact per-SKU") or "no exact per-SKU phase ran")

    def finish(stages: list[Stage]) -> StockRun:
        return StockRun(
            result=result, forecast=fc_summary, stages=tuple(stages), time_limit=clock.limit,
            wall_seconds=clock.now(), peak_rss_mb=_maxrss_bytes() / 2**20,
            overrun_margin_s=MIN_SOLVE_S + WRITE_RESERVE_S, scenario_storage="sparse" if sparse else "dense",
            instance_name=inst.name, n_scenarios=problem.n_scenarios, cycle_days=problem.cycle_days, notes=tuple(run_notes),
            cluster=None if chunk_map is None else chunk_map.to_dict(),
        )

    if out is not None:
        tell("write")
        with clock.stage("write"):
            summary = finish(list(clock.stages))
            with atomic_dir(Path(out), force=force, kind="stock") as d:
                write_frame(result.to_frame(), d / "plan.csv")
                write_frame(result.warehouse_frame(), d / "warehouses.csv")
                (d / "result.json").write_text(to_json_text(summary.to_dict()), encoding="utf-8")
    return finish(clock.stages)
