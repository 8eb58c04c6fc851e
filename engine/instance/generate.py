"""Synthetic instance generator: a believable city for a forward-stocking network.

What it draws (all from one seeded ``numpy.random.Generator``, in a fixed order, so the same
seed writes byte-identical files):

- demand zones around a city centre, denser in the middle, with lognormal population weights;
- forward warehouses at weighted k-means centres of the zones, a central DC outside the city;
- SKUs in categories with their own volume, value, fragile and high-value shares; Zipf-like
  popularity; a zone mix per SKU (Dirichlet around the zone weights);
- daily demand = popularity × zone mix × weekday profile × trend × yearly season × event lift
  × a day shock shared by all zones of a SKU (so zones of one SKU move together), drawn as
  gamma-Poisson (negative binomial) counts; slow movers get sporadic, intermittent demand;
- an event calendar: promotion days (city-wide lift) and live-stream sales (a lift in an
  evening window for the SKUs the stream features), in the history and the planning horizon;
- realised orders of the first planning days, drawn from the same truth as the history (not
  from any forecast), with creation minutes, customer locations and customer segments; the
  first two planning days come from the main stream, later ones (``order_days`` > 2, for
  horizons of weeks) from a separate seeded stream, so asking for more order days changes
  neither the history nor the first two days nor anything else of the city;
- fleet couriers per forward warehouse on staggered shifts, and crowdsourced couriers with their
  own places, hours, small capacity, per-delivery pay and acceptance probability;
- optionally (``roads=True``, from a separate seeded stream so nothing else changes) a road
  graph: a jittered street grid with arterials and a river crossed by a few bridges
  (:mod:`engine.instance.roadgen`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.cluster.vq import kmeans2

from engine.errors import ConfigError
from engine.instance.manifest import (
    DispatchParams,
    Manifest,
    Planning,
    PromiseTier,
    Segment,
    StockingParams,
)
from engine.instance.model import Instance
from engine.instance.read import load_instance, write_instance
from engine.instance.roadgen import road_network
from engine.solver import Settings

KM_PER_DEG_LAT = 110.574


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    skus: int = 30
    zones: int = 10
    warehouses: int = 3  # forward warehouses
    fleet: int = 6
    crowd: int = 12
    days: int = 120  # days of demand history
    order_days: int = 2  # days of realised orders from the planning start
    daily_units: float = 260.0  # mean units per day over the whole city (before events)
    city_sd_km: float = 5.0  # spread of zone centres around the city centre
    start_date: dt.date = dt.date(2026, 6, 1)
    centre_lat: float = 30.2741
    centre_lon: float = 120.1551
    name: str = "metro-small"
    roads: bool = False  # also write a road graph (road_nodes.csv, roads.csv): a street grid with a river
    road_spacing_km: float = 0.8  # street grid spacing
    bridges: int = 3  # streets that cross the river


PRESETS: dict[str, GeneratorConfig] = {
    "small": GeneratorConfig(fleet=12, crowd=20),
    "medium": GeneratorConfig(skus=150, zones=24, warehouses=5, fleet=40, crowd=60, days=365,
                              daily_units=1400.0, city_sd_km=8.0, name="metro-medium"),
    "large": GeneratorConfig(skus=1000, zones=50, warehouses=10, fleet=120, crowd=200, days=365,
                             daily_units=6000.0, city_sd_km=12.0, name="metro-large"),
}

# category: share of SKUs, median unit volume m3, median unit value, P(fragile), P(high value),
# yearly amplitude, weekend lift
CATEGORIES: dict[str, tuple[float, float, float, float, float, float, float]] = {
    "grocery": (0.24, 0.004, 25.0, 0.15, 0.00, 0.05, 1.10),
    "beauty": (0.14, 0.0015, 120.0, 0.30, 0.05, 0.10, 1.15),
    "electronics": (0.12, 0.003, 700.0, 0.35, 0.45, 0.20, 1.05),
    "apparel": (0.16, 0.005, 150.0, 0.00, 0.02, 0.35, 1.20),
    "home": (0.13, 0.012, 90.0, 0.25, 0.00, 0.10, 1.25),
    "baby": (0.10, 0.008, 110.0, 0.05, 0.00, 0.05, 1.05),
    "books_toys": (0.11, 0.004, 60.0, 0.00, 0.00, 0.25, 1.15),
}
WEEKDAY = np.array([0.94, 0.92, 0.95, 0.98, 1.05, 1.12, 1.04])  # Mon..Sun before weekend lift
HOURLY = np.array([0.1, 0.05, 0.03, 0.02, 0.02, 0.05, 0.2, 0.5, 0.8, 1.0, 1.1, 1.3, 1.5, 1.2,
                   1.0, 0.95, 1.0, 1.1, 1.3, 1.5, 1.6, 1.4, 0.9, 0.4])  # order intensity by hour


def generate(config: GeneratorConfig, seed: int) -> Instance:
    """Draw a synthetic instance (in memory)."""
    if min(config.skus, config.zones, config.warehouses) < 1 or config.days < 28:
        raise ConfigError("generator needs skus, zones, warehouses >= 1 and days >= 28")
    if config.warehouses > config.zones:
        raise ConfigError(f"warehouses ({config.warehouses}) cannot exceed zones ({config.zones})")
    if not 1 <= config.order_days <= 366:
        raise ConfigError(f"order days must be in 1..366, got {config.order_days}")
    if config.roads and (config.bridges < 1 or config.road_spacing_km <= 0):
        raise ConfigError("a road graph needs at least one bridge and a positive road_spacing_km")
    rng = np.random.default_rng(seed)
    c = config
    km_lon = KM_PER_DEG_LAT * np.cos(np.radians(c.centre_lat))

    def to_latlon(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (np.round(c.centre_lat + xy[:, 1] / KM_PER_DEG_LAT, 5), np.round(c.centre_lon + xy[:, 0] / km_lon, 5))

    # --- zones and warehouses -------------------------------------------------------------
    zxy = rng.normal(0.0, c.city_sd_km, size=(c.zones, 2))
    zweight = np.round(rng.lognormal(0.0, 0.45, size=c.zones), 3)
    zlat, zlon = to_latlon(zxy)
    zones = pd.DataFrame({
        "id": [f"Z{i + 1:03d}" for i in range(c.zones)], "lat": zlat, "lon": zlon,
        "radius_km": np.round(rng.uniform(0.8, 1.6, c.zones), 2), "weight": zweight,
    })
    reps = np.repeat(zxy, np.maximum(1, np.round(zweight * 4).astype(int)), axis=0)
    if c.warehouses < c.zones:
        centres, _ = kmeans2(reps, c.warehouses, seed=rng, minit="++")
    else:
        centres = zxy.copy()
    centres = centres + rng.normal(0, 0.3, size=centres.shape)  # not exactly at a zone centre
    angle = rng.uniform(0, 2 * np.pi)
    dc = np.array([[np.cos(angle), np.sin(angle)]]) * (2.5 * c.city_sd_km + 10)
    wlat, wlon = to_latlon(np.vstack([dc, centres]))
    expected_cycle_m3 = c.daily_units * 0.006  # mean unit volume ≈ 0.006 m3
    fwd_cap = np.round(expected_cycle_m3 / c.warehouses * rng.uniform(0.9, 1.3, c.warehouses), 2)
    warehouses = pd.DataFrame({
        "id": ["DC"] + [f"FW{i + 1:02d}" for i in range(c.warehouses)],
        "kind": ["central"] + ["forward"] * c.warehouses,
        "lat": wlat, "lon": wlon,
        "capacity_m3": np.concatenate([[10000.0], fwd_cap]),
        "handling_cost_per_unit": np.concatenate([[0.3], np.round(rng.uniform(0.5, 0.8, c.warehouses), 2)]),
        "holding_cost_per_m3_day": np.concatenate([[2.0], np.round(rng.uniform(8, 14, c.warehouses), 2)]),
        "allows_high_value": np.concatenate([[True], rng.random(c.warehouses) > 0.25]),
    })
    warehouses.loc[1, "allows_high_value"] = True  # at least one forward site for high-value goods

    # --- SKUs ---------------------------------------------------------------------------
    names = list(CATEGORIES)
    shares = np.array([CATEGORIES[n][0] for n in names])
    cat_idx = rng.choice(len(names), size=c.skus, p=shares / shares.sum())
    cat = np.array(names)[cat_idx]
    vol_med = np.array([CATEGORIES[n][1] for n in names])[cat_idx]
    val_med = np.array([CATEGORIES[n][2] for n in names])[cat_idx]
    p_frag = np.array([CATEGORIES[n][3] for n in names])[cat_idx]
    p_high = np.array([CATEGORIES[n][4] for n in names])[cat_idx]
    volume = np.round(vol_med * rng.lognormal(0, 0.5, c.skus), 5).clip(0.0002)
    value = np.round(val_med * rng.lognormal(0, 0.6, c.skus), 2)
    fragile = rng.random(c.skus) < p_frag
    high_value = (rng.random(c.skus) < p_high) | (value >= 1500)
    # every city carries some special goods, however few SKUs it has
    by_value = np.argsort(-value, kind="stable")
    high_value[by_value[: max(1, round(0.04 * c.skus))]] = True
    fragile[rng.permutation(c.skus)[: max(1, round(0.06 * c.skus))]] |= True
    skus = pd.DataFrame({
        "id": [f"S{i + 1:05d}" for i in range(c.skus)], "category": cat, "unit_volume_m3": volume,
        "unit_value": value, "fragile": fragile, "high_value": high_value,
    })

    # --- event calendar -----------------------------------------------------------------
    first = c.start_date - dt.timedelta(days=c.days)
    all_days = pd.date_range(first, c.start_date + dt.timedelta(days=27), freq="D")
    events = _events(rng, all_days, c.start_date)
    extra_days = max(c.order_days - 2, 0)  # order days beyond the first two: their own stream
    side = np.random.default_rng([seed, 0x0D4E5])
    if c.order_days > 28:  # the calendar above reaches 28 planning days; later events from the side stream
        events = _later_events(side, events, c.start_date, c.order_days)

    # --- demand truth -------------------------------------------------------------------
    n_days = c.days + min(max(c.order_days, 1), 2)
    days = all_days[:n_days]
    rank = rng.permutation(c.skus) + 1
    popularity = 1.0 / rank**1.05
    popularity /= popularity.sum()
    zone_mix = rng.dirichlet(np.maximum(zweight, 0.05) * 15.0, size=c.skus)  # (S, Z)
    amp = np.array([CATEGORIES[n][5] for n in names])[cat_idx]
    wkend = np.array([CATEGORIES[n][6] for n in names])[cat_idx]
    phase = rng.uniform(0, 365, c.skus)
    growth = rng.normal(0.08, 0.15, c.skus)
    featured = rng.random(c.skus) < 0.35  # SKUs that live-streams push
    slow = popularity < np.quantile(popularity, 0.4)  # intermittent slow movers
    sku_law = (popularity, wkend, amp, phase, growth, featured, slow)
    mu_sku, ev = _sku_means(rng, c, days, np.arange(n_days), sku_law, events)  # (S, T)
    r_disp = 4.0
    (s_idx, z_idx, t_idx, q_hist), q_plan = _counts(rng, mu_sku, zone_mix, r_disp, c.days)
    demand = pd.DataFrame({
        "date": days[t_idx], "sku": skus["id"].to_numpy()[s_idx], "zone": zones["id"].to_numpy()[z_idx],
        "quantity": q_hist.astype(float),
    }).sort_values(["date", "sku", "zone"], kind="stable").reset_index(drop=True)

    # --- realised orders of the planning days -------------------------------------------
    segments = (Segment("member", 0.3, 30.0, 3.0), Segment("standard", 0.7, 60.0, 1.0))
    first_days = min(c.order_days, 2)
    orders = _orders(rng, q_plan[:, :, :first_days], days[c.days : c.days + first_days],
                     skus, zones, featured, ev, segments)
    if extra_days:
        later = pd.date_range(c.start_date + dt.timedelta(days=2), periods=extra_days, freq="D")
        mu2, ev2 = _sku_means(side, c, later, np.arange(n_days, n_days + extra_days), sku_law, events)
        lam2 = mu2[:, None, :] * zone_mix[:, :, None] * side.gamma(r_disp, 1.0 / r_disp, size=(c.skus, c.zones, extra_days))
        more = _orders(side, side.poisson(lam2), later, skus, zones, featured, ev2, segments)
        orders = pd.concat([orders.drop(columns="id"), more.drop(columns="id")], ignore_index=True)
        orders.insert(0, "id", [f"O{i + 1:06d}" for i in range(len(orders))])

    # --- couriers -----------------------------------------------------------------------
    # couriers spread over the warehouses; the k-th of n at a warehouse starts its 8-hour shift
    # at an even step between 07:00 and 15:00, so every warehouse has riders morning to night
    fleet_wh = np.resize(np.arange(c.warehouses), c.fleet)
    rank_at = np.array([np.sum(fleet_wh[:i] == w) for i, w in enumerate(fleet_wh)])
    n_at = np.bincount(fleet_wh, minlength=c.warehouses)[fleet_wh]
    begin = 420.0 + np.where(n_at > 1, rank_at / np.maximum(n_at - 1, 1), 0.5) * 480.0
    sh = np.column_stack([np.round(begin / 30) * 30, np.round(begin / 30) * 30 + 480.0])
    fleet = pd.DataFrame({
        "id": [f"F{i + 1:03d}" for i in range(c.fleet)],
        "warehouse": warehouses["id"].to_numpy()[1:][fleet_wh],
        "capacity_m3": np.round(rng.uniform(0.12, 0.2, c.fleet), 3),
        "shift_start_min": sh[:, 0].astype(float), "shift_end_min": sh[:, 1].astype(float),
        "fixed_cost": np.round(rng.uniform(20, 40, c.fleet), 1),  # vehicle for the day; wages are per hour
        "cost_per_km": np.round(rng.uniform(0.3, 0.5, c.fleet), 2),
        "cost_per_hour": np.round(rng.uniform(28, 34, c.fleet), 1),
    })
    cxy = rng.normal(0.0, c.city_sd_km, size=(c.crowd, 2))
    clat, clon = to_latlon(cxy)
    start = rng.choice(np.arange(480, 1200, 30), size=c.crowd).astype(float)
    length = rng.choice([120.0, 180.0, 240.0, 300.0], size=c.crowd)
    crowd = pd.DataFrame({
        "id": [f"C{i + 1:03d}" for i in range(c.crowd)], "lat": clat, "lon": clon,
        "available_from_min": start, "available_to_min": np.minimum(start + length, 1440.0),
        "capacity_m3": np.round(rng.uniform(0.04, 0.08, c.crowd), 3),
        "pay_per_delivery": np.round(rng.uniform(6.0, 9.0, c.crowd), 2),
        "pay_per_km": np.round(rng.uniform(0.6, 1.0, c.crowd), 2),
        "acceptance_probability": np.round(rng.uniform(0.6, 0.95, c.crowd), 2),
        "may_carry_special": rng.random(c.crowd) < 0.2,
        "max_work_min": length,
    })

    graph: dict[str, pd.DataFrame] = {}
    road_text = ""
    if c.roads:
        # a separate stream, so the rest of the city is the same with or without roads
        road_rng = np.random.default_rng([seed, 0x70AD5])
        radius = zones["radius_km"].to_numpy()[:, None]
        city = np.vstack([zxy - radius, zxy + radius, centres, cxy])
        graph["road_nodes"], graph["roads"] = road_network(road_rng, city, dc[0], to_latlon,
                                                           spacing_km=c.road_spacing_km, bridges=c.bridges)
        road_text = (f" Road graph: {len(graph['road_nodes'])} nodes, {len(graph['roads'])} roads, "
                     f"a river crossed by {c.bridges} bridges.")

    manifest = Manifest(
        name=c.name,
        description=(f"Synthetic city generated by `nearstock generate` (seed {seed}): {c.skus} SKUs, "
                     f"{c.zones} zones, {c.warehouses} forward warehouses, {c.days} days of history.{road_text}"),
        seed=seed,
        planning=Planning(start_date=c.start_date, horizon_days=7, cycle_days=1, scenarios=30, picking_min=8.0),
        promise=(PromiseTier("instant", 60.0, "forward", 22.0), PromiseTier("next_day", 1440.0, "central", 0.0)),
        segments=segments,
        stocking=StockingParams(),
        dispatch=DispatchParams(wave_min=5.0),
        solver={
            "forecast": Settings(backend="auto", time_limit=30.0),
            "stocking": Settings(backend="highs", time_limit=10.0, mip_gap=1e-4),
            "dispatch": Settings(backend="pyvrp", time_limit=2.0),
        },
        tables=({"demand": "demand.csv.gz"} if c.skus * c.zones * c.days > 400_000 else {})
        | ({"orders": "orders.csv.gz"} if len(orders) > 5_000 else {}),
    )
    return Instance(manifest=manifest, warehouses=warehouses, zones=zones, skus=skus, demand=demand,
                    events=events, fleet=fleet, crowd=crowd, orders=orders, **graph)


def _counts(rng: np.random.Generator, mu_sku: np.ndarray, zone_mix: np.ndarray, r_disp: float, n_hist: int,
            *, chunk_cells: int = 40_000_000) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Gamma-Poisson counts per (SKU, zone, day): the non-zero cells of the first ``n_hist``
    days (sku, zone, day, quantity in C order) and the dense (S, Z, T - n_hist) rest.

    The draws are those of one (S, Z, T) array — every gamma shock, then every Poisson count,
    in C order from ``rng`` — made SKU chunk by chunk, so memory stays at one chunk (a
    100 000-SKU city is 1.1 billion cells): the gamma pass only advances ``rng`` and notes its
    state at each chunk, and the Poisson pass replays each chunk's shocks from that state.
    """
    S, Z = zone_mix.shape
    T = mu_sku.shape[1]
    rows = max(1, chunk_cells // max(Z * T, 1))
    spans = [(lo, min(lo + rows, S)) for lo in range(0, S, rows)]
    states = []
    for lo, hi in spans:
        states.append(rng.bit_generator.state)
        rng.gamma(r_disp, 1.0 / r_disp, size=(hi - lo, Z, T))
    replay = np.random.Generator(type(rng.bit_generator)())
    hist: list[tuple[np.ndarray, ...]] = []
    plan = np.zeros((S, Z, T - n_hist), dtype=np.int64)
    for (lo, hi), state in zip(spans, states, strict=True):
        replay.bit_generator.state = state
        mu = mu_sku[lo:hi, None, :] * zone_mix[lo:hi, :, None]
        qty = rng.poisson(mu * replay.gamma(r_disp, 1.0 / r_disp, size=mu.shape))
        del mu
        s_idx, z_idx, t_idx = np.nonzero(qty[:, :, :n_hist])
        hist.append((s_idx + lo, z_idx, t_idx, qty[s_idx, z_idx, t_idx]))
        plan[lo:hi] = qty[:, :, n_hist:]
    cells = tuple(np.concatenate([h[i] for h in hist]) for i in range(4))
    return cells, plan


def _sku_means(rng: np.random.Generator, c: GeneratorConfig, dates: pd.DatetimeIndex, t: np.ndarray,
               law: tuple[np.ndarray, ...], events: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Mean daily units per SKU on ``dates`` (day numbers ``t``), and the events among them.

    Weekday, season, trend, event lifts and a shock shared across zones; slow movers sell on
    some days only, in larger lots. Draws from ``rng`` in this order: event lifts, shocks,
    slow movers' selling days.
    """
    popularity, wkend, amp, phase, growth, featured, slow = law
    n = len(dates)
    dow, doy = dates.day_of_week.to_numpy(), dates.day_of_year.to_numpy()
    weekday = WEEKDAY[dow][None, :] * np.where(dow >= 5, wkend[:, None], 1.0)  # (S, T)
    season = 1 + amp[:, None] * np.sin(2 * np.pi * (doy[None, :] - phase[:, None]) / 365.25)
    trend = np.exp(growth[:, None] * (t[None, :] - c.days) / 365.0)
    lift = np.ones((c.skus, n))
    ev = events[events["date"].isin(dates)]
    pos = {d: i for i, d in enumerate(dates)}
    for row in ev.itertuples(index=False):
        i = pos[row.date]
        if row.kind == "promotion":
            lift[:, i] *= rng.uniform(1.8, 2.6)
        else:
            lift[:, i] *= np.where(featured, rng.uniform(2.5, 4.0), 1.1)
    shock = rng.lognormal(-0.02, 0.2, size=(c.skus, n))
    mu = c.daily_units * popularity[:, None] * weekday * season * trend * lift * shock
    occur = np.where(slow[:, None], rng.random((c.skus, n)) < 0.3, True)
    return np.where(slow[:, None], np.where(occur, mu / 0.3, 0.0), mu), ev


def _events(rng: np.random.Generator, all_days: pd.DatetimeIndex, start: dt.date) -> pd.DataFrame:
    rows = []
    # promotions: two per 100 days, 1-2 days long, at random dates
    n_promo = max(1, len(all_days) // 50)
    for d in sorted(rng.choice(len(all_days) - 2, size=n_promo, replace=False)):
        for k in range(int(rng.integers(1, 3))):
            rows.append((all_days[d + k], f"promo-{all_days[d].strftime('%m%d')}", "promotion", 0.0, 1440.0))
    # live-stream sales: roughly every two weeks, in an evening window; one on the first planning day
    day = int(rng.integers(3, 14))
    while day < len(all_days):
        begin = float(rng.choice([1140.0, 1170.0, 1200.0]))
        rows.append((all_days[day], f"live-{all_days[day].strftime('%m%d')}", "livestream", begin, begin + 120.0))
        day += int(rng.integers(10, 18))
    first_plan = pd.Timestamp(start)
    if not any(r[0] == first_plan and r[2] == "livestream" for r in rows):
        rows.append((first_plan, f"live-{first_plan.strftime('%m%d')}", "livestream", 1170.0, 1290.0))
    ev = pd.DataFrame(rows, columns=["date", "name", "kind", "start_min", "end_min"])
    ev = ev.drop_duplicates(["date", "name"]).sort_values(["date", "name"], kind="stable").reset_index(drop=True)
    ev["date"] = ev["date"].astype("datetime64[ns]")
    return ev


def _later_events(rng: np.random.Generator, events: pd.DataFrame, start: dt.date, order_days: int) -> pd.DataFrame:
    """Promotions and live-streams for planning days beyond the 28 the main calendar covers."""
    days = pd.date_range(start + dt.timedelta(days=28), start + dt.timedelta(days=order_days - 1), freq="D")
    rows = []
    for d in sorted(rng.choice(len(days), size=len(days) // 50, replace=False)) if len(days) >= 50 else []:
        rows.append((days[d], f"promo-{days[d].strftime('%m%d')}", "promotion", 0.0, 1440.0))
    day = int(rng.integers(3, 14))
    while day < len(days):
        begin = float(rng.choice([1140.0, 1170.0, 1200.0]))
        rows.append((days[day], f"live-{days[day].strftime('%m%d')}", "livestream", begin, begin + 120.0))
        day += int(rng.integers(10, 18))
    more = pd.DataFrame(rows, columns=["date", "name", "kind", "start_min", "end_min"])
    more["date"] = more["date"].astype("datetime64[ns]")
    ev = pd.concat([events, more], ignore_index=True)
    ev = ev.drop_duplicates(["date", "name"]).sort_values(["date", "name"], kind="stable").reset_index(drop=True)
    return ev


def _orders(rng: np.random.Generator, qty: np.ndarray, days: pd.DatetimeIndex, skus: pd.DataFrame,
            zones: pd.DataFrame, featured: np.ndarray, events: pd.DataFrame,
            segments: tuple[Segment, ...]) -> pd.DataFrame:
    """Split each day's realised units into orders (mostly one unit) with times and places."""
    hourly = HOURLY / HOURLY.sum()
    frames = []
    for d, day in enumerate(days):
        s_idx, z_idx = np.nonzero(qty[:, :, d])
        units = qty[s_idx, z_idx, d]
        # split units of a (sku, zone) into orders of 1-3 units
        sizes: list[np.ndarray] = []
        for u in units:
            parts = []
            left = int(u)
            while left > 0:
                k = min(left, 1 + int(rng.random() < 0.15) + int(rng.random() < 0.05))
                parts.append(k)
                left -= k
            sizes.append(np.array(parts))
        counts = np.array([len(p) for p in sizes], dtype=int)
        o_sku = np.repeat(s_idx, counts)
        o_zone = np.repeat(z_idx, counts)
        o_qty = np.concatenate(sizes) if sizes else np.array([], dtype=int)
        n = len(o_qty)
        hour = rng.choice(24, size=n, p=hourly)
        minute = hour * 60 + rng.uniform(0, 60, n)
        live = events[(events["date"] == day) & (events["kind"] == "livestream")]
        if len(live):
            begin, end = float(live["start_min"].iloc[0]), float(live["end_min"].iloc[0])
            in_stream = featured[o_sku] & (rng.random(n) < 0.6)
            minute = np.where(in_stream, rng.uniform(begin, end, n), minute)
        r = zones["radius_km"].to_numpy()[o_zone] * np.sqrt(rng.random(n))
        a = rng.uniform(0, 2 * np.pi, n)
        lat0 = zones["lat"].to_numpy()[o_zone]
        lat = lat0 + r * np.sin(a) / KM_PER_DEG_LAT
        lon = zones["lon"].to_numpy()[o_zone] + r * np.cos(a) / (KM_PER_DEG_LAT * np.cos(np.radians(lat0)))
        seg = rng.choice([s.id for s in segments], size=n, p=[s.share for s in segments])
        frames.append(pd.DataFrame({
            "date": day, "created_min": np.round(minute, 1), "sku": skus["id"].to_numpy()[o_sku],
            "quantity": o_qty.astype(np.int64), "zone": zones["id"].to_numpy()[o_zone],
            "lat": np.round(lat, 5), "lon": np.round(lon, 5), "segment": seg,
        }))
    orders = pd.concat(frames, ignore_index=True).sort_values(["date", "created_min"], kind="stable").reset_index(drop=True)
    orders.insert(0, "id", [f"O{i + 1:06d}" for i in range(len(orders))])
    orders["date"] = orders["date"].astype("datetime64[ns]")
    return orders


def generate_instance(out_dir: str | Path, *, preset: str = "small", seed: int = 0,
                      overwrite: bool = True, **knobs: object) -> Instance:
    """Generate an instance, write it atomically to ``out_dir``, and load it back validated."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    changes = {k: v for k, v in knobs.items() if v is not None}
    unknown = set(changes) - set(GeneratorConfig.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"unknown generator knob(s): {', '.join(sorted(unknown))}")
    config = replace(PRESETS[preset], **changes)
    if "name" not in changes:
        config = replace(config, name=Path(out_dir).name or config.name)
    write_instance(generate(config, seed), out_dir, overwrite=overwrite)
    return load_instance(out_dir)
