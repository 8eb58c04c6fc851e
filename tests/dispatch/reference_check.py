"""The feasibility checker's earlier pandas implementation, kept as a reference for tests.

tests/dispatch/test_checker_fast.py asserts the vectorised :func:`engine.dispatch.check.find_violations`
finds the same violations, in the same order, with the same messages, on tampered plans.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.dispatch.check import TOL, Violation
from engine.dispatch.problem import DispatchProblem
from engine.dispatch.result import DispatchResult


def reference_violations(problem: DispatchProblem, result: DispatchResult) -> list[Violation]:
    """The checker as it was before it was vectorised (pandas groupby, row by row)."""
    P = problem
    out: list[Violation] = []

    def add(message: str, courier: object = None, trip: object = None, order: object = None) -> None:
        out.append(Violation(message, None if courier is None else str(courier),
                             None if trip is None else int(trip), None if order is None else str(order)))

    a, r = result.assignments, result.routes
    oidx = {o: i for i, o in enumerate(P.order_ids)}
    cidx = {c: i for i, c in enumerate(P.courier_ids)}
    widx = {w: i for i, w in enumerate(P.warehouse_ids)}

    # ---- every order once ----------------------------------------------------------------
    if a["order"].duplicated().any():
        add(f"orders listed twice in assignments: {sorted(a.loc[a['order'].duplicated(), 'order'])[:5]}")
    listed = set(a["order"])
    if listed != set(P.order_ids):
        miss = sorted(set(P.order_ids) - listed)[:5]
        extra = sorted(listed - set(P.order_ids))[:5]
        add(f"assignments do not match the orders (missing {miss}, unknown {extra})")
    bad_status = ~a["status"].isin(["served", "unserved"])
    if bad_status.any():
        add(f"unknown status values: {sorted(set(a.loc[bad_status, 'status']))}")
    unserved = a[a["status"] == "unserved"]
    if (unserved["reason"].fillna("") == "").any():
        add(f"unserved orders without a reason: {list(unserved.loc[unserved['reason'].fillna('') == '', 'order'])[:5]}")
    dl = r[r["kind"] == "delivery"]
    if dl["order"].duplicated().any():
        add(f"orders delivered twice: {sorted(set(dl.loc[dl['order'].duplicated(), 'order']))[:5]}")
    served_ids = set(a.loc[a["status"] == "served", "order"])
    if set(dl["order"]) != served_ids:
        add("served orders and delivery stops differ: "
            f"{sorted(set(dl['order']) ^ served_ids)[:5]}")
    by_order = a.set_index("order")
    for row in dl.itertuples(index=False):
        if row.order in by_order.index and by_order.at[row.order, "courier"] != row.courier:
            add(f"order {row.order}: assignment says {by_order.at[row.order, 'courier']}, route says {row.courier}",
                courier=row.courier, order=row.order)

    # ---- per courier, trip by trip -------------------------------------------------------
    for cid, g in r.groupby("courier", sort=False):
        if cid not in cidx:
            add(f"unknown courier {cid!r} in routes", courier=cid)
            continue
        v = cidx[cid]
        p = int(P.courier_profile[v])
        T, kind = P.time_min[p], ("fleet" if p == 0 else "crowd")
        pos, clock, work = int(P.start_loc[v]), float(P.start_min[v]), 0.0
        for trip, tg in g.sort_values(["trip", "seq"]).groupby("trip", sort=True):
            where = f"courier {cid} trip {trip}"
            at: dict[str, object] = {"courier": cid, "trip": trip}
            kinds = list(tg["kind"])
            if len(kinds) < 4 or kinds[0] != "start" or kinds[1] != "pickup" or kinds[-1] != "end" \
                    or any(k != "delivery" for k in kinds[2:-1]):
                add(f"{where}: stops must be start, pickup, one or more deliveries, end; got {kinds}", **at)
                continue
            if (tg["courier_kind"] != kind).any():
                add(f"{where}: courier_kind does not match the courier", **at)
            start = tg.iloc[0]
            s_loc = int(start["loc"]) if "loc" in tg.columns else pos
            if s_loc != pos:
                add(f"{where}: starts at location {s_loc}, but the courier is at {pos}", **at)
            t0 = float(start["depart_min"])
            if t0 < clock - TOL:
                add(f"{where}: starts at {t0:.2f} before the courier is free at {clock:.2f}", **at)
            t0 = max(t0, clock)
            w_id = tg.iloc[1]["warehouse"]
            if w_id not in widx:
                add(f"{where}: pickup at unknown warehouse {w_id!r}", **at)
                continue
            w = widx[w_id]
            if P.courier_warehouse[v] >= 0 and w != P.courier_warehouse[v]:
                add(f"{where}: picks up at {w_id}, courier belongs to {P.warehouse_ids[P.courier_warehouse[v]]}", **at)
            wl = int(P.warehouse_loc[w])
            orders = [oidx.get(o, -1) for o in tg["order"].iloc[2:-1]]
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
            at_wh = t0 + T[pos, wl]
            service = float(P.pickup_service[w])
            earliest = max(at_wh, float(P.ready[orders_a].max())) + service
            dep = float(tg.iloc[1]["depart_min"])
            if dep < earliest - TOL:
                add(f"{where}: leaves the warehouse at {dep:.2f}, before {earliest:.2f} "
                    f"(arrival there or an order's ready time, + {service:g} min pickup service)", **at)
            dep = max(dep, earliest)
            pick = dep - service
            if pick > P.pickup_end[v] + TOL:
                add(f"{where}: starts its pickup at {pick:.2f}, after the courier's last pickup minute "
                    f"{P.pickup_end[v]:.2f}", **at)
            prev, clk = wl, dep
            for o, rep in zip(orders_a, tg["arrive_min"].iloc[2:-1], strict=True):
                loc = int(P.order_loc[o])
                begin = max(clk + T[prev, loc], float(P.open_min[o]))
                if float(rep) < begin - TOL:
                    add(f"{where}: order {P.order_ids[o]} reported at {float(rep):.2f}, earliest possible {begin:.2f}", **at, order=P.order_ids[o])
                late = begin - float(P.due[o])
                if late > P.max_late_min + TOL:
                    add(f"{where}: order {P.order_ids[o]} served at {begin:.2f}, after its deadline {P.due[o]:.2f}", **at, order=P.order_ids[o])
                rep_late = by_order.at[P.order_ids[o], "late_min"] if P.order_ids[o] in by_order.index else np.nan
                if late > TOL and not (pd.notna(rep_late) and rep_late >= late - TOL):
                    add(f"{where}: order {P.order_ids[o]} is {late:.2f} min late but reported late {rep_late}", **at, order=P.order_ids[o])
                clk = begin + float(P.service[o])
                prev = loc
            end_loc = int(P.end_loc[v])
            end = clk + (T[prev, end_loc] if end_loc >= 0 else 0.0)
            if end > P.end_min[v] + TOL:
                add(f"{where}: ends at {end:.2f}, after the shift/availability end {P.end_min[v]:.2f}", **at)
            work += (end - pick) + (at_wh - t0)
            pos = end_loc if end_loc >= 0 else prev
            clock = end
        if work > P.max_work[v] + TOL:
            add(f"courier {cid}: works {work:.1f} min, more than its maximum {P.max_work[v]:.1f}", courier=cid)
    return out
