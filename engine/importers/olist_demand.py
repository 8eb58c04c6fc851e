"""SKUs, demand history, realised orders and the event calendar of an Olist instance.

SKUs are product categories (optionally × size class). With ``scale == 1`` the history and the
orders are the real delivered lines of the region, as they are. With ``scale > 1`` the volume is
scaled explicitly by resampling, because the sample is far too thin to scale line by line (the
São Paulo city sample has ~1.3 delivered lines a day; multiplying them would put every scaled
order of a day in the same two zones). Each day ``t`` gets

    N_t ~ Poisson(scale × r_t)

lines, where ``r_t`` is the real lines per day of the region averaged over ``t ± pool_days``
(times the weekday profile of the whole source; a Black Friday is not pooled with its
neighbours, so its real peak survives). Each line then draws, independently and from the real
data of the region: its zone (the real spatial spread of customers over the whole sample), its
SKU (the real category mix of ``t ± 30`` days), its units (the real units-per-line mix) and its
minute of the day (the real purchase minutes). The sample cannot support a joint
zone × category × time model; these marginals are what it measures well. The segment of a
scaled line: its zone's region class and a repeat flag drawn at the real repeat share of the
class over ``t ± 30`` days (:mod:`engine.importers.olist_segments`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ConfigError
from engine.importers.olist_config import OlistConfig
from engine.importers.olist_segments import draw_repeat, segment_of
from engine.importers.olist_segments import notes as segment_notes

MIX_DAYS = 30  # half-width of the window the category mix of a day is measured over

# English category names whose goods need fragile handling (glass, screens, electronics, ceramics)
FRAGILE_CATEGORIES = frozenset({
    "audio", "computers", "computers_accessories", "consoles_games", "electronics", "fixed_telephony",
    "home_appliances", "home_appliances_2", "small_appliances", "telephony", "watches_gifts", "perfumery",
    "housewares", "kitchen_dining_laundry_garden_furniture", "tablets_printing_image", "art",
    "cine_photo", "musical_instruments", "christmas_supplies", "la_cuisine", "portateis_cozinha_e_preparadores_de_alimentos",
    "pc_gamer", "small_appliances_home_oven_and_coffee", "air_conditioning", "signaling_and_security",
})


@dataclass(frozen=True, slots=True)
class DemandBuild:
    skus: pd.DataFrame
    demand: pd.DataFrame
    orders: pd.DataFrame
    events: pd.DataFrame
    volume: dict[str, Any]  # what the scaling did, for the manifest notes
    segments: dict[str, Any]  # the segment rule and its shares, for the manifest notes


def black_fridays(first: dt.date, last: dt.date) -> list[dt.date]:
    """Brazil's Black Friday: the day after the fourth Thursday of November, in [first, last]."""
    out = []
    for year in range(first.year, last.year + 1):
        nov1 = dt.date(year, 11, 1)
        thursday = nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7 + 21)
        day = thursday + dt.timedelta(days=1)
        if first <= day <= last:
            out.append(day)
    return out


def assign_skus(lines: pd.DataFrame, window: pd.Series, cfg: OlistConfig) -> tuple[pd.Series, pd.DataFrame]:
    """The SKU of every line and the SKU table (attributes measured on the region's lines).

    ``window`` marks the lines of the history and order days: categories are ranked on them.
    """
    units_by_cat = lines.loc[window, "units"].groupby(lines.loc[window, "category"]).sum()
    ranked = units_by_cat.sort_values(ascending=False, kind="stable")
    keep = set(ranked.index[: cfg.max_skus])
    cat = lines["category"].where(lines["category"].isin(keep), "other")
    sku = cat.copy()
    if cfg.size_classes:
        vol = lines["volume_m3"]
        q1, q2 = np.nanquantile(vol, [1 / 3, 2 / 3])
        size = np.where(vol <= q1, "S", np.where(vol <= q2, "M", "L"))
        sku = cat + "-" + size
    g = pd.DataFrame({"sku": sku, "category": cat, "volume": lines["volume_m3"], "price": lines["price"]})
    agg = g.groupby("sku", sort=True).agg(category=("category", "first"), volume=("volume", "median"),
                                          price=("price", "median"))
    overall_volume = float(np.nanmedian(lines["volume_m3"])) if lines["volume_m3"].notna().any() else 0.006
    volume = agg["volume"].fillna(overall_volume).clip(lower=0.0002)
    value = agg["price"].fillna(float(np.nanmedian(lines["price"])))
    skus = pd.DataFrame({
        "id": agg.index.to_numpy(), "category": agg["category"].to_numpy(),
        "unit_volume_m3": np.round(volume.to_numpy(), 5), "unit_value": np.round(value.to_numpy(), 2),
        "fragile": agg["category"].isin(FRAGILE_CATEGORIES).to_numpy(),
        "high_value": (value >= cfg.high_value_price).to_numpy(),
    })
    return sku, skus


def _minutes(ts: pd.Series) -> np.ndarray:
    t = pd.to_datetime(ts)
    return (t.dt.hour * 60 + t.dt.minute + t.dt.second / 60.0).to_numpy(dtype=float)


def draw_lines(lines: pd.DataFrame, sku: pd.Series, sku_ids: np.ndarray, days: pd.DatetimeIndex,
               weekday: np.ndarray, cfg: OlistConfig, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Scaled lines of ``days`` (see the module docstring) and the real rate r_t per day."""
    date = pd.to_datetime(lines["purchased"]).dt.normalize()
    d0, d1 = date.min(), date.max()
    data_days = pd.date_range(d0, d1, freq="D")
    counts = date.value_counts().reindex(data_days, fill_value=0).to_numpy(dtype=float)
    dow_data = weekday[data_days.day_of_week.to_numpy()]
    pos = (days - d0).days.to_numpy()
    events = {pd.Timestamp(d) for d in black_fridays(d0.date(), d1.date())}

    # r_t: mean real lines per day over t ± pool_days (inside the data), de-weekdayed, re-weekdayed
    cs = np.concatenate([[0.0], np.cumsum(counts)])
    cw = np.concatenate([[0.0], np.cumsum(dow_data)])
    lo = np.clip(pos - cfg.pool_days, 0, len(counts))
    hi = np.clip(pos + cfg.pool_days + 1, 0, len(counts))
    level = (cs[hi] - cs[lo]) / np.maximum(cw[hi] - cw[lo], 1e-9)
    rate = level * weekday[days.day_of_week.to_numpy()]
    is_event = np.array([d in events for d in days])
    rate = np.where(is_event, counts[pos], rate)
    n_day = rng.poisson(cfg.scale * rate)

    # per-day category mix over t ± MIX_DAYS, with a small prior on the overall mix
    s_pos = pd.Index(sku_ids).get_indexer(sku)
    cat_counts = np.zeros((len(data_days) + 1, len(sku_ids)))
    np.add.at(cat_counts, ((date - d0).dt.days.to_numpy() + 1, s_pos), 1.0)
    cc = np.cumsum(cat_counts, axis=0)
    mlo = np.clip(pos - MIX_DAYS, 0, len(data_days))
    mhi = np.clip(pos + MIX_DAYS + 1, 0, len(data_days))
    overall = cc[-1] / cc[-1].sum()
    mix = cc[mhi] - cc[mlo] + 0.5 * overall[None, :]
    mix /= mix.sum(axis=1, keepdims=True)

    t_idx = np.repeat(np.arange(len(days)), n_day)
    n = len(t_idx)
    cum = np.cumsum(mix, axis=1)
    s_idx = (rng.random(n)[:, None] > cum[t_idx]).sum(axis=1).clip(max=len(sku_ids) - 1)
    zone_p = lines["zone"].value_counts().sort_index()
    z = rng.choice(zone_p.index.to_numpy(), size=n, p=(zone_p / zone_p.sum()).to_numpy())
    units = rng.choice(lines["units"].to_numpy(), size=n)
    minute = rng.choice(_minutes(lines["purchased"]), size=n)
    # segment: the zone's region class, and the repeat flag at the class's real share of t ± MIX_DAYS
    zone_capital = lines["capital"].groupby(lines["zone"]).mean() >= 0.5
    capital = zone_capital.reindex(z).to_numpy(dtype=bool)
    if not cfg.segment_by_region:  # one region class: the repeat share is measured over all lines
        lines = lines.assign(capital=True)
        capital = np.ones(n, dtype=bool)
    repeat = draw_repeat(lines, days, t_idx, capital, MIX_DAYS, rng)
    out = pd.DataFrame({"date": days[t_idx], "sku": sku_ids[s_idx], "zone": z, "units": units, "minute": minute,
                        "segment": segment_of(repeat, capital, cfg)})
    return out, rate


# tags of the random streams: the history, each planning day's lines, each day's customer positions
_HISTORY, _DAY_LINES, _DAY_PLACES = 1, 2, 3


def stream(seed: int, tag: int, day: pd.Timestamp | None = None) -> np.random.Generator:
    """The random stream of one part of the build. The history and each planning day draw from
    their own streams, so the history (and the network placed on it) does not change with
    ``order_days``, and a planning day's orders do not change with the window's length."""
    key = [int(seed), tag] + ([pd.Timestamp(day).toordinal()] if day is not None else [])
    return np.random.default_rng(np.random.SeedSequence(key))


def build_demand(lines: pd.DataFrame, zones: pd.DataFrame, weekday: np.ndarray, cfg: OlistConfig) -> DemandBuild:
    """History before ``cfg.start_date``, orders of the ``order_days`` from it, events, SKUs."""
    start = pd.Timestamp(cfg.start_date)
    first = start - pd.Timedelta(days=cfg.history_days)
    end = start + pd.Timedelta(days=cfg.order_days)  # exclusive
    date = pd.to_datetime(lines["purchased"]).dt.normalize()
    d0, d1 = date.min(), date.max()
    if first < d0 or end - pd.Timedelta(days=1) > d1:
        raise ConfigError(
            f"history {first.date()}..{(start - pd.Timedelta(days=1)).date()} and order days up to "
            f"{(end - pd.Timedelta(days=1)).date()} must lie inside the region's data, {d0.date()}..{d1.date()}; "
            "choose another --start-date, fewer --history-days or fewer --order-days")
    window = (date >= first) & (date < end)
    sku, skus = assign_skus(lines, window, cfg)
    days = pd.date_range(first, end - pd.Timedelta(days=1), freq="D")

    real_hist = float(window.sum() - ((date >= start) & (date < end)).sum()) / cfg.history_days
    if cfg.scale == 1.0:
        sel = lines[window]
        drawn = pd.DataFrame({"date": date[window].to_numpy(), "sku": sku[window].to_numpy(), "zone": sel["zone"].to_numpy(),
                              "units": sel["units"].to_numpy(), "minute": _minutes(sel["purchased"]),
                              "segment": sel["segment"].to_numpy()})
        method = "none: the real delivered lines of the region, as they are"
    else:
        ids = skus["id"].to_numpy()
        parts = [draw_lines(lines, sku, ids, days[days < start], weekday, cfg, stream(cfg.seed, _HISTORY))[0]]
        parts += [draw_lines(lines, sku, ids, pd.DatetimeIndex([d]), weekday, cfg, stream(cfg.seed, _DAY_LINES, d))[0]
                  for d in days[days >= start]]
        drawn = pd.concat(parts, ignore_index=True)
        method = ("resampled: N_t ~ Poisson(factor x real lines/day over t +- pool_days x weekday profile; "
                  "Black Friday unpooled); each line draws zone, SKU (category mix of t +- 30 days), units "
                  "and purchase minute independently from the region's real delivered lines")

    hist = drawn[drawn["date"] < start]
    demand = (hist.groupby(["date", "sku", "zone"], sort=True)["units"].sum().astype(float)
              .rename("quantity").reset_index())
    demand["date"] = demand["date"].astype("datetime64[ns]")
    orders = _orders(drawn[drawn["date"] >= start], zones, cfg)

    bf = black_fridays(first.date(), (start + pd.Timedelta(days=60)).date())
    events = pd.DataFrame({
        "date": pd.to_datetime(bf).astype("datetime64[ns]"), "name": [f"black-friday-{d.year}" for d in bf],
        "kind": "promotion", "start_min": 0.0, "end_min": 1440.0,
    })
    volume = {
        "factor": float(cfg.scale),
        "reason": cfg.scale_reason if cfg.scale != 1.0 else "not scaled",
        "method": method,
        "pool_days": int(cfg.pool_days),
        "real_lines_per_day": round(real_hist, 3),
        "instance_lines_per_day": round(float(len(hist)) / cfg.history_days, 3),
        "instance_orders_per_planning_day": round(float(len(orders)) / cfg.order_days, 3),
    }
    segments = segment_notes(cfg, lines[window], orders)
    return DemandBuild(skus=skus, demand=demand, orders=orders, events=events, volume=volume, segments=segments)


def _orders(drawn: pd.DataFrame, zones: pd.DataFrame, cfg: OlistConfig) -> pd.DataFrame:
    """Orders of the planning days: one SKU line each, placed in the zone's disc (each day from
    its own stream), with its segment."""
    d = drawn.sort_values(["date", "minute", "zone", "sku"], kind="stable").reset_index(drop=True)
    n = len(d)
    zi = pd.Index(zones["id"]).get_indexer(d["zone"])
    u, a = np.empty(n), np.empty(n)
    for day, idx in d.groupby("date", sort=True).indices.items():
        rng = stream(cfg.seed, _DAY_PLACES, day)
        u[idx] = rng.random(len(idx))
        a[idx] = rng.uniform(0, 2 * np.pi, len(idx))
    r = zones["radius_km"].to_numpy()[zi] * np.sqrt(u)
    lat0 = zones["lat"].to_numpy()[zi]
    lat = lat0 + r * np.sin(a) / 110.574
    lon = zones["lon"].to_numpy()[zi] + r * np.cos(a) / (111.320 * np.cos(np.radians(lat0)))
    seg = d["segment"].to_numpy()
    return pd.DataFrame({
        "id": [f"O{i + 1:06d}" for i in range(n)],
        "date": d["date"].astype("datetime64[ns]").to_numpy(),
        "created_min": np.round(np.clip(d["minute"].to_numpy(dtype=float), 0.0, 1439.9), 1),
        "sku": d["sku"].to_numpy(), "quantity": d["units"].to_numpy(dtype=np.int64),
        "zone": d["zone"].to_numpy(), "lat": np.round(lat, 5), "lon": np.round(lon, 5), "segment": seg,
    })
