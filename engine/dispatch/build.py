"""Building a :class:`DispatchProblem` from tables (and from a loaded instance).

Crowd couriers are given one warehouse per problem: greedily, nearest first, the closest
warehouse with pending orders that the courier can reach in its availability, with at most
about one crowd courier per two pending orders of a warehouse so they spread out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.dispatch.problem import CROWD, FLEET, DispatchInputError, DispatchProblem
from engine.travel import TravelModel

ORDER_COLUMNS = ("id", "warehouse", "lat", "lon", "ready_min", "due_min", "size_m3")
COURIER_COLUMNS = ("id", "kind", "capacity_m3", "start_min", "end_min")


def _need(df: pd.DataFrame, cols: tuple[str, ...], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DispatchInputError(f"{what}: missing column(s) {', '.join(missing)}")


def _col(df: pd.DataFrame, name: str, default: Any) -> pd.Series:
    if name in df.columns:
        s = df[name]
        return s.fillna(default) if default is not None else s
    return pd.Series([default] * len(df), index=df.index)


def assign_crowd_warehouses(reach: np.ndarray, free: np.ndarray, end: np.ndarray, pending: np.ndarray,
                            per_courier: float = 2.0) -> np.ndarray:
    """Warehouse index for each crowd courier (-1 = none reachable or no work there).

    ``reach`` (m × W) is the ride in minutes from each courier to each warehouse; a courier
    is given the nearest warehouse with pending orders it can reach before ``end``, nearest
    couriers first, about one courier per ``per_courier`` pending orders of a warehouse.
    """
    m = reach.shape[0]
    out = np.full(m, -1, dtype=np.int64)
    if m == 0 or reach.shape[1] == 0 or pending.sum() == 0:
        return out
    ok = (free[:, None] + reach < end[:, None]) & (pending[None, :] > 0)
    quota = np.ceil(pending / per_courier).astype(int)
    taken = np.zeros(reach.shape[1], dtype=int)
    for c in np.argsort(np.where(ok, reach, np.inf).min(axis=1), kind="stable"):
        cand = np.flatnonzero(ok[c])
        if not len(cand):
            continue
        open_ = cand[taken[cand] < quota[cand]]
        pool = open_ if len(open_) else cand
        w = pool[np.argmin(reach[c, pool])]
        out[c] = w
        taken[w] += 1
    return out


def problem_from_frames(
    warehouses: pd.DataFrame,
    orders: pd.DataFrame,
    couriers: pd.DataFrame,
    *,
    circuity: float = 1.3,
    fleet_speed_kmh: float = 22.0,
    crowd_speed_kmh: float = 15.0,
    service_min: float = 3.0,
    decline_cost: float = 0.0,
    plan_min: float = 0.0,
    max_late_min: float = 0.0,
    pickup_service_min: float = 0.0,
    assign_crowd: bool = True,
    name: str = "",
    travel: TravelModel | None = None,
) -> DispatchProblem:
    """A problem from plain tables.

    ``warehouses``: id, lat, lon, [pickup_service_min (default: the argument)]. ``orders``: id,
    warehouse, lat, lon, ready_min, due_min, size_m3, [special, service_min, penalty, late_weight, open_min]. ``couriers``: id, kind
    (fleet|crowd), capacity_m3, start_min, end_min, [warehouse (fleet: home; crowd: given or
    assigned here unless ``assign_crowd=False``, then -1 = any), lat, lon (crowd start), max_work_min, fixed_cost, cost_per_km, cost_per_hour,
    pay_per_delivery, may_carry_special, acceptance_probability, pickup_end_min (latest pickup
    start, default none beyond end_min), hourly_guarantee, guarantee_hours]. ``travel`` (optional) routes on a
    road graph; without it travel is haversine × ``circuity`` at the two speeds.
    """
    travel = travel or TravelModel(circuity, fleet_speed_kmh, crowd_speed_kmh)
    _need(warehouses, ("id", "lat", "lon"), "warehouses")
    _need(orders, ORDER_COLUMNS, "orders")
    _need(couriers, COURIER_COLUMNS, "couriers")
    wh_ids = [str(w) for w in warehouses["id"]]
    widx = {w: i for i, w in enumerate(wh_ids)}
    W = len(wh_ids)
    bad_wh = sorted({str(w) for w in orders["warehouse"]} - set(widx))
    if bad_wh:
        raise DispatchInputError(f"orders: unknown warehouse id(s) {bad_wh[:5]}")
    kinds = couriers["kind"].astype(str).to_numpy()
    if not set(kinds) <= {"fleet", "crowd"}:
        raise DispatchInputError(f"couriers: kind must be fleet or crowd, got {sorted(set(kinds) - {'fleet', 'crowd'})}")
    fleet = kinds == "fleet"
    cwh_raw = _col(couriers, "warehouse", "").astype(str).to_numpy()
    unknown = sorted({w for w in cwh_raw[fleet]} - set(widx))
    if unknown:
        raise DispatchInputError(f"couriers: fleet courier(s) at unknown warehouse {unknown[:5]}")

    wlat = warehouses["lat"].to_numpy(float)
    wlon = warehouses["lon"].to_numpy(float)
    c_lat = _col(couriers, "lat", np.nan).to_numpy(float)
    c_lon = _col(couriers, "lon", np.nan).to_numpy(float)
    cwh = np.array([widx.get(w, -1) for w in cwh_raw], dtype=np.int64)
    # fleet couriers start at their warehouse unless a position is given (mid-day state)
    c_lat = np.where(fleet & np.isnan(c_lat), wlat[np.maximum(cwh, 0)], c_lat)
    c_lon = np.where(fleet & np.isnan(c_lon), wlon[np.maximum(cwh, 0)], c_lon)
    if np.isnan(c_lat).any() or np.isnan(c_lon).any():
        raise DispatchInputError("couriers: crowd couriers need lat and lon")
    start_min = couriers["start_min"].to_numpy(float)
    end_min = couriers["end_min"].to_numpy(float)
    o_wh = np.array([widx[str(w)] for w in orders["warehouse"]], dtype=np.int64)
    crowd = ~fleet
    need = crowd & (cwh < 0) & assign_crowd
    if need.any():
        pending = np.bincount(o_wh, minlength=W).astype(float)
        reach = travel.minutes(c_lat[need], c_lon[need], wlat, wlon, "crowd")
        pe = _col(couriers, "pickup_end_min", np.nan).to_numpy(float)
        last = np.fmin(end_min, pe)  # fmin: a missing pickup end is the end_min
        cwh[need] = assign_crowd_warehouses(reach, start_min[need], last[need], pending)

    # locations: warehouses, courier starts, orders
    n, m = len(orders), len(couriers)
    lat = np.concatenate([wlat, c_lat, orders["lat"].to_numpy(float)])
    lon = np.concatenate([wlon, c_lon, orders["lon"].to_numpy(float)])
    if np.isnan(lat).any() or np.isnan(lon).any():
        raise DispatchInputError("orders: lat/lon missing")
    km, fleet_min, crowd_min = travel.legs(lat, lon, lat, lon)
    tmin = np.stack([fleet_min, crowd_min])
    loc_ids = (*[f"wh:{w}" for w in wh_ids], *[f"courier:{c}" for c in couriers["id"].astype(str)],
               *[f"order:{o}" for o in orders["id"].astype(str)])
    start_loc = np.arange(W, W + m)
    end_loc = np.where(fleet, np.maximum(cwh, 0), -1)
    inf = np.inf
    weight = _col(orders, "weight", 1.0).to_numpy(float)
    return DispatchProblem(
        loc_ids=loc_ids, loc_lat=lat, loc_lon=lon, dist_km=np.stack([km, km]), time_min=tmin,
        warehouse_ids=tuple(wh_ids), warehouse_loc=np.arange(W),
        order_ids=tuple(orders["id"].astype(str)), order_loc=np.arange(W + m, W + m + n), order_wh=o_wh,
        ready=orders["ready_min"].to_numpy(float), due=orders["due_min"].to_numpy(float),
        size=orders["size_m3"].to_numpy(float),
        service=_col(orders, "service_min", service_min).to_numpy(float),
        special=_col(orders, "special", False).astype(bool).to_numpy(),
        penalty=_col(orders, "penalty", 40.0).to_numpy(float) * (1.0 if "penalty" in orders else weight),
        open_min=_col(orders, "open_min", 0.0).to_numpy(float),
        late_weight=_col(orders, "late_weight", 0.5).to_numpy(float),
        courier_ids=tuple(couriers["id"].astype(str)), courier_profile=np.where(fleet, FLEET, CROWD),
        start_loc=start_loc, start_min=start_min, end_loc=end_loc, courier_warehouse=cwh,
        capacity=couriers["capacity_m3"].to_numpy(float), end_min=end_min,
        max_work=_col(couriers, "max_work_min", inf).to_numpy(float),
        fixed_cost=_col(couriers, "fixed_cost", 0.0).to_numpy(float),
        cost_per_km=_col(couriers, "cost_per_km", 0.0).to_numpy(float),
        cost_per_hour=_col(couriers, "cost_per_hour", 0.0).to_numpy(float),
        pay_per_delivery=_col(couriers, "pay_per_delivery", 0.0).to_numpy(float),
        may_carry_special=_col(couriers, "may_carry_special", True).astype(bool).to_numpy(),
        accept_prob=_col(couriers, "acceptance_probability", 1.0).to_numpy(float),
        decline_cost=decline_cost, plan_min=plan_min, max_late_min=max_late_min, name=name,
        pickup_service=_col(warehouses, "pickup_service_min", float(pickup_service_min)).to_numpy(float),
        pickup_end=_col(couriers, "pickup_end_min", np.inf).to_numpy(float),  # missing: no limit
        hourly_guarantee=_col(couriers, "hourly_guarantee", 0.0).to_numpy(float),
        guarantee_hours=_col(couriers, "guarantee_hours", None).to_numpy(float)
        if "guarantee_hours" in couriers else None,
    )
