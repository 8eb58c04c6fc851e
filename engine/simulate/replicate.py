"""An instance's day, executed R times: forward orders by the event-driven execution, the
rest by the central DC's carrier, outcomes in the scorecard's table.

:func:`execute_day` builds the day's dispatch problem once (locations, matrices), then runs
one :func:`~engine.simulate.execute.execute_problem_day` per replication with a fresh policy
and an independent random stream spawned from one seed. Forward orders the execution moved
to the slow tier, and every central-DC order, are delivered by the DC's carrier (not routed
here): on time with the instance's ``central_on_time`` share, at ``central_cost_per_order``.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from engine.dispatch.day import DAY_OPTIONS
from engine.dispatch.policy import (
    FOCUS_PER_COURIER,
    POLICIES,
    EpochBudget,
    check_late_window,
    make_policy,
)
from engine.dispatch.problem import CROWD, DispatchProblem
from engine.errors import ConfigError
from engine.simulate.execute import ExecutedDay, ExecutionParams, execute_problem_day
from engine.simulate.sharing import attach, share
from engine.solver import Settings, SolveStats, SolveStatus

OUTCOME_COLUMNS = (
    "replication", "order", "source", "warehouse", "segment", "special", "fragile", "high_value",
    "served_by_plan", "courier", "courier_kind", "allowed_courier", "created_min", "ready_min", "due_min",
    "assigned_min", "planned_arrive_min", "delivered_min", "late_min", "declined", "no_show", "state",
    "on_time", "instant", "eta_error_min", "trail_complete", "returned", "return_picked_on_time", "claim",
    "claim_resolved_on_time", "reason", "bound_min",
)


def arrival_bound(P: DispatchProblem, created: np.ndarray) -> np.ndarray:
    """The earliest minute each order could reach its door: a courier already waiting at its
    warehouse when it is ready (and known), the pickup service, then the fastest ride there.

    ``bound − created`` is the order's lower bound on click-to-door (the MDRP benchmark's
    bound, here with the day problem's matrices): no dispatcher can beat it when travel goes as
    planned; with travel noise a single lucky ride may.
    """
    wl = P.warehouse_loc[P.order_wh]
    ride = P.time_min[:, wl, P.order_loc].min(axis=0)
    return np.maximum(np.asarray(created, float), P.ready) + P.pickup_service[P.order_wh] + ride


def execution_params(instance: Any, **override: Any) -> ExecutionParams:
    """The instance's simulation and dispatch parameters as :class:`ExecutionParams`."""
    s, d = instance.manifest.simulation, instance.manifest.dispatch
    names = ExecutionParams.__dataclass_fields__
    kw: dict[str, Any] = {}
    for src in (s, d):
        for k in names:
            if hasattr(src, k):
                kw[k] = getattr(src, k)
    if hasattr(s, "tracking_gap_rate") and not hasattr(s, "tracking_gap_rate_fleet"):
        kw["tracking_gap_rate_fleet"] = s.tracking_gap_rate
    kw.update(override)
    return ExecutionParams(**kw)


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """Per-order outcomes of every replication; the event log and stops of the first one."""

    outcomes: pd.DataFrame  # OUTCOME_COLUMNS, one row per (replication, order)
    events: pd.DataFrame  # replication 0: minute, kind, order, courier, lat, lon, recorded
    stops: pd.DataFrame  # replication 0: every executed stop
    epochs: pd.DataFrame  # every replication's decision epochs (replication column)
    replications: int
    seed: int
    policy: str
    period: float
    days: tuple[ExecutedDay, ...] = field(repr=False, default=())
    notes: tuple[str, ...] = ()
    stats: SolveStats | None = None
    costs: pd.DataFrame = field(default_factory=pd.DataFrame)  # per replication: executed cost parts

    def tracking_events(self) -> pd.DataFrame:
        """Replication 0's recorded events per order (what the platform's tracking shows)."""
        e = self.events
        if not len(e):
            return pd.DataFrame(columns=["order", "event", "minute"])
        rec = e[e["recorded"] & (e["order"] != "")]
        out = pd.DataFrame({"order": rec["order"].to_numpy(), "event": rec["kind"].to_numpy(),
                            "minute": rec["minute"].to_numpy(float)})
        return out.sort_values(["order", "minute"], kind="stable").reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        return self.outcomes

    def to_dict(self) -> dict[str, Any]:
        o, ep = self.outcomes, self.epochs
        return {
            "policy": self.policy, "period_min": self.period, "replications": self.replications, "seed": self.seed,
            "orders": int(o["order"].nunique()) if len(o) else 0,
            "final_states": {k: int(v) for k, v in o["state"].value_counts().items()},
            "epochs": int(len(ep)),
            "errored_epochs": int((ep["status"] == "error").sum()) if len(ep) else 0,
            "dispatcher_seconds": float(ep["seconds"].sum()) if len(ep) else 0.0,
            "cost_mean": {k: float(v) for k, v in self.costs.drop(columns="replication").mean().items()}
                         if len(self.costs) else {},
            "notes": list(self.notes),
            "stats": self.stats.to_dict() if self.stats else None,
        }


def executed_plan(day: ExecutedDay, stats: SolveStats | None = None) -> Any:
    """The executed day as a :class:`~engine.dispatch.DispatchResult`: who delivered what and
    every stop as it happened (``routes`` keeps the planner's stop kinds: start, pickup,
    delivery, end, and return_pickup / return_drop for reverse runs)."""
    from engine.dispatch.result import ASSIGNMENT_COLUMNS, ROUTE_COLUMNS, DispatchResult

    P, o, st = day.problem, day.orders, day.stops.copy()
    cidx = {c: i for i, c in enumerate(P.courier_ids)}
    if len(st):
        st["kind"] = st["kind"].replace({"dropoff": "delivery"})
        v = st["courier"].map(cidx).to_numpy(int)
        loc = st["loc"].to_numpy(int)
        first = (st["seq"].to_numpy() == 0)
        prev = np.roll(loc, 1)
        st["km_from_prev"] = np.where(first, 0.0, P.dist_km[P.courier_profile[v], prev, loc])
        st["lat"] = P.loc_lat[loc]
        st["lon"] = P.loc_lon[loc]
    else:
        st = pd.DataFrame(columns=[*ROUTE_COLUMNS, "warehouse", "loc"])
    drops = st[st["kind"] == "delivery"].set_index("order") if len(st) else pd.DataFrame()
    pick = (st[st["kind"] == "pickup"].set_index(["courier", "trip"])["depart_min"] if len(st)
            else pd.Series(dtype=float))
    served = o["state"].isin(["delivered", "damaged", "lost"]).to_numpy()
    trip = np.full(len(o), np.nan)
    seq = np.full(len(o), np.nan)
    depart = np.full(len(o), np.nan)
    for k in np.flatnonzero(served):
        d = drops.loc[o["order"].iat[k]]
        trip[k] = d["trip"]
        seq[k] = d["seq"] - 1  # stop 1 is the pickup
        depart[k] = pick.get((d["courier"], d["trip"]), np.nan)
    a = pd.DataFrame({
        "order": o["order"].to_numpy(), "status": np.where(served, "served", "unserved"),
        "courier": np.where(served, o["courier"], None), "courier_kind": np.where(served, o["courier_kind"], None),
        "warehouse": [P.warehouse_ids[w] for w in P.order_wh], "trip": pd.array(trip, dtype="Int64"),
        "stop_seq": pd.array(seq, dtype="Int64"), "depart_min": depart,
        "arrive_min": np.where(served, o["arrived_min"], np.nan), "due_min": o["due_min"].to_numpy(float),
        "late_min": o["late_min"].to_numpy(float), "reason": np.where(served, "", o["reason"]),
        "assigned_min": o["assigned_min"].to_numpy(float), "eta_min": o["eta_min"].to_numpy(float),
    }, columns=[*ASSIGNMENT_COLUMNS, "assigned_min", "eta_min"])
    return DispatchResult(assignments=a, routes=st, cost=day.cost(), stats=stats or day.stats, problem=P,
                          meta={"policy": day.policy, "period_min": day.period, "epochs": int(len(day.epochs))})


@dataclass(frozen=True, slots=True)
class _Day:
    """What every replication of one day shares (built once, sent once to each worker)."""

    problem: DispatchProblem
    created: np.ndarray
    fragile: np.ndarray
    policy: str
    settings: Settings
    period: float
    time_per_order: float
    params: ExecutionParams
    focus: tuple[int, float] | None
    budget: EpochBudget
    late_window: float = 0.0


def _replicate(day: _Day, rep_seed: int) -> ExecutedDay:
    """One replication: a fresh policy seeded from the replication's seed, the day executed."""
    pol = make_policy(day.policy, day.settings.with_(seed=rep_seed % (2**31)), period=day.period,
                      time_per_order=day.time_per_order, focus=day.focus,
                      budget=day.budget, late_window=day.late_window)
    return execute_problem_day(day.problem, day.created, pol, day.params, seed=rep_seed, fragile=day.fragile)


_WORKER_DAY: _Day | None = None
SHARE_MIN_BYTES = 1 << 20  # arrays of the day problem at least this large go to workers in shared memory


def _worker_init(payload: bytes, parent: int | None = None) -> None:
    global _WORKER_DAY
    _die_with_parent(parent)
    _WORKER_DAY = attach(payload)


def _die_with_parent(parent: int | None) -> None:
    """End this worker when the run that started it dies (a killed ``nearstock run`` leaves no
    replication running). A spawned worker asks Linux for a signal when its parent dies; a
    worker forked from the fork server (whose parent is the server, kept alive by its workers)
    watches the run's process from a thread. Elsewhere the pool's own shutdown is all there is."""
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux") or parent is None:
        return
    if os.getppid() == parent:
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            return
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)
        return
    _watch(parent)


def _watch(pid: int) -> None:
    """A daemon thread that ends this process when process ``pid`` ends."""
    import select
    import threading

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)
    except (OSError, AttributeError):  # no pidfd (Linux < 5.3): poll
        fd = None

    def wait() -> None:
        if fd is not None:
            select.select([fd], [], [])
        else:
            while _alive(pid):
                time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=wait, name="nearstock-watch-run", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _worker_replicate(rep_seed: int) -> ExecutedDay:
    """:func:`_replicate` in a worker process; the problem goes back attached by the parent."""
    assert _WORKER_DAY is not None, "worker started without its day"
    return replace(_replicate(_WORKER_DAY, rep_seed), problem=None)


def _context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fork server that has imported the engine once: each worker starts
    in milliseconds with the modules loaded (a spawned one re-imports numpy, pandas, PyVRP, ...:
    about 0.6 s of CPU each), and it is safe in a process that runs threads (a progress bar, a
    solver's pool), which a plain fork is not. Spawn where there is no fork server (Windows)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["engine.simulate.replicate"])  # only read when the server starts
    return ctx


def _start_server() -> None:
    """Start the fork server now (it returns at once; the server imports in its own process)."""
    ctx = _context()
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def _executed_days(day: _Day, seeds: list[int], workers: int) -> Iterator[ExecutedDay]:
    """Every replication's executed day, in replication order, in this process or in ``workers``."""
    if workers <= 1 or len(seeds) <= 1:
        for s in seeds:
            yield _replicate(day, s)
        return
    # the travel matrices go to the workers once, in shared memory; the rest is pickled
    P = day.problem
    with share(day, [P.time_min, P.dist_km], min_bytes=SHARE_MIN_BYTES) as shared, ProcessPoolExecutor(
            max_workers=min(workers, len(seeds)), mp_context=_context(),
            initializer=_worker_init, initargs=(shared.payload, os.getpid())) as pool:
        for done in pool.map(_worker_replicate, seeds):
            yield replace(done, problem=day.problem)


def execute_day(instance: Any, allocated: pd.DataFrame, *, policy: str = "rolling",
                settings: Settings | None = None, period: float | None = None, replications: int | None = None,
                seed: int | None = None, params: ExecutionParams | None = None,
                progress: Callable[[int], None] | None = None, workers: int | None = None) -> ExecutionResult:
    """Execute the allocated orders of a day ``replications`` times with ``policy`` in the loop.

    ``allocated`` comes from :func:`engine.simulate.allocate_orders` (``source`` forward or
    central). ``settings`` are the dispatch back-end's (rolling and waves solve with it);
    ``period`` defaults to the instance's ``dispatch.wave_min``. With ``workers`` > 1 the
    replications run in that many processes (forked from a fork server that has loaded the
    engine; the day problem is built once and its travel matrices placed in shared memory);
    the results are those of ``workers=1``, only the measured seconds differ. Pick a count that
    leaves no core idle in the last round: 2 workers run 5 replications in three rounds, the
    last on one core; 3 workers keep 2 cores busy to the end, with less memory than 5
    (``benchmarks/simulate/RESULTS.md`` §1).
    """
    from engine.dispatch.day import build_problem, instance_orders

    if policy not in POLICIES:
        raise ConfigError(f"unknown dispatch policy {policy!r}; choose one of {', '.join(POLICIES)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"workers must be a whole number >= 1, got {workers!r}")
    t_wall = time.perf_counter()
    m = instance.manifest
    settings = settings or m.settings("dispatch")
    period = float(period or m.dispatch.wave_min)
    R = int(replications or m.simulation.replications)
    seed = int(m.seed if seed is None else seed)
    params = params or execution_params(instance)
    allocated = allocated.reset_index(drop=True)
    fwd = allocated["source"].to_numpy() == "forward"
    fast = allocated[fwd].reset_index(drop=True)
    # day-planning options are the policy's; the back-end gets the rest
    inner = settings.with_(options={k: v for k, v in settings.options.items() if k not in DAY_OPTIONS})
    tpo = float(settings.options.get("wave_time_per_order", 0.003))
    k = int(settings.options.get("focus_per_courier", FOCUS_PER_COURIER))
    focus = (k, float(settings.options.get("focus_lookahead_min", period))) if k > 0 else None
    late_window = check_late_window(settings.options.get("late_window_min", 0.0))
    streams = np.random.SeedSequence(seed).spawn(R)
    seeds = [int(ss.generate_state(1)[0]) for ss in streams]
    days: list[ExecutedDay] = []
    if len(fast):
        if (workers or 1) > 1 and R > 1:
            _start_server()  # it loads the engine while this process builds the day problem
        P = build_problem(instance, fast, assign_crowd=False, settings=settings)
        created = instance_orders(instance, fast)["created_min"].to_numpy(float)
        shared = _Day(P, created, fast["fragile"].to_numpy(bool), policy, inner, period, tpo, params, focus,
                      EpochBudget.from_options(settings.options), late_window)
        for r, day in enumerate(_executed_days(shared, seeds, workers or 1)):
            days.append(day)
            if progress:
                progress(r)
    elif progress:
        for r in range(R):
            progress(r)
    rows, epochs, costs = [], [], []
    for r, ss in enumerate(streams):
        day = days[r] if days else None
        if day is not None:
            epochs.append(day.epochs.assign(replication=r))
            costs.append({"replication": r, **day.cost()})
        rows.append(_outcomes(instance, allocated, fwd, day, r, np.random.default_rng(ss.spawn(1)[0]), params))
    outcomes = pd.concat(rows, ignore_index=True)
    first = days[0] if days else None
    ep = pd.concat(epochs, ignore_index=True) if epochs else pd.DataFrame(columns=["t", "replication"])
    notes = ("central-DC carrier not routed: on time with simulation.central_on_time",)
    stats = SolveStats("execution", SolveStatus.FEASIBLE, solve_seconds=time.perf_counter() - t_wall,
                       message=f"{policy} every {period:g} min, {R} replications, seed {seed}")
    return ExecutionResult(
        outcomes=outcomes, events=first.events if first else pd.DataFrame(columns=["minute", "kind"]),
        stops=first.stops if first else pd.DataFrame(), epochs=ep, replications=R, seed=seed, policy=policy,
        period=period, days=tuple(days), notes=notes, stats=stats,
        costs=pd.DataFrame(costs) if costs else pd.DataFrame({"replication": range(R)}))


def _outcomes(instance: Any, allocated: pd.DataFrame, fwd: np.ndarray, day: ExecutedDay | None, r: int,
              rng: np.random.Generator, params: ExecutionParams) -> pd.DataFrame:
    """One replication's outcome table over all allocated orders (forward and central)."""
    sp = instance.manifest.simulation
    n = len(allocated)
    a = allocated
    out = pd.DataFrame({
        "replication": r, "order": a["id"].astype(str).to_numpy(), "source": a["source"].to_numpy(),
        "warehouse": a["warehouse"].to_numpy(), "segment": a["segment"].to_numpy(),
        "special": a["special"].to_numpy(bool), "fragile": a["fragile"].to_numpy(bool),
        "high_value": a["high_value"].to_numpy(bool), "served_by_plan": False, "courier": "",
        "courier_kind": np.where(fwd, "slow_fallback", "central_carrier"), "allowed_courier": True,
        "created_min": a["created_min"].to_numpy(float), "ready_min": a["ready_min"].to_numpy(float),
        "due_min": a["due_min"].to_numpy(float), "assigned_min": np.nan, "planned_arrive_min": np.nan,
        "delivered_min": np.nan, "late_min": np.nan, "declined": False, "no_show": False, "state": "delivered",
        "on_time": False, "instant": False, "eta_error_min": np.nan, "trail_complete": True, "returned": False,
        "return_picked_on_time": False, "claim": False, "claim_resolved_on_time": False,
        "reason": np.where(fwd, "", "no forward stock: slow promise from the central DC"),
        "bound_min": np.nan,
    })
    # the DC carrier: orders not executed by a courier of the day (draws for every order, used where needed)
    u_on_time = rng.random(n)
    slow_max = instance.manifest.slow_tier.max_min
    slow_at = np.where(u_on_time < sp.central_on_time,
                       a["created_min"].to_numpy(float) + rng.uniform(0.4, 1.0, n) * slow_max,
                       a["created_min"].to_numpy(float) + slow_max + rng.uniform(60, 1440, n))
    u_gap = rng.random(n)
    u_ret = rng.random(n)
    u_ret_ok = rng.random(n)
    carrier = np.ones(n, bool)
    if day is not None:
        e = day.orders
        idx = np.flatnonzero(fwd)
        executed = e["state"].isin(["delivered", "damaged", "lost"]).to_numpy()
        ei = idx[executed]
        ee = e[executed]
        carrier[ei] = False
        P = day.problem
        out.loc[idx, "bound_min"] = arrival_bound(P, a["created_min"].to_numpy(float)[idx])
        cpos = {c: i for i, c in enumerate(P.courier_ids)}
        cour = ee["courier"].map(cpos).to_numpy(int)
        may = np.where(P.courier_profile[cour] == CROWD, P.may_carry_special[cour], True)
        arrived = ee["arrived_min"].to_numpy(float)
        on_time = (ee["state"] != "lost").to_numpy() & (arrived <= ee["due_min"].to_numpy(float) + 1e-9)
        cols = {
            "served_by_plan": True, "courier": ee["courier"].to_numpy(), "courier_kind": ee["courier_kind"].to_numpy(),
            "allowed_courier": may, "assigned_min": ee["assigned_min"].to_numpy(float),
            "planned_arrive_min": ee["eta_min"].to_numpy(float),
            "delivered_min": np.where(ee["state"] == "lost", np.nan, arrived),
            "late_min": ee["late_min"].to_numpy(float), "state": ee["state"].to_numpy(),
            "on_time": on_time, "instant": on_time,
            "eta_error_min": np.where(ee["state"] == "lost", np.nan, arrived - ee["eta_min"].to_numpy(float)),
            "trail_complete": ee["trail_complete"].to_numpy(bool), "returned": ee["returned"].to_numpy(bool),
            "return_picked_on_time": ee["return_picked_on_time"].to_numpy(bool), "claim": ee["claim"].to_numpy(bool),
            "claim_resolved_on_time": ee["claim_resolved_on_time"].to_numpy(bool),
        }
        for k, v in cols.items():
            out.loc[ei, k] = v
        out.loc[idx, "declined"] = (e["declines"] > 0).to_numpy()
        out.loc[idx, "no_show"] = (e["no_shows"] > 0).to_numpy()
        out.loc[idx[~executed], "reason"] = e.loc[~executed, "reason"].to_numpy()
        # the last accepted assignment also counts for orders a courier took and then gave up on
        out.loc[idx[~executed], "assigned_min"] = e.loc[~executed, "assigned_min"].to_numpy(float)
    ci = np.flatnonzero(carrier)
    out.loc[ci, "delivered_min"] = slow_at[ci]
    out.loc[ci, "on_time"] = slow_at[ci] <= out.loc[ci, "due_min"].to_numpy(float) + 1e-9
    out.loc[ci, "trail_complete"] = u_gap[ci] >= params.tracking_gap_rate_fleet * len(("picked", "delivered"))
    returned = u_ret[ci] < params.return_rate
    out.loc[ci, "returned"] = returned
    out.loc[ci, "return_picked_on_time"] = returned & (u_ret_ok[ci] < sp.return_pickup_on_time)
    return out[list(OUTCOME_COLUMNS)]


__all__ = ["OUTCOME_COLUMNS", "ExecutionResult", "execute_day", "executed_plan", "execution_params"]
