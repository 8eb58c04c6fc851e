"""Experiments: synthetic peaks, the greedy baseline, service metrics, fleet vs crowd.

* :func:`synthetic_day` makes a seeded city: warehouses, orders arriving over a window,
  a fleet and a crowd pool (tables in :func:`problem_from_frames` format);
* :func:`greedy_dispatch` is the baseline of the rolling-mode study: each order, when it
  is ready, goes alone to the courier that can deliver it first (nearest available
  courier, waiting for one to free up if needed); it may be late;
* :func:`service_metrics` reports click-to-door time (p50/p95), on-time share, courier
  utilisation and cost of any day result.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from engine.dispatch.build import problem_from_frames
from engine.dispatch.problem import CROWD, DispatchProblem
from engine.dispatch.result import DispatchResult
from engine.dispatch.schedule import EPS, R_NO_COURIER, Trip, build_result, evaluate_trip
from engine.solver import SolveStats, SolveStatus, stopwatch


def synthetic_day(
    seed: int = 0, *, n_orders: int = 300, start_min: float = 600.0, window_min: float = 120.0,
    n_wh: int = 3, n_fleet: int = 9, n_crowd: int = 15, radius_km: float = 4.0, member_share: float = 0.3,
    special_share: float = 0.15,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A seeded synthetic city: (warehouses, orders with ``created_min``, couriers)."""
    rng = np.random.default_rng(seed)
    lat0, lon0 = 30.25, 120.15
    km_lat, km_lon = 1 / 111.0, 1 / (111.0 * np.cos(np.radians(lat0)))
    ang = 2 * np.pi * np.arange(n_wh) / max(n_wh, 1)
    ring = 0.0 if n_wh == 1 else radius_km * 1.2
    wh = pd.DataFrame({"id": [f"W{i + 1}" for i in range(n_wh)],
                       "lat": lat0 + ring * np.sin(ang) * km_lat, "lon": lon0 + ring * np.cos(ang) * km_lon})
    # arrivals: a peak shaped like a live-stream burst (denser in the middle of the window)
    created = np.sort(start_min + window_min * rng.beta(2.0, 2.0, n_orders))
    wi = rng.integers(0, n_wh, n_orders)
    r = radius_km * np.sqrt(rng.random(n_orders))
    th = 2 * np.pi * rng.random(n_orders)
    member = rng.random(n_orders) < member_share
    orders = pd.DataFrame({
        "id": [f"o{i + 1:05d}" for i in range(n_orders)], "warehouse": wh["id"].to_numpy()[wi],
        "lat": wh["lat"].to_numpy()[wi] + r * np.sin(th) * km_lat,
        "lon": wh["lon"].to_numpy()[wi] + r * np.cos(th) * km_lon,
        "created_min": created, "ready_min": created + 8.0, "due_min": created + np.where(member, 30.0, 60.0),
        "size_m3": rng.lognormal(np.log(0.006), 0.6, n_orders).clip(0.001, 0.05),
        "special": rng.random(n_orders) < special_share, "segment": np.where(member, "member", "standard"),
    })
    w = np.where(member, 3.0, 1.0)
    orders["penalty"] = 40.0 * w
    orders["late_weight"] = 0.5 * w
    fleet = pd.DataFrame({
        "id": [f"F{i + 1:03d}" for i in range(n_fleet)], "kind": "fleet",
        "warehouse": wh["id"].to_numpy()[np.arange(n_fleet) % n_wh], "capacity_m3": 0.15,
        "start_min": start_min - 30, "end_min": start_min + window_min + 150, "fixed_cost": 80.0,
        "cost_per_km": 0.4, "cost_per_hour": 30.0, "may_carry_special": True, "acceptance_probability": 1.0,
    })
    cr = radius_km * 1.5 * np.sqrt(rng.random(n_crowd))
    ct = 2 * np.pi * rng.random(n_crowd)
    crowd = pd.DataFrame({
        "id": [f"C{i + 1:03d}" for i in range(n_crowd)], "kind": "crowd",
        "lat": lat0 + cr * np.sin(ct) * km_lat, "lon": lon0 + cr * np.cos(ct) * km_lon,
        "capacity_m3": 0.05, "start_min": start_min + rng.uniform(-30, window_min * 0.5, n_crowd),
        "end_min": start_min + window_min + 120, "max_work_min": rng.choice([120.0, 180.0, 240.0], n_crowd),
        "pay_per_delivery": rng.uniform(6.0, 9.0, n_crowd).round(2), "cost_per_km": 0.8,
        "may_carry_special": rng.random(n_crowd) < 0.2,
        "acceptance_probability": rng.uniform(0.6, 0.95, n_crowd).round(2),
    })
    return wh, orders, pd.concat([fleet, crowd], ignore_index=True)


def synthetic_problem(seed: int = 0, **kw: Any) -> tuple[DispatchProblem, np.ndarray]:
    """The day problem (crowd couriers free to pick any warehouse) and the creation times."""
    wh, orders, couriers = synthetic_day(seed, **kw)
    P = problem_from_frames(wh, orders, couriers, decline_cost=10.0, assign_crowd=False, name=f"synthetic-{seed}")
    return P, orders["created_min"].to_numpy(float)


def restrict(P: DispatchProblem, kinds: str) -> DispatchProblem:
    """Keep only fleet (``"fleet"``) or crowd (``"crowd"``) couriers; ``"mixed"`` keeps all."""
    if kinds == "mixed":
        return P
    keep = np.flatnonzero(P.courier_kind == kinds)
    return replace(
        P, courier_ids=tuple(P.courier_ids[i] for i in keep), courier_profile=P.courier_profile[keep],
        start_loc=P.start_loc[keep], start_min=P.start_min[keep], end_loc=P.end_loc[keep],
        courier_warehouse=P.courier_warehouse[keep], capacity=P.capacity[keep], end_min=P.end_min[keep],
        max_work=P.max_work[keep], fixed_cost=P.fixed_cost[keep], cost_per_km=P.cost_per_km[keep],
        cost_per_hour=P.cost_per_hour[keep], pay_per_delivery=P.pay_per_delivery[keep],
        may_carry_special=P.may_carry_special[keep], accept_prob=P.accept_prob[keep], meta={},
        **P.couriers_sliced(keep),
    )


def greedy_dispatch(P: DispatchProblem, created: np.ndarray, *, seed: int = 0,
                    simulate_declines: bool = False) -> DispatchResult:
    """Nearest-available-courier baseline: one order per trip, first come first served.

    Orders are taken in ready-time order; each goes to the courier that would deliver it
    earliest (free time + ride to the warehouse + ride to the customer), among couriers
    allowed to carry it whose shift / availability and working time allow the trip.
    Lateness is allowed (and charged); an order no courier can take at all is unserved.
    """
    P = replace(P, max_late_min=float("inf"))
    rng = np.random.default_rng(seed)
    m = P.n_couriers
    free = P.start_min.copy()
    pos = P.start_loc.copy()
    work = np.zeros(m)
    n_trips = np.zeros(m, int)
    trips: list[Trip] = []
    reasons: dict[int, str] = {}
    prof = P.courier_profile
    home = P.courier_warehouse
    with stopwatch() as el:
        for o in np.argsort(P.ready, kind="stable"):
            w = int(P.order_wh[o])
            wl = int(P.warehouse_loc[w])
            loc = int(P.order_loc[o])
            ok = ((home < 0) | (home == w)) & (P.capacity >= P.size[o] - EPS)
            ok &= P.may_carry_special | ~P.special[o]
            t0 = np.maximum(free, P.ready[o] - P.time_min[prof, pos, wl])  # leave so as to arrive when ready
            t0 = np.maximum(t0, free)
            at_wh = t0 + P.time_min[prof, pos, wl]
            dep = np.maximum(at_wh, P.ready[o])
            arrive = dep + P.time_min[prof, wl, loc]
            done = arrive + P.service[o]
            end = done + np.where(P.end_loc >= 0, P.time_min[prof, loc, np.maximum(P.end_loc, 0)], 0.0)
            ok &= end <= P.end_min + EPS
            ok &= work + (end - dep) + (at_wh - t0) <= P.max_work + EPS
            while ok.any():
                v = int(np.flatnonzero(ok)[np.argmin(arrive[ok])])
                if simulate_declines and prof[v] == CROWD and rng.random() >= P.accept_prob[v]:
                    ok[v] = False  # declined: offer to the next courier
                    continue
                trip = Trip(v, w, (int(o),), int(pos[v]), float(t0[v]), trip_no=int(n_trips[v]) + 1)
                ev = evaluate_trip(P, trip)
                trips.append(trip)
                n_trips[v] += 1
                free[v], pos[v] = ev.end_min, ev.end_loc
                work[v] += ev.work_min
                break
            else:
                reasons[int(o)] = R_NO_COURIER if not ((home < 0) | (home == w)).any() else \
                    "no courier can take it before the end of its shift"
    stats = SolveStats(backend="greedy", status=SolveStatus.FEASIBLE, solve_seconds=el(),
                       message="nearest available courier, one order per trip")
    return build_result(P, trips, stats, reasons=reasons, meta={"mode": "greedy"})


def service_metrics(res: DispatchResult, created: np.ndarray, *, window: tuple[float, float] | None = None
                    ) -> dict[str, Any]:
    """Click-to-door p50/p95 (served orders), on-time share (all orders), utilisation, cost."""
    a = res.assignments
    served = (a["status"] == "served").to_numpy()
    c2d = a["arrive_min"].to_numpy(float) - created
    on_time = served & (a["late_min"].fillna(0).to_numpy(float) <= 1e-6)
    P = res.problem
    util = None
    if P is not None and P.n_couriers:
        lo, hi = window if window else (float(created.min()), float(np.nanmax(a["arrive_min"])) if served.any() else 0.0)
        avail = np.clip(np.minimum(P.end_min, hi) - np.maximum(P.start_min, lo), 0, None)
        busy = res.meta.get("work_min", 0.0)
        used = res.routes["courier"].unique() if len(res.routes) else []
        idx = [P.courier_ids.index(c) for c in used]
        util = float(busy / avail[idx].sum()) if len(idx) and avail[idx].sum() > 0 else 0.0
    n = len(a)
    return {
        "orders": n, "served": int(served.sum()), "unserved": int((~served).sum()),
        "on_time_share": float(on_time.sum() / n) if n else 1.0,
        "late_orders": int((served & ~on_time).sum()),
        "click_to_door_p50": float(np.percentile(c2d[served], 50)) if served.any() else None,
        "click_to_door_p95": float(np.percentile(c2d[served], 95)) if served.any() else None,
        "utilisation_used_couriers": util,
        "couriers_used": int(res.routes["courier"].nunique()) if len(res.routes) else 0,
        "orders_per_trip": float(served.sum() / max(res.routes.loc[res.routes["kind"] == "pickup"].shape[0], 1)),
        "cost_operating": res.cost["operating"], "cost_total": res.cost["total"],
        "cost_per_served": res.cost["operating"] / served.sum() if served.any() else None,
    }
