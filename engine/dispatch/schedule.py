"""Turning courier trips into times, loads, costs and the result tables.

Back-ends only choose *which orders, in which order, by whom*; the times and costs of a
plan are always recomputed here from the problem arrays, the same way for every back-end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.dispatch.problem import CROWD, FLEET, DispatchProblem
from engine.dispatch.result import ASSIGNMENT_COLUMNS, ROUTE_COLUMNS, DispatchResult, cost_breakdown
from engine.solver import SolveStats

EPS = 1e-6

# reasons an order is left unserved (stable strings, shown to planners)
R_DEADLINE = "deadline before ready time"
R_NO_COURIER = "no courier available at its warehouse"
R_SPECIAL = "special goods: no courier allowed to carry them"
R_SIZE = "larger than every courier's capacity"
R_REACH = "no courier can reach it before its deadline"
R_NOT_PLANNED = "not planned: couriers' capacity or time used up (penalty cheaper)"


@dataclass(frozen=True, slots=True)
class Trip:
    """One courier trip: start ─► warehouse ─► orders ─► end (indices into the problem)."""

    courier: int
    warehouse: int
    orders: tuple[int, ...]
    start_loc: int
    start_min: float
    trip_no: int = 1


def screen(problem: DispatchProblem) -> tuple[np.ndarray, np.ndarray]:
    """Which courier could serve which order alone on a direct trip, and why not.

    Returns ``cand`` (n × m bool) and ``reason`` (n, object: "" when some courier can).
    Vectorised over orders × couriers.
    """
    P = problem
    n, m = P.n_orders, P.n_couriers
    reason = np.full(n, "", dtype=object)
    if n == 0:
        return np.zeros((0, m), bool), reason
    if m == 0:
        reason[:] = R_NO_COURIER
        bad = P.due < P.ready - EPS
        reason[bad] = R_DEADLINE
        return np.zeros((n, 0), bool), reason
    same_wh, special_ok, size_ok = _may_carry(P)
    prof, reach, pick, begin = _alone(P)
    reach_km_ok = np.isfinite(reach)
    time_ok = (begin <= P.due[:, None] + P.max_late_min + EPS) & (pick <= P.pickup_end[None, :] + EPS)
    done = begin + P.service[:, None]
    back = np.where(P.end_loc[None, :] >= 0,
                    P.time_min[prof, P.order_loc[:, None], np.maximum(P.end_loc, 0)[None, :]], 0.0)
    shift_ok = done + back <= P.end_min[None, :] + EPS
    work_ok = (done + back - pick) + reach <= P.max_work[None, :] + EPS
    cand = same_wh & special_ok & size_ok & time_ok & shift_ok & work_ok & reach_km_ok
    none = ~cand.any(axis=1)
    # the most specific reason first: walk from general to specific, later wins
    reason[none] = R_REACH
    reason[none & ~(same_wh & special_ok & size_ok).any(axis=1)] = R_SIZE
    reason[none & ~(same_wh & special_ok).any(axis=1)] = R_SPECIAL
    reason[none & ~same_wh.any(axis=1)] = R_NO_COURIER
    reason[none & (P.due < P.ready - EPS)] = R_DEADLINE
    return cand, reason


def _may_carry(P: DispatchProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, m) masks: the courier works at the order's warehouse (or at none yet), may carry its
    special goods, has room for it."""
    cw = P.courier_warehouse
    same_wh = (cw[None, :] == P.order_wh[:, None]) | (cw[None, :] < 0)
    special_ok = ~P.special[:, None] | P.may_carry_special[None, :]
    size_ok = P.size[:, None] <= P.capacity[None, :] + EPS
    return same_wh, special_ok, size_ok


def _alone(P: DispatchProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each (order, courier) pair as a trip of its own: the courier's profile row (1, m), its
    ride to the order's warehouse, the pickup start and the service start at the customer (n, m)."""
    prof = P.courier_profile[None, :]
    wloc = P.warehouse_loc[P.order_wh]  # (n,)
    reach = P.time_min[prof, P.start_loc[None, :], wloc[:, None]]  # (n, m)
    pick = np.maximum(P.start_min[None, :] + reach, P.ready[:, None])  # the pickup starts
    depart = pick + P.pickup_service[P.order_wh][:, None]
    leg = P.time_min[prof, wloc[:, None], P.order_loc[:, None]]
    return prof, reach, pick, np.maximum(depart + leg, P.open_min[:, None])


def earliest_begin(P: DispatchProblem) -> np.ndarray:
    """(n,) the soonest minute any courier of ``P`` could begin each order on a trip of its own
    (same warehouse, capacity, special goods and last pickup as :func:`screen`; inf: none)."""
    if P.n_orders == 0 or P.n_couriers == 0:
        return np.full(P.n_orders, np.inf)
    same_wh, special_ok, size_ok = _may_carry(P)
    _, _, pick, begin = _alone(P)
    ok = same_wh & special_ok & size_ok & (pick <= P.pickup_end[None, :] + EPS)
    return np.where(ok, begin, np.inf).min(axis=1)


@dataclass(slots=True)
class _TripEval:
    rows: list[dict[str, object]]
    km: float
    work_min: float
    end_min: float
    end_loc: int
    depart: float  # leaves the warehouse (pickup start + pickup service)
    begins: list[float]
    pickup_start: float = 0.0  # max(arrival at the warehouse, latest ready time)


def evaluate_trip(P: DispatchProblem, t: Trip) -> _TripEval:
    """Times, loads and distances of one trip.

    The courier rides to the warehouse, starts the pickup at max(arrival, latest ready time
    of the trip's orders), leaves ``pickup_service`` minutes later, and serves the orders in
    sequence (each service starting no earlier than the order's ``open_min``). Work counts the
    ride to the warehouse and everything from the pickup start on, not waiting for orders.
    """
    v, p = t.courier, int(P.courier_profile[t.courier])
    T, D = P.time_min[p], P.dist_km[p]
    wl = int(P.warehouse_loc[t.warehouse])
    cid, kind = P.courier_ids[v], ("fleet" if p == FLEET else "crowd")
    orders = list(t.orders)
    at_wh = t.start_min + T[t.start_loc, wl]
    km = float(D[t.start_loc, wl])
    pick = max(at_wh, float(P.ready[orders].max()) if orders else at_wh)  # the pickup starts
    depart = pick + float(P.pickup_service[t.warehouse])
    load = float(P.size[orders].sum())
    base = {"courier": cid, "courier_kind": kind, "trip": t.trip_no}
    rows: list[dict[str, object]] = [
        {**base, "seq": 0, "kind": "start", "order": None, "warehouse": None, "loc": t.start_loc,
         "arrive_min": t.start_min, "depart_min": t.start_min, "load_m3": 0.0, "km_from_prev": 0.0},
        {**base, "seq": 1, "kind": "pickup", "order": None, "warehouse": P.warehouse_ids[t.warehouse],
         "loc": wl, "arrive_min": at_wh, "depart_min": depart, "load_m3": load,
         "km_from_prev": float(D[t.start_loc, wl])},
    ]
    prev, clock, begins = wl, depart, []
    for k, o in enumerate(orders):
        loc = int(P.order_loc[o])
        arrive = clock + T[prev, loc]
        begin = max(arrive, float(P.open_min[o]))
        clock = begin + float(P.service[o])
        load -= float(P.size[o])
        km += float(D[prev, loc])
        rows.append({**base, "seq": k + 2, "kind": "delivery", "order": P.order_ids[o], "warehouse": None,
                     "loc": loc, "arrive_min": begin, "depart_min": clock, "load_m3": max(load, 0.0),
                     "km_from_prev": float(D[prev, loc])})
        begins.append(begin)
        prev = loc
    end_loc = int(P.end_loc[v])
    if end_loc >= 0:
        leg_km, end = float(D[prev, end_loc]), clock + T[prev, end_loc]
    else:  # free end: the trip ends where the last delivery is
        leg_km, end, end_loc = 0.0, clock, prev
    km += leg_km
    rows.append({**base, "seq": len(orders) + 2, "kind": "end", "order": None, "warehouse": None,
                 "loc": end_loc, "arrive_min": end, "depart_min": end, "load_m3": 0.0, "km_from_prev": leg_km})
    work = (end - pick) + (at_wh - t.start_min)  # waiting for ready orders is not work
    return _TripEval(rows, km, work, end, end_loc, depart, begins, pick)


def build_result(
    P: DispatchProblem,
    trips: Sequence[Trip],
    stats: SolveStats,
    *,
    reasons: dict[int, str] | None = None,
    meta: dict[str, object] | None = None,
) -> DispatchResult:
    """Assemble a :class:`DispatchResult` from trips; unlisted orders become unserved."""
    reasons = reasons or {}
    n = P.n_orders
    status = np.array(["unserved"] * n, dtype=object)
    courier = np.full(n, None, dtype=object)
    ckind = np.full(n, None, dtype=object)
    trip_no = np.full(n, np.nan)
    seq = np.full(n, np.nan)
    depart = np.full(n, np.nan)
    arrive = np.full(n, np.nan)
    route_rows: list[dict[str, object]] = []
    used: set[int] = set()
    km_v = np.zeros(P.n_couriers)
    work_v = np.zeros(P.n_couriers)
    deliveries_v = np.zeros(P.n_couriers)
    for t in trips:
        if not t.orders:
            continue
        ev = evaluate_trip(P, t)
        route_rows.extend(ev.rows)
        used.add(t.courier)
        km_v[t.courier] += ev.km
        work_v[t.courier] += ev.work_min
        deliveries_v[t.courier] += len(t.orders)
        kind = "fleet" if P.courier_profile[t.courier] == FLEET else "crowd"
        for k, (o, b) in enumerate(zip(t.orders, ev.begins, strict=True)):
            status[o] = "served"
            courier[o] = P.courier_ids[t.courier]
            ckind[o] = kind
            trip_no[o] = t.trip_no
            seq[o] = k + 1
            depart[o] = ev.depart
            arrive[o] = b
    late = np.where(np.isnan(arrive), np.nan, np.maximum(arrive - P.due, 0.0))
    reason = np.array([reasons.get(i, R_NOT_PLANNED) if status[i] == "unserved" else "" for i in range(n)],
                      dtype=object)
    assignments = pd.DataFrame({
        "order": list(P.order_ids), "status": status, "courier": courier, "courier_kind": ckind,
        "warehouse": [P.warehouse_ids[w] for w in P.order_wh], "trip": pd.array(trip_no, dtype="Int64") if n else [],
        "stop_seq": pd.array(seq, dtype="Int64") if n else [], "depart_min": depart, "arrive_min": arrive,
        "due_min": P.due, "late_min": late, "reason": reason,
    }, columns=ASSIGNMENT_COLUMNS)
    routes = pd.DataFrame(route_rows, columns=[*ROUTE_COLUMNS, "warehouse", "loc"])
    if len(routes):
        routes["lat"] = P.loc_lat[routes["loc"].to_numpy(int)]
        routes["lon"] = P.loc_lon[routes["loc"].to_numpy(int)]
    served = status == "served"
    crowd = P.courier_profile == CROWD
    used_mask = np.zeros(P.n_couriers, bool)
    used_mask[list(used)] = True
    per_delivery, top_up = P.pay_parts(deliveries_v)
    cost = cost_breakdown(
        fixed=float(P.fixed_cost[used_mask].sum()),
        distance=float((P.cost_per_km * km_v).sum()),
        time=float((P.cost_per_hour * work_v / 60.0).sum()),
        per_delivery=per_delivery, guarantee=top_up,
        unserved=float(P.penalty[~served].sum()),
        lateness=float(np.nansum(P.late_weight * np.nan_to_num(late))),
    )
    m = dict(meta or {})
    m.setdefault("distance_km", float(km_v.sum()))
    m.setdefault("couriers_used", int(used_mask.sum()))
    m.setdefault("crowd_used", int((used_mask & crowd).sum()))
    m.setdefault("work_min", float(work_v.sum()))
    m.setdefault("expected_decline_cost",
                 float(((1 - P.accept_prob) * P.decline_cost * deliveries_v)[crowd].sum()))
    return DispatchResult(assignments=assignments, routes=routes, cost=cost, stats=stats, problem=P, meta=m)


def trips_from_sequences(P: DispatchProblem, seqs: Sequence[Sequence[int]]) -> list[Trip]:
    """One trip per courier from order sequences (static problems)."""
    out = []
    for v, s in enumerate(seqs):
        if len(s):
            out.append(Trip(v, int(P.courier_warehouse[v]) if P.courier_warehouse[v] >= 0 else int(P.order_wh[s[0]]),
                            tuple(int(o) for o in s), int(P.start_loc[v]), float(P.start_min[v])))
    return out
