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

    # ---- couriers in one place at a time (vectorised over all stops) ---------------------------
    st = st.sort_values(["courier", "trip", "seq"], kind="stable")
    known = st["courier"].map(cidx)
    for cid in sorted(set(st.loc[known.isna(), "courier"])):
        out.append(f"unknown courier {cid!r} in the executed stops")
    out.extend(_stops_problems(P, day, st[known.notna()].reset_index(drop=True), oidx, widx,
                               known[known.notna()].to_numpy(np.int64), exact))

    # ---- each delivered order: its courier, picked first, service time -----------------------
    drops = st[st["kind"] == "dropoff"]
    dup = drops["order"].duplicated()
    if dup.any():
        out.append(f"orders dropped off twice: {sorted(set(drops.loc[dup, 'order']))[:5]}")
        drops = drops[~dup]
    done = o[o["state"].isin(["delivered", "damaged"])]
    j = done.merge(drops[["order", "courier", "arrive_min", "depart_min"]], on="order", how="left",
                   suffixes=("", "_drop"), indicator=True)
    svc = P.service[j["order"].map(oidx).to_numpy(np.int64)] if len(j) else np.zeros(0)
    missing = (j["_merge"] == "left_only").to_numpy()
    arrive, depart = j["arrive_min"].to_numpy(float), j["depart_min"].to_numpy(float)
    for k in range(len(j)):  # only the rows that fail are formatted
        oid, state = j["order"].iat[k], j["state"].iat[k]
        if missing[k]:
            out.append(f"order {oid}: {state} but no drop-off stop was executed")
            continue
        if j["courier_drop"].iat[k] != j["courier"].iat[k]:
            out.append(f"order {oid}: accepted by {j['courier'].iat[k]} but dropped off by {j['courier_drop'].iat[k]}")
        if not j["picked_min"].iat[k] <= arrive[k] + TOL:
            out.append(f"order {oid}: dropped off before it was picked")
        if depart[k] - arrive[k] < float(svc[k]) - TOL:
            out.append(f"order {oid}: service at the customer shorter than {float(svc[k]):g} min")
        if abs(depart[k] - float(j["delivered_min"].iat[k])) > TOL:
            out.append(f"order {oid}: delivered_min differs from its drop-off stop")
    return out


def _stops_problems(P, day: ExecutedDay, st, oidx: dict, widx: dict, v: np.ndarray,  # type: ignore[no-untyped-def]
                    exact: bool) -> list[str]:
    """Courier continuity, leg times, capacity, ready and hand-over times of sorted stops."""
    out: list[str] = []
    n = len(st)
    if n == 0:
        return out
    cid = st["courier"].to_numpy(object)
    trip = st["trip"].to_numpy(np.int64)
    seq = st["seq"].to_numpy(np.int64)
    kind = st["kind"].to_numpy(object)
    loc = st["loc"].to_numpy(np.int64)
    arr = st["arrive_min"].to_numpy(float)
    dep = st["depart_min"].to_numpy(float)
    new_c = np.r_[True, v[1:] != v[:-1]]
    new_t = new_c | np.r_[True, trip[1:] != trip[:-1]]
    tid = np.cumsum(new_t) - 1  # trip number over all stops
    first = np.flatnonzero(new_t)
    last = np.r_[first[1:] - 1, n - 1]
    # a trip begins with a start stop, after the previous trip ended, where it ended
    prev_end = np.where(new_c[first], -np.inf, np.r_[-np.inf, dep[last[:-1]]])
    prev_loc = np.where(new_c[first], P.start_loc[v[first]], np.r_[-1, loc[last[:-1]]])
    for k in np.flatnonzero(kind[first] != "start"):
        out.append(f"courier {cid[first[k]]} trip {trip[first[k]]}: does not begin with a start stop")
    for k in np.flatnonzero(arr[first] < prev_end - TOL):
        out.append(f"courier {cid[first[k]]} trip {trip[first[k]]}: starts at {arr[first[k]]:.2f} before its "
                   f"previous trip ended at {prev_end[k]:.2f}")
    for k in np.flatnonzero(loc[first] != prev_loc):
        out.append(f"courier {cid[first[k]]} trip {trip[first[k]]}: starts at location {loc[first[k]]}, "
                   f"but the courier was at {prev_loc[k]}")
    # legs inside a trip: after the last stop was left, no faster than the minimum travel time
    b = np.flatnonzero(~new_t)
    a_ = b - 1
    need = day.params.travel_min_factor * P.time_min[P.courier_profile[v[b]], loc[a_], loc[b]]
    for k in np.flatnonzero(arr[b] < dep[a_] - TOL):
        out.append(f"courier {cid[b[k]]} trip {trip[b[k]]}: stop {seq[b[k]]} reached before stop {seq[a_[k]]} was left")
    for k in np.flatnonzero(arr[b] - dep[a_] < need - TOL):
        out.append(f"courier {cid[b[k]]} trip {trip[b[k]]}: leg {seq[a_[k]]}->{seq[b[k]]} took "
                   f"{arr[b[k]] - dep[a_[k]]:.2f} min, faster than its minimum {need[k]:.2f}")
    for k in np.flatnonzero(dep < arr - TOL):
        out.append(f"courier {cid[k]} trip {trip[k]}: stop {seq[k]} left before it was reached")
    # the warehouse stop of each delivery trip: capacity, ready times, hand-over, off time
    pick = kind == "pickup"
    if not pick.any():
        return out
    ntrips = len(first)
    load = np.full(ntrips, -np.inf)
    np.maximum.at(load, tid[pick], st["load_m3"].to_numpy(float)[pick])
    first_pick = np.full(ntrips, -1)
    pi = np.flatnonzero(pick)
    first_pick[tid[pi[::-1]]] = pi[::-1]  # the earliest pickup row of each trip wins
    order_i = st["order"].map(oidx)
    drop = (kind == "dropoff") & order_i.notna().to_numpy()
    ready = np.full(ntrips, -np.inf)
    np.maximum.at(ready, tid[drop], P.ready[order_i[drop].to_numpy(np.int64)])
    wh = st["warehouse"].map(widx)
    for t in np.flatnonzero(first_pick >= 0):
        r = first_pick[t]
        c, tr, cap = cid[r], trip[r], float(P.capacity[v[r]])
        if load[t] > cap + TOL:
            out.append(f"courier {c} trip {tr}: load {load[t]:.4f} m3 over its capacity {cap:.4f}")
        if not np.isfinite(ready[t]):
            continue
        left = dep[r]
        if left < ready[t] - TOL:
            out.append(f"courier {c} trip {tr}: left the warehouse at {left:.2f} before its orders were ready "
                       f"({ready[t]:.2f})")
        w = wh.iat[r]
        if w == w:  # a known warehouse
            handover = float(P.pickup_service[int(w)])
            earliest = max(arr[r], ready[t]) + handover
            if left < earliest - TOL:
                out.append(f"courier {c} trip {tr}: left the warehouse at {left:.2f}, before "
                           f"{earliest:.2f} (arrival or ready time + {handover:g} min pickup service)")
            if exact and left - handover > float(P.pickup_end[v[r]]) + TOL:
                out.append(f"courier {c} trip {tr}: started its pickup at {left - handover:.2f}, "
                           f"after its last pickup minute {float(P.pickup_end[v[r]]):.2f}")
    return out


def assert_execution_ok(day: ExecutedDay) -> None:
    """Raise ``AssertionError`` listing the violations (for tests and benchmarks)."""
    problems = check_execution(day)
    if problems:
        raise AssertionError("executed day is inconsistent:\n  " + "\n  ".join(problems[:20]))


__all__ = ["assert_execution_ok", "check_execution"]

