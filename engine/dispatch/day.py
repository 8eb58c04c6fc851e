"""A whole day: the instance's couriers and orders, planned in waves or rolling re-plans.

``plan_day`` walks the day in epochs of ``period`` minutes. At each epoch ``t`` the pending
orders (created by ``t``, not yet committed) and the couriers free by then form a static
:class:`DispatchProblem` (a slice of the day problem: same locations and matrices, couriers
starting where and when they become free), solved by :func:`dispatch`.

* **waves** (``wave_min``): every planned trip is committed;
* **rolling** (``rolling``): only trips whose courier must set off before the next re-plan
  (to be at the warehouse when the trip leaves) are committed; the rest go back to the pool and are re-planned at the next epoch with the
  previous plan as a warm start. Committed trips are frozen (the courier is busy until the
  trip ends), so re-plans never move a committed stop.

Fleet couriers thus do several trips per shift, each starting at their warehouse; crowd
couriers continue from where their last trip ended, within their availability and maximum
working time. With the option ``simulate_declines`` (off by default: the simulation stage
draws declines when it executes the plan) crowd offers are accepted with the courier's
probability (seeded); a declined trip's orders are re-offered at the next epoch and that
courier is not asked again in it.
Plans price crowd work on expected cost: pay + (1 - p) × ``decline_cost`` per order.

A wave whose solve fails (the back-end raised a :class:`~engine.errors.BackendError`, or
returned status ``error``: a plan that still broke the checker after repair) commits nothing:
its orders stay in the pool and are offered again at the next epoch, like declined work. An
order left unserved whose last solve failed (none succeeded after it) gets the reason
``solve_error: ...``, unless it could not be served at all. Every solve is recorded in ``meta["solves"]`` (epoch,
back-end, status, error message, orders in, orders committed) and ``meta["errored_waves"]``
counts the failed ones; when every solve failed the day's status is ``error``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from engine.dispatch.build import assign_crowd_warehouses, problem_from_frames
from engine.dispatch.policy import (
    FOCUS_PER_COURIER,
    WAVE_ITERATIONS,
    WAVE_NO_IMPROVEMENT,
    EpochBudget,
    focus_orders,
)
from engine.dispatch.problem import CROWD, DispatchInputError, DispatchProblem
from engine.dispatch.result import DispatchResult
from engine.dispatch.schedule import (
    R_NOT_PLANNED,
    R_REACH,
    Trip,
    build_result,
    evaluate_trip,
    screen,
)
from engine.dispatch.solve import DISPATCH, dispatch
from engine.errors import BackendError
from engine.solver import Settings, SolveStats, SolveStatus, stopwatch

PIPELINE_COLUMNS = ("id", "created_min", "ready_min", "due_min", "size_m3", "lat", "lon", "warehouse")
R_BUSY = "no courier free in time to deliver it before its deadline"
DAY_OPTIONS = {"wave_time_per_order", "simulate_declines", "decline_cost", "focus_per_courier", "focus_lookahead_min",
               "wave_iterations", "wave_no_improvement", "late_window_min"}
R_SOLVE_ERROR = "solve_error: the last dispatch solve that had it pending failed"


def check_day_settings(settings: Settings) -> None:
    """Fail before any work on an unknown dispatch back-end or option name.

    Day planning accepts the back-end's declared options plus its own (``DAY_OPTIONS``); the
    :class:`~engine.errors.ConfigError` names the back-end, the bad key and the closest names.
    """
    DISPATCH.check(settings, extra=DAY_OPTIONS)


# ---- instance → tables ---------------------------------------------------------------------
def instance_couriers(instance: Any) -> pd.DataFrame:
    """Fleet and crowd tables of an instance as one courier table (build_problem's format)."""
    f, c = instance.fleet, instance.crowd
    fleet = pd.DataFrame({
        "id": f["id"].astype(str), "kind": "fleet", "warehouse": f["warehouse"].astype(str),
        "lat": np.nan, "lon": np.nan, "capacity_m3": f["capacity_m3"].astype(float),
        "start_min": f["shift_start_min"].astype(float), "end_min": f["shift_end_min"].astype(float),
        "max_work_min": np.inf, "fixed_cost": f["fixed_cost"].astype(float),
        "cost_per_km": f["cost_per_km"].astype(float), "cost_per_hour": f["cost_per_hour"].astype(float),
        "pay_per_delivery": 0.0, "may_carry_special": True, "acceptance_probability": 1.0,
    })
    crowd = pd.DataFrame({
        "id": c["id"].astype(str), "kind": "crowd", "warehouse": "",
        "lat": c["lat"].astype(float), "lon": c["lon"].astype(float), "capacity_m3": c["capacity_m3"].astype(float),
        "start_min": c["available_from_min"].astype(float), "end_min": c["available_to_min"].astype(float),
        "max_work_min": c["max_work_min"].astype(float), "fixed_cost": 0.0,
        "cost_per_km": c["pay_per_km"].astype(float), "cost_per_hour": 0.0,
        "pay_per_delivery": c["pay_per_delivery"].astype(float),
        "may_carry_special": c["may_carry_special"].astype(bool),
        "acceptance_probability": c["acceptance_probability"].astype(float),
    })
    return pd.concat([fleet, crowd], ignore_index=True)


def instance_orders(instance: Any, orders: pd.DataFrame) -> pd.DataFrame:
    """The pipeline's order table → build_problem's order table (penalties from the manifest)."""
    missing = [c for c in PIPELINE_COLUMNS if c not in orders.columns]
    if missing:
        raise DispatchInputError(f"dispatch orders: missing column(s) {', '.join(missing)}")
    d = instance.manifest.dispatch
    w = orders["weight"].astype(float) if "weight" in orders else pd.Series(1.0, index=orders.index)
    out = pd.DataFrame({
        "id": orders["id"].astype(str), "warehouse": orders["warehouse"].astype(str),
        "lat": orders["lat"].astype(float), "lon": orders["lon"].astype(float),
        "created_min": orders["created_min"].astype(float),
        "ready_min": orders["ready_min"].astype(float), "due_min": orders["due_min"].astype(float),
        "size_m3": orders["size_m3"].astype(float),
        "special": orders["special"].astype(bool) if "special" in orders else False,
        "service_min": instance.manifest.travel.service_min,
        "penalty": d.unserved_penalty * w, "late_weight": d.late_penalty_per_min * w,
    })
    return out.reset_index(drop=True)


def orders_for_day(instance: Any, day: Any) -> pd.DataFrame:
    """Realised orders of one day in the pipeline's format, each at its nearest forward warehouse.

    Used by ``nearstock dispatch`` when no stocking allocation is given: ready = created +
    picking, due = created + the segment's instant promise, size = unit volume × quantity,
    special = fragile or high value.
    """
    o = instance.orders
    day = pd.Timestamp(day)
    o = o[o["date"] == day]
    if o.empty:
        raise DispatchInputError(f"no orders on {day.date()} in instance {instance.name!r}")
    skus = instance.skus.set_index("id")
    seg = {s.id: s for s in instance.manifest.segments}
    fw = instance.forward_warehouses
    mins = instance.travel_model().minutes(o["lat"], o["lon"], fw["lat"], fw["lon"], "fleet")
    sku = skus.loc[o["sku"]]
    promise = o["segment"].map(lambda s: seg[s].promise_min if s in seg else instance.manifest.instant_tier.max_min)
    return pd.DataFrame({
        "id": o["id"].astype(str).to_numpy(), "created_min": o["created_min"].to_numpy(float),
        "ready_min": o["created_min"].to_numpy(float) + instance.manifest.planning.picking_min,
        "due_min": o["created_min"].to_numpy(float) + promise.to_numpy(float),
        "sku": o["sku"].to_numpy(), "quantity": o["quantity"].to_numpy(),
        "size_m3": sku["unit_volume_m3"].to_numpy(float) * o["quantity"].to_numpy(float),
        "lat": o["lat"].to_numpy(float), "lon": o["lon"].to_numpy(float), "zone": o["zone"].to_numpy(),
        "segment": o["segment"].to_numpy(),
        "weight": o["segment"].map(lambda s: seg[s].weight if s in seg else 1.0).to_numpy(float),
        "special": (sku["fragile"].to_numpy(bool) | sku["high_value"].to_numpy(bool)),
        "high_value": sku["high_value"].to_numpy(bool),
        "warehouse": fw["id"].to_numpy()[np.argmin(mins, axis=1)],
    })


def _decline_cost(instance: Any, settings: Settings | None) -> float:
    if settings is not None and settings.option("decline_cost") is not None:
        return float(settings.option("decline_cost"))
    return 0.25 * float(instance.manifest.dispatch.unserved_penalty)


def build_problem(
    instance: Any,
    orders: pd.DataFrame,
    *,
    start_min: float = 0,
    couriers_state: pd.DataFrame | None = None,
    assign_crowd: bool = True,
    settings: Settings | None = None,
) -> DispatchProblem:
    """One static problem: the instance's forward warehouses and couriers, these orders.

    ``couriers_state`` (optional) overrides courier rows by ``id``: ``lat``, ``lon`` (where it
    is), ``free_min`` (when it is free), ``work_used_min``; couriers not listed keep their
    instance position. Couriers are never earlier than ``start_min``.
    """
    wh = instance.forward_warehouses[["id", "lat", "lon"]]
    cour = instance_couriers(instance)
    if couriers_state is not None and len(couriers_state):
        st = couriers_state.set_index(couriers_state["id"].astype(str))
        idx = cour["id"].map(lambda i: i in st.index).to_numpy(bool)
        ids = cour.loc[idx, "id"]
        for col in ("lat", "lon"):
            if col in st:
                cour.loc[idx, col] = st.loc[ids, col].to_numpy(float)
        if "free_min" in st:
            cour.loc[idx, "start_min"] = np.maximum(cour.loc[idx, "start_min"], st.loc[ids, "free_min"].to_numpy(float))
        if "work_used_min" in st:
            cour.loc[idx, "max_work_min"] = cour.loc[idx, "max_work_min"] - st.loc[ids, "work_used_min"].to_numpy(float)
    cour["start_min"] = np.maximum(cour["start_min"].to_numpy(float), float(start_min))
    t = instance.manifest.travel
    P = problem_from_frames(wh, instance_orders(instance, orders), cour, circuity=t.circuity,
                            fleet_speed_kmh=t.fleet_speed_kmh, crowd_speed_kmh=t.crowd_speed_kmh,
                            service_min=t.service_min, decline_cost=_decline_cost(instance, settings),
                            pickup_service_min=instance.manifest.simulation.pickup_service_min,
                            plan_min=float(start_min), assign_crowd=assign_crowd,
                            name=instance.name, travel=instance.travel_model())
    return P


# ---- slicing the day problem ----------------------------------------------------------------
def subproblem(P: DispatchProblem, orders: np.ndarray, couriers: np.ndarray, *, start_loc: np.ndarray,
               start_min: np.ndarray, max_work: np.ndarray, fixed_cost: np.ndarray,
               warehouse: np.ndarray, plan_min: float) -> DispatchProblem:
    """The day problem restricted to some orders and couriers (locations and matrices shared)."""
    o, c = orders, couriers
    return replace(
        P, order_ids=tuple(P.order_ids[i] for i in o), order_loc=P.order_loc[o], order_wh=P.order_wh[o],
        ready=P.ready[o], due=P.due[o], size=P.size[o], service=P.service[o], special=P.special[o],
        penalty=P.penalty[o], open_min=P.open_min[o], late_weight=P.late_weight[o],
        courier_ids=tuple(P.courier_ids[i] for i in c), courier_profile=P.courier_profile[c],
        start_loc=start_loc, start_min=start_min, end_loc=P.end_loc[c], courier_warehouse=warehouse,
        capacity=P.capacity[c], end_min=P.end_min[c], max_work=max_work, fixed_cost=fixed_cost,
        cost_per_km=P.cost_per_km[c], cost_per_hour=P.cost_per_hour[c],
        pay_per_delivery=P.pay_per_delivery[c], may_carry_special=P.may_carry_special[c],
        accept_prob=P.accept_prob[c], plan_min=plan_min, meta={}, **P.couriers_sliced(c),
    )


def plan_day(
    instance: Any,
    orders: pd.DataFrame,
    settings: Settings | None = None,
    *,
    wave_min: float | None = None,
    rolling: float | None = None,
) -> DispatchResult:
    """Plan a whole day (see the module docstring); the result's ``problem`` is the day problem.

    Each epoch's solve is bounded as :class:`~engine.dispatch.policy.EpochBudget` says: with
    PyVRP by work (options ``wave_iterations``, default 500, and ``wave_no_improvement``, 150;
    5 × ``settings.time_limit`` is only a safety cap), so the same seed gives the same plan on any
    machine load; with OR-Tools, or ``wave_iterations = 0``, by ``0.01 + wave_time_per_order ×
    pending`` seconds (default 0.003), capped by ``settings.time_limit``.
    """
    settings = settings or Settings()
    check_day_settings(settings)
    extra = {k: v for k, v in settings.options.items() if k in DAY_OPTIONS}
    inner = settings.with_(options={k: v for k, v in settings.options.items() if k not in DAY_OPTIONS})
    P = build_problem(instance, orders, assign_crowd=False, settings=settings)
    return plan_problem_day(P, inner, period=float(rolling or wave_min or instance.manifest.dispatch.wave_min),
                            rolling=rolling is not None, created=instance_orders(instance, orders)["created_min"].to_numpy(float),
                            **extra)


def plan_problem_day(
    P: DispatchProblem,
    settings: Settings,
    *,
    period: float,
    rolling: bool,
    created: np.ndarray,
    wave_time_per_order: float = 0.003,
    simulate_declines: bool = False,
    decline_cost: float | None = None,
    focus_per_courier: int = FOCUS_PER_COURIER,
    focus_lookahead_min: float | None = None,
    wave_iterations: int = WAVE_ITERATIONS,
    wave_no_improvement: int = WAVE_NO_IMPROVEMENT,
    late_window_min: float = 0.0,
) -> DispatchResult:
    """:func:`plan_day` on a day problem whose crowd couriers have no fixed warehouse.

    Each epoch solves :func:`~engine.dispatch.policy.focus_orders`' part of it: the couriers
    free by the next epoch's end (``focus_lookahead_min`` after the next epoch, default one
    period) and each one's ``focus_per_courier`` soonest pending orders (0 turns it off).
    ``late_window_min`` is the executed day's (:func:`~engine.dispatch.policy.epoch_problem`):
    a plan has no late orders to bound, it leaves an order unserved at its promise.
    """
    del late_window_min  # accepted so that one options table serves planning and execution
    if not (period > 0 and math.isfinite(period)):
        raise DispatchInputError(f"re-plan period must be a positive number of minutes, got {period!r}")
    if decline_cost is not None:
        P = replace(P, decline_cost=float(decline_cost))
    budget = EpochBudget(float(wave_time_per_order), int(wave_iterations), int(wave_no_improvement))
    n, m = P.n_orders, P.n_couriers
    rng = np.random.default_rng(settings.seed)
    free_at = P.start_min.copy()
    pos = P.start_loc.copy()
    work_used = np.zeros(m)
    used = np.zeros(m, bool)
    n_trips = np.zeros(m, int)
    blocked_until = np.full(m, -np.inf)
    done = np.zeros(n, bool)
    reasons: dict[int, str] = {}
    trips: list[Trip] = []
    warm: dict[str, list[str]] = {}  # courier id -> order ids of its last uncommitted plan
    replans: list[dict[str, float]] = []
    statuses: list[SolveStatus] = []
    solves: list[dict[str, Any]] = []  # one record per wave solve, failed ones included
    hit_by_error = np.zeros(n, bool)  # orders that were pending in a failed solve
    backend = settings.backend or DISPATCH.default
    wall = 0.0
    if n == 0:
        t_end = t0 = 0.0
    else:
        t0 = math.floor(float(created.min()) / period) * period
        t_end = float(P.due.max())
    t = t0
    declines = 0
    while n and t <= t_end + period:
        # orders become visible at the first epoch at or after their creation
        visible = ~done & (created <= t + 1e-9)
        expired = visible & (P.due < t)
        for i in np.flatnonzero(expired):
            reasons.setdefault(int(i), "deadline passed before any courier could take it")
        pend = np.flatnonzero(visible & ~expired)
        if len(pend) == 0:
            t += period
            continue
        avail = (free_at < P.work_end) & (work_used < P.max_work) & (blocked_until <= t)
        cour = np.flatnonzero(avail)
        start = np.maximum(free_at[cour], t)
        wh = P.courier_warehouse[cour].copy()
        crowd = P.courier_profile[cour] == CROWD
        if crowd.any():
            pending_w = np.bincount(P.order_wh[pend], minlength=len(P.warehouse_ids)).astype(float)
            reach = P.time_min[CROWD][pos[cour[crowd]][:, None], P.warehouse_loc[None, :]]
            wh[crowd] = assign_crowd_warehouses(reach, start[crowd], P.work_end[cour[crowd]], pending_w)
        keep = wh >= 0
        cour, wh = cour[keep], wh[keep]
        if int(focus_per_courier) > 0:
            ahead = period if focus_lookahead_min is None else float(focus_lookahead_min)
            pend, cour, wh = focus_orders(P, pend, cour, wh, t=t, free_min=np.maximum(free_at, t), loc=pos,
                                          hard_due=P.due, per_courier=int(focus_per_courier),
                                          horizon_min=t + period + ahead)
        start = np.maximum(free_at[cour], t)
        sub = subproblem(P, pend, cour, start_loc=pos[cour], start_min=start,
                         max_work=P.max_work[cour] - work_used[cour],
                         fixed_cost=np.where(used[cour], 0.0, P.fixed_cost[cour]), warehouse=wh, plan_min=t)
        init = None
        if rolling and warm:
            oi = {o: i for i, o in enumerate(sub.order_ids)}
            init = [[oi[o] for o in warm.get(c, []) if o in oi] for c in sub.courier_ids]
        error = ""
        with stopwatch() as el:
            try:  # no process pools per wave
                res = dispatch(sub, budget.settings(settings, len(pend)), initial=init)
            except BackendError as exc:
                error = str(exc) or type(exc).__name__
        wall += el()
        if not error and res.stats.status == SolveStatus.ERROR:
            error = f"back-end returned status error: {res.stats.message}"
        if error:  # commit nothing; the orders stay pending for the next epoch
            statuses.append(SolveStatus.ERROR)
            hit_by_error[pend] = True
            warm = {}
            solves.append({"epoch_min": t, "backend": backend, "status": str(SolveStatus.ERROR),
                           "error": error, "orders_in": len(pend), "orders_committed": 0,
                           "couriers": len(cour), "seconds": el()})
            replans.append({"t": t, "pending": float(len(pend)), "couriers": float(len(cour)),
                            "committed": 0.0, "seconds": el()})
            t += period
            continue
        statuses.append(res.stats.status)
        hit_by_error[pend] = False  # solved again: what happens to them now is this solve's doing
        cand, why = screen(sub)
        for j, r in enumerate(why):
            if r:
                reasons[int(pend[j])] = str(r)
        # trips of this plan, in sub indices
        a = res.assignments
        served = a[a["status"] == "served"].sort_values(["courier", "stop_seq"])
        cid_to_sub = {c: j for j, c in enumerate(sub.courier_ids)}
        oid_to_sub = {o: j for j, o in enumerate(sub.order_ids)}
        warm = {}
        committed_here = 0
        lead = sub.reach_min() + sub.pickup_service[np.maximum(sub.courier_warehouse, 0)]  # ride there + hand-over
        for cid, g in served.groupby("courier", sort=False):
            j = cid_to_sub[cid]
            seq = [oid_to_sub[o] for o in g["order"]]
            v = int(cour[j])
            depart = float(g["depart_min"].iloc[0])
            if rolling and depart - lead[j] > t + period + 1e-9:
                warm[cid] = list(g["order"])  # re-planned next epoch, warm start
                continue
            if P.courier_profile[v] == CROWD and simulate_declines and rng.random() >= P.accept_prob[v]:
                declines += 1
                blocked_until[v] = t + period
                continue
            trip = Trip(v, int(wh[j]), tuple(int(pend[s]) for s in seq), int(pos[v]), float(start[j]),
                        trip_no=int(n_trips[v]) + 1)
            ev = evaluate_trip(P, trip)
            trips.append(trip)
            n_trips[v] += 1
            used[v] = True
            free_at[v] = ev.end_min
            pos[v] = ev.end_loc
            work_used[v] += ev.work_min
            done[list(trip.orders)] = True
            committed_here += len(trip.orders)
        replans.append({"t": t, "pending": float(len(pend)), "couriers": float(len(cour)),
                        "committed": float(committed_here), "seconds": el()})
        solves.append({"epoch_min": t, "backend": backend, "status": str(res.stats.status), "error": "",
                       "orders_in": len(pend), "orders_committed": committed_here, "couriers": len(cour),
                       "seconds": el()})
        t += period
    # reasons: what makes an order impossible at all (day level) beats what happened in a wave
    _, day_why = screen(P)
    for i in np.flatnonzero(~done):
        wave = R_SOLVE_ERROR if hit_by_error[i] else reasons.get(int(i), R_NOT_PLANNED)
        reasons[int(i)] = str(day_why[i]) or (R_BUSY if wave == R_REACH else wave)
    errored = [s for s in solves if s["error"]]
    status = SolveStatus.FEASIBLE
    if statuses and all(s == SolveStatus.ERROR for s in statuses):
        status = SolveStatus.ERROR
    elif statuses and all(s in (SolveStatus.NO_SOLUTION, SolveStatus.ERROR) for s in statuses):
        status = SolveStatus.NO_SOLUTION
    elif any(s == SolveStatus.TIME_LIMIT for s in statuses):
        status = SolveStatus.TIME_LIMIT
    rp = pd.DataFrame(replans, columns=["t", "pending", "couriers", "committed", "seconds"])
    failed = ""
    if errored:
        failed = (f", {len(errored)} of {len(solves)} solves failed "
                  f"(first at {errored[0]['epoch_min']:g} min: {errored[0]['error']})")
    stats = SolveStats(backend=backend, status=status, solve_seconds=wall,
                       message=f"{'rolling' if rolling else 'waves'} every {period:g} min: {len(rp)} re-plans, "
                               f"{declines} crowd offers declined{failed}")
    res = build_result(P, trips, stats, reasons={i: r for i, r in reasons.items() if not done[i]},
                       meta={"mode": "rolling" if rolling else "waves", "period_min": period,
                             "replans": int(len(rp)), "declines": declines,
                             "replan_seconds_max": float(rp["seconds"].max()) if len(rp) else 0.0,
                             "replan_seconds_mean": float(rp["seconds"].mean()) if len(rp) else 0.0,
                             "pending_max": int(rp["pending"].max()) if len(rp) else 0,
                             "replan_log": rp.to_dict(orient="list"),
                             "solves": solves, "errored_waves": len(errored)})
    obj = res.cost["total"] + float(res.meta.get("expected_decline_cost", 0.0))
    return replace(res, stats=replace(res.stats, objective=obj))


__all__ = ["R_SOLVE_ERROR", "build_problem", "check_day_settings", "instance_couriers", "instance_orders", "orders_for_day", "plan_day",
           "plan_problem_day", "subproblem"]
