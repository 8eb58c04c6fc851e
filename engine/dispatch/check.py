"""Independent feasibility checker of dispatch results.

Recomputes every trip from the problem arrays and the stop sequence in ``result.routes``
(nothing from solver internals, and not the code that built the result): every order
exactly once or unserved with a reason; one warehouse per trip and the right one; special
goods only on allowed couriers; capacity; departure after the orders are ready and handed over (pickup service);
no pickup started after the courier's ``pickup_end``; service
before the deadline; shifts, availability and maximum working time; trips of a courier
in time order, each starting where the previous one ended.

:func:`check_solution` gives the violations as readable lines; :func:`find_violations` gives
the same as :class:`Violation` records (courier, trip, order where one is concerned), and
:class:`PlanCheckError` is what the pipeline raises when a plan it is about to execute fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from engine.dispatch.problem import DispatchProblem
from engine.dispatch.result import DispatchResult
from engine.errors import EngineError

TOL = 1e-4


@dataclass(frozen=True, slots=True)
class Violation:
    """One violated constraint: who and what it concerns (``None`` = not one courier/order)."""

    message: str
    courier: str | None = None
    trip: int | None = None
    order: str | None = None

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class PlanCheckError(EngineError):
    """A dispatch plan failed the independent feasibility checker; ``violations`` lists why."""

    def __init__(self, violations: Sequence[Violation], *, what: str = "the dispatch plan") -> None:
        self.violations = tuple(violations)
        head = (f"{what} fails the independent feasibility check with {len(self.violations)} "
                "violation(s); it was not simulated and nothing was written")
        shown = "\n".join(f"  - {v}" for v in self.violations[:20])
        more = f"\n  ... and {len(self.violations) - 20} more" if len(self.violations) > 20 else ""
        super().__init__(f"{head}\n{shown}{more}")


def check_solution(problem: DispatchProblem, result: DispatchResult) -> list[str]:
    """Every violated constraint as a readable message; empty list = feasible."""
    return [v.message for v in find_violations(problem, result)]


def _duplicated(values: np.ndarray) -> np.ndarray:
    """True where a value already appeared earlier in ``values`` (like ``Series.duplicated``)."""
    seen: set[object] = set()
    out = np.zeros(len(values), bool)
    for i, x in enumerate(values):
        if x in seen:
            out[i] = True
        else:
            seen.add(x)
    return out


def _missing(values: np.ndarray) -> np.ndarray:
    """True where an object array holds None/NaN/NA."""
    return np.asarray(pd.isna(values), dtype=bool)


def find_violations(problem: DispatchProblem, result: DispatchResult) -> list[Violation]:
    """Every violated constraint as a :class:`Violation`; empty list = feasible.

    The tables are read once into arrays; the per-trip time recursion (each stop's start
    depends on the one before) runs on plain floats, everything else over whole arrays.
    Lists of ids in messages are sorted by their text, so a missing id (a delivery stop
    without an order) is reported instead of breaking the sort.
    """
    P = problem
    out: list[Violation] = []

    def add(message: str, courier: object = None, trip: object = None, order: object = None) -> None:
        out.append(Violation(message, None if courier is None else str(courier),
                             None if trip is None else int(trip), None if order is None else str(order)))

    a, r = result.assignments, result.routes
    oidx = {o: i for i, o in enumerate(P.order_ids)}
    cidx = {c: i for i, c in enumerate(P.courier_ids)}
    widx = {w: i for i, w in enumerate(P.warehouse_ids)}

    a_order = a["order"].to_numpy(dtype=object)
    a_status = a["status"].to_numpy(dtype=object)
    a_reason = a["reason"].to_numpy(dtype=object)
    a_courier = a["courier"].to_numpy(dtype=object)
    a_late = a["late_min"].to_numpy()
    r_courier = r["courier"].to_numpy(dtype=object)
    r_kind = r["kind"].to_numpy(dtype=object)
    r_order = r["order"].to_numpy(dtype=object)

    # ---- every order once ----------------------------------------------------------------
    dup = _duplicated(a_order)
    if dup.any():
        add(f"orders listed twice in assignments: {sorted(a_order[dup].tolist(), key=str)[:5]}")
    listed = set(a_order.tolist())
    if listed != set(P.order_ids):
        miss = sorted(set(P.order_ids) - listed, key=str)[:5]
        extra = sorted(listed - set(P.order_ids), key=str)[:5]
        add(f"assignments do not match the orders (missing {miss}, unknown {extra})")
    served = a_status == "served"
    unserved = a_status == "unserved"
    bad_status = ~(served | unserved)
    if bad_status.any():
        add(f"unknown status values: {sorted(set(a_status[bad_status].tolist()), key=str)}")
    no_reason = unserved & (_missing(a_reason) | (a_reason == ""))
    if no_reason.any():
        add(f"unserved orders without a reason: {a_order[no_reason].tolist()[:5]}")
    is_dl = r_kind == "delivery"
    dl_order, dl_courier = r_order[is_dl], r_courier[is_dl]
    dl_dup = _duplicated(dl_order)
    if dl_dup.any():
        add(f"orders delivered twice: {sorted(set(dl_order[dl_dup].tolist()), key=str)[:5]}")
    served_ids = set(a_order[served].tolist())
    dl_set = set(dl_order.tolist())
    if dl_set != served_ids:
        add("served orders and delivery stops differ: "
            f"{sorted(dl_set ^ served_ids, key=str)[:5]}")
    courier_of = dict(zip(a_order.tolist(), a_courier.tolist(), strict=True))
    late_of = dict(zip(a_order.tolist(), a_late.tolist(), strict=True))
    for o, c in zip(dl_order.tolist(), dl_courier.tolist(), strict=True):
        if o in courier_of and courier_of[o] != c:
            add(f"order {o}: assignment says {courier_of[o]}, route says {c}", courier=c, order=o)

    # ---- per courier, trip by trip -------------------------------------------------------
    if not len(r):
        return out
    codes, uniques = pd.factorize(r_courier, sort=False)  # in order of appearance; missing -> -1
    trip_col = r["trip"].to_numpy()
    keep = (codes >= 0) & ~_missing(trip_col)
    rows = np.flatnonzero(keep)
    rows = rows[np.lexsort((r["seq"].to_numpy()[rows], trip_col[rows], codes[rows]))]
    kinds_all = r_kind[rows].tolist()
    ckind_all = r["courier_kind"].to_numpy(dtype=object)[rows]
    order_all = r_order[rows].tolist()
    arrive_all = r["arrive_min"].to_numpy(dtype=float)[rows].tolist()
    depart_all = r["depart_min"].to_numpy(dtype=float)[rows].tolist()
    loc_all = r["loc"].to_numpy()[rows].tolist() if "loc" in r.columns else None
    wh_all = r["warehouse"].to_numpy(dtype=object)[rows].tolist() if "warehouse" in r.columns else None
    code_s, trip_s = codes[rows], trip_col[rows]
    cut = np.flatnonzero((np.diff(code_s) != 0) | (trip_s[1:] != trip_s[:-1])) + 1
    bounds = np.concatenate(([0], cut, [len(rows)])).tolist()
    trips_by_code: dict[int, list[tuple[object, int, int]]] = {}
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        trips_by_code.setdefault(int(code_s[lo]), []).append((trip_s[lo], lo, hi))

    for code, trips in sorted(trips_by_code.items()):
        cid = uniques[code]
        if cid not in cidx:
            add(f"unknown courier {cid!r} in routes", courier=cid)
            continue
        v = cidx[cid]
        p = int(P.courier_profile[v])
        T, kind = P.time_min[p], ("fleet" if p == 0 else "crowd")
        pos, clock, work = int(P.start_loc[v]), float(P.start_min[v]), 0.0
        for trip, lo, hi in trips:
            where = f"courier {cid} trip {trip}"
            at: dict[str, object] = {"courier": cid, "trip": trip}
            kinds = kinds_all[lo:hi]
            if len(kinds) < 4 or kinds[0] != "start" or kinds[1] != "pickup" or kinds[-1] != "end" \
                    or any(k != "delivery" for k in kinds[2:-1]):
                add(f"{where}: stops must be start, pickup, one or more deliveries, end; got {kinds}", **at)
                continue
            if (ckind_all[lo:hi] != kind).any():
                add(f"{where}: courier_kind does not match the courier", **at)
            s_loc = int(loc_all[lo]) if loc_all is not None else pos
            if s_loc != pos:
                add(f"{where}: starts at location {s_loc}, but the courier is at {pos}", **at)
            t0 = depart_all[lo]
            if t0 < clock - TOL:
                add(f"{where}: starts at {t0:.2f} before the courier is free at {clock:.2f}", **at)
            t0 = max(t0, clock)
            if wh_all is None:
                raise KeyError("warehouse")
            w_id = wh_all[lo + 1]
            if w_id not in widx:
                add(f"{where}: pickup at unknown warehouse {w_id!r}", **at)
                continue
            w = widx[w_id]
            if P.courier_warehouse[v] >= 0 and w != P.courier_warehouse[v]:
                add(f"{where}: picks up at {w_id}, courier belongs to {P.warehouse_ids[P.courier_warehouse[v]]}", **at)
            wl = int(P.warehouse_loc[w])
            orders = [oidx.get(o, -1) for o in order_all[lo + 2:hi - 1]]
            if min(orders, default=0) < 0:
                add(f"{where}: unknown order ids", **at)
                continue
            orders_a = np.asarray(orders, dtype=int)
            wrong_wh = orders_a[P.order_wh[orders_a] != w]
            if len(wrong_wh):
                add(f"{where}: orders {[P.order_ids[o] for o in wrong_wh][:5]} are not picked at {w_id}", **at)
            if not P.may_carry_special[v] and P.special[orders_a].any():
                add(f"{where}: special goods {[P.order_ids[o] for o in orders_a[P.special[orders_a]]][:5]} on a courier not allowed to carry them", **at)
            load = float(P.size[orders_a].sum())
            if load > P.capacity[v] + TOL:
                add(f"{where}: load {load:.4f} m3 exceeds capacity {P.capacity[v]:.4f}", **at)
            at_wh = t0 + float(T[pos, wl])
            service = float(P.pickup_service[w])
            earliest = max(at_wh, float(P.ready[orders_a].max())) + service
            dep = depart_all[lo + 1]
            if dep < earliest - TOL:
                add(f"{where}: leaves the warehouse at {dep:.2f}, before {earliest:.2f} "
                    f"(arrival there or an order's ready time, + {service:g} min pickup service)", **at)
            dep = max(dep, earliest)
            pick = dep - service  # the pickup starts at the latest this much before leaving
            if pick > P.pickup_end[v] + TOL:
                add(f"{where}: starts its pickup at {pick:.2f}, after the courier's last pickup minute "
                    f"{P.pickup_end[v]:.2f}", **at)
            # the time recursion on plain floats: the same arithmetic, stop by stop
            o_loc = P.order_loc[orders_a].tolist()
            legs = T[[wl, *o_loc[:-1]], o_loc].tolist()
            opens = P.open_min[orders_a].tolist()
            dues = P.due[orders_a].tolist()
            services = P.service[orders_a].tolist()
            prev, clk = wl, dep
            for k, o in enumerate(orders):
                oid = P.order_ids[o]
                rep = arrive_all[lo + 2 + k]
                begin = max(clk + legs[k], opens[k])
                if rep < begin - TOL:
                    add(f"{where}: order {oid} reported at {rep:.2f}, earliest possible {begin:.2f}", **at, order=oid)
                late = begin - dues[k]
                if late > P.max_late_min + TOL:
                    add(f"{where}: order {oid} served at {begin:.2f}, after its deadline {dues[k]:.2f}", **at, order=oid)
                if late > TOL:
                    rep_late = late_of.get(oid, np.nan)
                    if not (pd.notna(rep_late) and rep_late >= late - TOL):
                        add(f"{where}: order {oid} is {late:.2f} min late but reported late {rep_late}", **at, order=oid)
                clk = begin + services[k]
                prev = o_loc[k]
            end_loc = int(P.end_loc[v])
            end = clk + (float(T[prev, end_loc]) if end_loc >= 0 else 0.0)
            if end > P.end_min[v] + TOL:
                add(f"{where}: ends at {end:.2f}, after the shift/availability end {P.end_min[v]:.2f}", **at)
            work += (end - pick) + (at_wh - t0)
            pos = end_loc if end_loc >= 0 else prev
            clock = end
        if work > P.max_work[v] + TOL:
            add(f"courier {cid}: works {work:.1f} min, more than its maximum {P.max_work[v]:.1f}", courier=cid)
    return out
