"""Zones, warehouses and couriers of an Olist instance.

- Zones are customer zip prefixes (or 3/4-digit zip sectors for a regional network) at the
  centroid of their geolocation rows; weight = the zone's share of delivered lines.
- Forward warehouses sit at weighted k-medians of the zone centres (weights = demand of the
  history window); each gets storage in proportion to the demand volume nearest to it.
- The central DC sits at the item-weighted geometric median of the real sellers that shipped
  to the region (their zip-prefix centroids).
- Couriers are synthetic (Olist has none): a seeded fleet per forward warehouse and a crowd
  drawn around the zones in proportion to demand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.errors import ConfigError
from engine.importers.geo import geometric_median, project, unproject, weighted_kmedians
from engine.importers.olist_config import OlistConfig


@dataclass(frozen=True, slots=True)
class ZoneBuild:
    zones: pd.DataFrame  # id, lat, lon, radius_km, weight
    lines: pd.DataFrame  # the region's lines that have a zone (column "zone" added)
    dropped_no_coordinates: int
    dropped_far: int
    prefixes_per_zone: float


def build_zones(lines: pd.DataFrame, prefixes: pd.DataFrame, cfg: OlistConfig) -> ZoneBuild:
    """Demand zones from the customer zip prefixes of ``lines`` (already filtered to the region)."""
    pref = prefixes.set_index("prefix")
    has = lines["prefix"].isin(pref.index)
    no_coord = int((~has).sum())
    ln = lines[has].copy()
    if ln.empty:
        raise ConfigError(f"no delivered order of region {cfg.region.label()} has a zip prefix with coordinates")
    counts = ln.groupby("prefix").size()
    p = pref.loc[counts.index].assign(n=counts.to_numpy(dtype=float))
    p["zone"] = "Z" + p.index.str[: cfg.zone_digits]
    lat0, lon0 = float(np.average(p["lat"], weights=p["n"])), float(np.average(p["lon"], weights=p["n"]))
    xy = project(p["lat"].to_numpy(), p["lon"].to_numpy(), lat0, lon0)
    p["x"], p["y"] = xy[:, 0], xy[:, 1]

    g = p.groupby("zone", sort=True)
    n = g["n"].sum()
    cx = g.apply(lambda d: np.average(d["x"], weights=d["n"]), include_groups=False)
    cy = g.apply(lambda d: np.average(d["y"], weights=d["n"]), include_groups=False)
    # spread: the prefixes' own spread plus their distance from the zone centre (demand-weighted)
    p["d2"] = (p["x"] - p["zone"].map(cx)) ** 2 + (p["y"] - p["zone"].map(cy)) ** 2 + p["spread_km"].fillna(0.5) ** 2
    spread = np.sqrt(p.groupby("zone")["d2"].apply(lambda s: np.average(s, weights=p.loc[s.index, "n"])))
    lo, hi = (0.3, 2.5) if cfg.zone_digits == 5 and cfg.kind == "city" else (1.0, 40.0)
    zlat, zlon = unproject(np.column_stack([cx.to_numpy(), cy.to_numpy()]), lat0, lon0)
    zones = pd.DataFrame({
        "id": n.index.to_numpy(), "lat": np.round(zlat, 5), "lon": np.round(zlon, 5),
        "radius_km": np.round(np.clip(spread.loc[n.index].to_numpy(), lo, hi), 2),
        "weight": n.to_numpy(),
    })

    far = 0
    if cfg.max_zone_km is not None:
        zxy = np.column_stack([cx.to_numpy(), cy.to_numpy()])
        centre = geometric_median(zxy, n.to_numpy())
        keep = np.hypot(*(zxy - centre).T) <= cfg.max_zone_km
        far = int(n.to_numpy()[~keep].sum())
        zones = zones[keep].reset_index(drop=True)
    zones["weight"] = np.round(zones["weight"] / zones["weight"].mean(), 4)
    ln["zone"] = ("Z" + ln["prefix"].str[: cfg.zone_digits]).to_numpy()
    ln = ln[ln["zone"].isin(set(zones["id"]))].reset_index(drop=True)
    return ZoneBuild(zones=zones, lines=ln, dropped_no_coordinates=no_coord, dropped_far=far,
                     prefixes_per_zone=float(len(p) / max(len(n), 1)))


def place_warehouses(zones: pd.DataFrame, zone_demand: pd.Series, sellers: pd.DataFrame, daily_m3: float,
                     cfg: OlistConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Central DC at the sellers' median, forward warehouses at weighted k-medians of demand.

    ``zone_demand``: units per zone id (history window, scaled); ``sellers``: seller lat, lon,
    units; ``daily_m3``: mean scaled demand volume per day (sizes forward storage).
    """
    lat0, lon0 = float(zones["lat"].mean()), float(zones["lon"].mean())
    zxy = project(zones["lat"].to_numpy(), zones["lon"].to_numpy(), lat0, lon0)
    w = zone_demand.reindex(zones["id"]).fillna(0.0).to_numpy(dtype=float)
    if w.sum() <= 0:
        w = zones["weight"].to_numpy(dtype=float)
    k = min(cfg.warehouses, int((w > 0).sum()))
    centres, labels, _ = weighted_kmedians(zxy, w, k, rng)
    # order the warehouses by the demand they are nearest to, biggest first (stable ids)
    share = np.bincount(labels, weights=w, minlength=k) / w.sum()
    order = np.argsort(-share, kind="stable")
    centres, share = centres[order], share[order]
    flat, flon = unproject(centres, lat0, lon0)

    sxy = project(sellers["lat"].to_numpy(), sellers["lon"].to_numpy(), lat0, lon0)
    dc = geometric_median(sxy, sellers["units"].to_numpy(dtype=float))
    dlat, dlon = unproject(dc, lat0, lon0)

    # one stocking cycle is one day: room for the day's demand nearest to it, with 50% slack for its variability
    cap = np.round(np.maximum(daily_m3 * share * 1.5, 0.3), 2)
    city = cfg.kind == "city"
    handling = np.round(rng.uniform(0.5, 0.8, k) if city else rng.uniform(0.8, 1.2, k), 2)
    holding = np.round(rng.uniform(8.0, 14.0, k) if city else rng.uniform(3.0, 5.0, k), 2)
    return pd.DataFrame({
        "id": ["DC"] + [f"FW{i + 1:02d}" for i in range(k)],
        "kind": ["central"] + ["forward"] * k,
        "lat": np.round(np.concatenate([dlat, flat]), 5),
        "lon": np.round(np.concatenate([dlon, flon]), 5),
        "capacity_m3": np.concatenate([[100000.0], cap]),
        "handling_cost_per_unit": np.concatenate([[0.3], handling]),
        "holding_cost_per_m3_day": np.concatenate([[1.5], holding]),
        "allows_high_value": True,
    })


def synth_couriers(warehouses: pd.DataFrame, zones: pd.DataFrame, cfg: OlistConfig,
                   rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded fleet at the forward warehouses and a crowd around the zones (Olist has neither)."""
    fw = warehouses[warehouses["kind"] == "forward"]["id"].to_numpy()
    cap, shift, fixed, per_km, per_hour = cfg.fleet_vehicle
    n = len(fw) * cfg.fleet_per_warehouse
    home = np.repeat(fw, cfg.fleet_per_warehouse)
    rank = np.tile(np.arange(cfg.fleet_per_warehouse), len(fw))
    starts = np.asarray(cfg.fleet_shift_starts, dtype=float)[rank % len(cfg.fleet_shift_starts)]
    fleet = pd.DataFrame({
        "id": [f"F{i + 1:03d}" for i in range(n)], "warehouse": home,
        "capacity_m3": np.round(cap * rng.uniform(0.9, 1.1, n), 3),
        "shift_start_min": starts, "shift_end_min": np.minimum(starts + shift, 2880.0),
        "fixed_cost": np.round(fixed * rng.uniform(0.9, 1.1, n), 1),
        "cost_per_km": np.round(per_km * rng.uniform(0.9, 1.1, n), 2),
        "cost_per_hour": np.round(per_hour * rng.uniform(0.95, 1.05, n), 1),
    })

    m = cfg.crowd
    ccap, pay, pay_km = cfg.crowd_vehicle
    p = zones["weight"].to_numpy(dtype=float)
    z = rng.choice(len(zones), size=m, p=p / p.sum())
    r = zones["radius_km"].to_numpy()[z] * np.sqrt(rng.random(m))
    a = rng.uniform(0, 2 * np.pi, m)
    lat = zones["lat"].to_numpy()[z] + r * np.sin(a) / 110.574
    lon = zones["lon"].to_numpy()[z] + r * np.cos(a) / (111.320 * np.cos(np.radians(zones["lat"].to_numpy()[z])))
    first, last = float(min(cfg.fleet_shift_starts)), float(max(cfg.fleet_shift_starts))
    begin = rng.choice(np.arange(first + 60.0, last + 300.0, 30.0), size=m)
    length = rng.choice(np.array([120.0, 180.0, 240.0, 300.0]) * (1.0 if cfg.kind == "city" else 2.0), size=m)
    end = np.minimum(begin + length, 2880.0)
    crowd = pd.DataFrame({
        "id": [f"C{i + 1:03d}" for i in range(m)], "lat": np.round(lat, 5), "lon": np.round(lon, 5),
        "available_from_min": begin, "available_to_min": end,
        "capacity_m3": np.round(ccap * rng.uniform(0.7, 1.3, m), 3),
        "pay_per_delivery": np.round(pay * rng.uniform(0.85, 1.15, m), 2),
        "pay_per_km": np.round(pay_km * rng.uniform(0.85, 1.15, m), 2),
        "acceptance_probability": np.round(rng.uniform(0.6, 0.95, m), 2),
        "may_carry_special": rng.random(m) < 0.2,
        "max_work_min": end - begin,
    })
    return fleet, crowd
