"""Independent checker of an executed day (the log, not the plan).

Reads only the executed stops, the event log and the problem arrays, and reports every
violation as a readable message:

* every order ends in exactly one final state, and the log has exactly one final event
  for it (``delivered``, ``lost`` or ``moved_to_slow``);
* a courier is never in two places: its trips do not overlap in time, each starts where
  the previous one ended, and inside a trip every stop starts where and after the last ended;
* no leg is faster than its minimum travel time (``travel_min_factor`` × the matrix time);
* capacity holds when a trip leaves the warehouse;
* nobody leaves a warehouse before the orders on board are ready and handed over (the
  problem's ``pickup_service`` after max(arrival, latest ready time));
* when travel is executed exactly as planned (``travel_noise_cv`` 0), no pickup starts after
  the courier's ``pickup_end`` (with noisy travel a late arrival is the execution's, not a
  planning error);
* an order delivered was delivered by the courier the log says accepted it, after it was
  picked, with its service time.
"""

from __future__ import annotations

import numpy as np

from engine.simulate.execute import FINAL, ExecutedDay

TOL = 1e-6
FINAL_EVENTS = ("delivered", "lost", "moved_to_slow")


def check_execution(day: ExecutedDay) -> list[str]:
    """Every violation found in ``day`` (empty = the execution is consistent)."""
    P, out = day.problem, []
    o, ev, st = day.orders, day.events, day.stops
    oidx = {x: i for i, x in enumerate(P.order_ids)}
    cidx = {c: i for i, c in enumerate(P.courier_ids)}
    widx = {w: i for i, w in enumerate(P.warehouse_ids)}
    exact = day.params.travel_noise_cv == 0  # travel as planned: the plan's off-time rule must hold

    # ---- final states -------------------------------------------------------------------
    if len(o) != P.n_orders or set(o["order"]) != set(P.order_ids):
        out.append("the outcome table does not list every order exactly once")
    bad = ~o["state"].isin(FINAL)
    if bad.any():
        out.append(f"orders without a final state: {list(o.loc[bad, 'order'])[:5]}")
    fin = ev[ev["kind"].isin(FINAL_EVENTS)]
    counts = fin.groupby("order").size().reindex(list(P.order_ids), fill_value=0)
    if (counts != 1).any():
        out.append(f"orders with {sorted(set(counts[counts != 1]))} final events: {list(counts[counts != 1].index)[:5]}")
    by_state = o.set_index("order")["state"]
    last = fin.drop_duplicates("order", keep="last").set_index("order")["kind"]
    expect = {"delivered": "delivered", "damaged": "delivered", "lost": "lost", "slow": "moved_to_slow"}
    for oid, kind in last.items():
        if expect.get(by_state.get(oid, ""), "") != kind:
            out.append(f"order {oid}: state {by_state.get(oid)!r} but final event {kind!r}")

    # ---- couriers in one place at a time ----------------------------------------------------
    ready = P.ready
    for cid, g in st.groupby("courier", sort=False):
        v = cidx.get(cid)
        if v is None:
            out.append(f"unknown courier {cid!r} in the executed stops")
            continue
        prof = int(P.courier_profile[v])
        T = P.time_min[prof]
        prev_end, prev_loc = -np.inf, int(P.start_loc[v])
        for trip, s in g.groupby("trip", sort=True):
            s = s.sort_values("seq")
            first = s.iloc[0]
            if first["kind"] != "start":
                out.append(f"courier {cid} trip {trip}: does not begin with a start stop")
            if first["arrive_min"] < prev_end - TOL:
                out.append(f"courier {cid} trip {trip}: starts at {first['arrive_min']:.2f} before its previous trip "
                           f"ended at {prev_end:.2f}")
            if int(first["loc"]) != prev_loc:
                out.append(f"courier {cid} trip {trip}: starts at location {int(first['loc'])}, "
                           f"but the courier was at {prev_loc}")
            rows = list(s.itertuples(index=False))
            for a, b in zip(rows, rows[1:], strict=False):
                if b.arrive_min < a.depart_min - TOL:
                    out.append(f"courier {cid} trip {trip}: stop {b.seq} reached before stop {a.seq} was left")
                need = day.params.travel_min_factor * float(T[int(a.loc), int(b.loc)])
                if b.arrive_min - a.depart_min < need - TOL:
                    out.append(f"courier {cid} trip {trip}: leg {a.seq}->{b.seq} took "
                               f"{b.arrive_min - a.depart_min:.2f} min, faster than its minimum {need:.2f}")
            for r in rows:
                if r.depart_min < r.arrive_min - TOL:
                    out.append(f"courier {cid} trip {trip}: stop {r.seq} left before it was reached")
            pick = s[s["kind"] == "pickup"]
            drops = s[s["kind"] == "dropoff"]
            if len(pick):
                if float(pick["load_m3"].max()) > float(P.capacity[v]) + TOL:
                    out.append(f"courier {cid} trip {trip}: load {float(pick['load_m3'].max()):.4f} m3 over its "
                               f"capacity {float(P.capacity[v]):.4f}")
                idx = [oidx[x] for x in drops["order"] if x in oidx]
                left = float(pick["depart_min"].iloc[0])
                if idx and left < float(ready[idx].max()) - TOL:
                    out.append(f"courier {cid} trip {trip}: left the warehouse at {left:.2f} "
                               f"before its orders were ready ({float(ready[idx].max()):.2f})")
                w = widx.get(pick["warehouse"].iloc[0])
                if idx and w is not None:
                    handover = float(P.pickup_service[w])
                    earliest = max(float(pick["arrive_min"].iloc[0]), float(ready[idx].max())) + handover
                    if left < earliest - TOL:
                        out.append(f"courier {cid} trip {trip}: left the warehouse at {left:.2f}, before "
                                   f"{earliest:.2f} (arrival or ready time + {handover:g} min pickup service)")
                    if exact and left - handover > float(P.pickup_end[v]) + TOL:
                        out.append(f"courier {cid} trip {trip}: started its pickup at {left - handover:.2f}, "
                                   f"after its last pickup minute {float(P.pickup_end[v]):.2f}")
            prev_end = float(s["depart_min"].iloc[-1])
            prev_loc = int(s["loc"].iloc[-1])

    # ---- each delivered order: its courier, picked first, service time -----------------------
    drops = st[st["kind"] == "dropoff"].set_index("order")
    if drops.index.duplicated().any():
        out.append(f"orders dropped off twice: {sorted(set(drops.index[drops.index.duplicated()]))[:5]}")
        drops = drops[~drops.index.duplicated()]
    done = o[o["state"].isin(["delivered", "damaged"])]
    for row in done.itertuples(index=False):
        if row.order not in drops.index:
            out.append(f"order {row.order}: {row.state} but no drop-off stop was executed")
            continue
        d = drops.loc[row.order]
        if d["courier"] != row.courier:
            out.append(f"order {row.order}: accepted by {row.courier} but dropped off by {d['courier']}")
        if not row.picked_min <= d["arrive_min"] + TOL:
            out.append(f"order {row.order}: dropped off before it was picked")
        i = oidx[row.order]
        if d["depart_min"] - d["arrive_min"] < float(P.service[i]) - TOL:
            out.append(f"order {row.order}: service at the customer shorter than {float(P.service[i]):g} min")
        if abs(float(d["depart_min"]) - float(row.delivered_min)) > TOL:
            out.append(f"order {row.order}: delivered_min differs from its drop-off stop")
    return out


def assert_execution_ok(day: ExecutedDay) -> None:
    """Raise ``AssertionError`` listing the violations (for tests and benchmarks)."""
    problems = check_execution(day)
    if problems:
        raise AssertionError("executed day is inconsistent:\n  " + "\n  ".join(problems[:20]))


__all__ = ["assert_execution_ok", "check_execution"]

