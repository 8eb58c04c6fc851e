"""Build a nearstock instance from the Olist public e-commerce dataset.

``import_olist(src, out, config)`` reads the Olist CSVs in ``src``, keeps the customers of one
region, and writes a validated instance to ``out``:

- zones = customer zip prefixes (or zip sectors) at their geolocation centroid;
- SKUs = product categories (top ``max_skus``, the rest as "other"; optionally × size class);
- demand history and realised orders = delivered order lines by purchase day and zone, scaled
  by an explicit factor where the data is too thin (see :mod:`engine.importers.olist_demand`);
- forward warehouses at weighted k-medians of zone demand, the central DC at the real sellers'
  median; couriers synthetic and seeded;
- promise tiers: the fast tier of the network kind and the real Olist promise (median promised
  days of the region) from the central DC; the real baseline (late share, delivery-time
  distribution) and every assumption recorded in the manifest ``notes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ConfigError
from engine.importers.olist_baseline import baseline_frame, delivery_baseline
from engine.importers.olist_config import OlistConfig
from engine.importers.olist_demand import build_demand
from engine.importers.olist_network import build_zones, place_warehouses, synth_couriers
from engine.importers.olist_segments import customer_flags, segment_rule_of
from engine.importers.olist_source import OlistSource, read_olist
from engine.instance import (
    DEFAULT_TARGETS,
    DEFAULT_WEIGHTS,
    DispatchParams,
    Instance,
    Manifest,
    Planning,
    PromiseTier,
    Quality,
    Segment,
    SimulationParams,
    Travel,
    load_instance,
    write_instance,
)
from engine.io import atomic_write_text
from engine.solver import Settings

LICENCE = "CC BY-NC-SA 4.0"
ATTRIBUTION = ("Derived from the Olist Brazilian E-Commerce Public Dataset (Olist, Kaggle "
               "olistbr/brazilian-ecommerce), licensed CC BY-NC-SA 4.0 "
               "(https://creativecommons.org/licenses/by-nc-sa/4.0/); this derived instance is shared "
               "under the same licence, for non-commercial use.")


@dataclass(frozen=True, slots=True)
class OlistImport:
    """What one import built: the instance, its settings, and what was kept or dropped."""

    instance: Instance
    config: OlistConfig
    counts: dict[str, int]
    path: Path | None = None
    warnings: tuple[str, ...] = ()

    @property
    def notes(self) -> dict[str, Any]:
        return dict(self.instance.manifest.notes)

    def baseline(self) -> pd.DataFrame:
        return baseline_frame(self.notes)

    def to_frame(self) -> pd.DataFrame:
        """Tidy: one row per measured quantity (source counts, instance sizes, volume, segment
        shares, baseline)."""
        rows = [("source", k, float(v)) for k, v in self.counts.items()]
        rows += [("instance", k, float(v)) for k, v in self.instance.summary().items() if isinstance(v, (int, float))]
        vol = self.notes.get("volume", {})
        rows += [("volume", k, float(v)) for k, v in vol.items() if isinstance(v, (int, float))]
        seg = self.notes.get("segments", {})
        rows += [("segment_real_share", k, float(v)) for k, v in seg.get("real_shares", {}).items()]
        rows += [("segment_order_share", k, float(v)) for k, v in seg.get("order_shares", {}).items()]
        rows += [("baseline_" + r.scope.replace(" ", "_"), r.indicator, float(r.value))
                 for r in self.baseline().itertuples(index=False)]
        return pd.DataFrame(rows, columns=["group", "name", "value"])

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.instance.name, "path": str(self.path) if self.path else None,
                "region": self.config.region.name, "counts": dict(self.counts),
                "summary": self.instance.summary(), "warnings": list(self.warnings), "notes": self.notes}


def _weekday_profile(lines: pd.DataFrame) -> np.ndarray:
    dates = pd.to_datetime(lines["purchased"]).dt.normalize()
    per_day = dates.value_counts()
    full = per_day.reindex(pd.date_range(dates.min(), dates.max(), freq="D"), fill_value=0)
    prof = full.groupby(full.index.day_of_week).mean().reindex(range(7), fill_value=0.0).to_numpy(dtype=float)
    return prof / prof.mean() if prof.mean() > 0 else np.ones(7)


def build_olist(source: OlistSource, config: OlistConfig) -> OlistImport:
    """Build the instance in memory (not validated: :func:`import_olist` writes and validates)."""
    cfg = config
    rng = np.random.default_rng(cfg.seed)  # the network and couriers; demand draws its own streams
    region = cfg.region
    # every order's segment from its customer's real history (all regions: a person may move)
    flags = customer_flags(source.orders, cfg)
    all_lines = source.lines.join(flags[["repeat", "capital", "segment"]], on="order")
    in_region = all_lines["state"].isin(region.states)
    if region.city:
        in_region &= all_lines["city"] == region.city
    lines = all_lines[in_region]
    if lines.empty:
        raise ConfigError(f"the Olist source has no delivered order in {region.label()}")

    zb = build_zones(lines, source.prefixes, cfg)
    built = build_demand(zb.lines, zb.zones, _weekday_profile(source.lines), cfg)
    skus = built.skus
    vol = skus.set_index("id")["unit_volume_m3"]
    hist = built.demand
    daily_m3 = float((hist["quantity"] * hist["sku"].map(vol)).sum()) / cfg.history_days
    zone_units = hist.groupby("zone")["quantity"].sum()

    pref = source.prefixes.set_index("prefix")
    sl = zb.lines[zb.lines["seller_prefix"].isin(pref.index)]
    su = sl.groupby("seller_prefix")["units"].sum()
    sellers = pd.DataFrame({"lat": pref.loc[su.index, "lat"].to_numpy(), "lon": pref.loc[su.index, "lon"].to_numpy(),
                            "units": su.to_numpy(dtype=float)})
    warehouses = place_warehouses(zb.zones, zone_units, sellers, daily_m3, cfg, rng)
    fleet, crowd = synth_couriers(warehouses, zb.zones, cfg, rng)

    o = source.orders
    o_mask = o["state"].isin(region.states)
    if region.city:
        o_mask &= o["city"] == region.city
    o_region = o[o_mask]
    base = delivery_baseline(o_region, f"delivered orders of {region.label()} in the source sample")
    base_all = delivery_baseline(o, "delivered orders of all regions in the source sample")
    if not base.get("orders"):
        raise ConfigError(f"no delivered order with a delivery date in {region.label()}: no baseline")
    base["source"] = base_all["source"] = ("Olist public dataset sample (CC BY-NC-SA 4.0): purchase, delivered "
                                           "and estimated delivery dates of delivered orders")
    promised_days = max(1.0, round(float(base["median_promised_days"])))

    counts = {
        "source_delivered_lines": int(len(source.lines)),
        "region_delivered_lines": int(len(lines)),
        "lines_without_coordinates": zb.dropped_no_coordinates,
        "lines_far_from_region": zb.dropped_far,
        "lines_used": int(len(zb.lines)),
        "zones": int(len(zb.zones)),
        "sellers_shipping_to_region": int(len(su)),
    }
    notes = _notes(source, cfg, built.volume, counts, base, base_all, zb.prefixes_per_zone, promised_days)
    notes["segments"] = built.segments
    manifest = Manifest(
        name=cfg.name,
        description=(f"Real-data {cfg.kind} network from the Olist public dataset sample: {region.label()}, "
                     f"{len(zb.zones)} zones, {len(skus)} SKUs (product categories), "
                     f"{len(warehouses) - 1} forward warehouses. Volume scaled x{cfg.scale:g} (see notes.volume)."),
        seed=cfg.seed,
        currency="BRL",
        attribution=ATTRIBUTION,
        planning=Planning(start_date=cfg.start_date, horizon_days=7, cycle_days=1,
                          scenarios=20, picking_min=cfg.picking_min),
        travel=Travel(circuity=cfg.circuity, fleet_speed_kmh=cfg.fleet_speed_kmh,
                      crowd_speed_kmh=cfg.crowd_speed_kmh, service_min=cfg.service_min),
        promise=(PromiseTier(cfg.fast_tier, cfg.fast_max_min, "forward", cfg.coverage_min),
                 PromiseTier("olist_promise", promised_days * 1440.0, "central", 0.0)),
        segments=tuple(Segment(sid, built.segments["real_shares"][sid], promise_min, weight,
                               rule=segment_rule_of(sid, cfg))
                       for sid, promise_min, weight in cfg.segments),
        # slow-promise orders (shipped from the central DC) arrive on time at the real Olist rate
        dispatch=_dispatch_params(cfg),
        simulation=SimulationParams(central_on_time=float(base["on_time_share"])),
        quality=Quality(targets=dict(DEFAULT_TARGETS) | dict(cfg.targets), weights=dict(DEFAULT_WEIGHTS)),
        # most (sku, zone, day) cells are zero: an intermittent-demand method by default
        solver={"forecast": Settings(backend="tsb")},
        # weeks of orders and a long history: gzipped, so the shipped instances stay small
        tables=({"demand": "demand.csv.gz"} if len(hist) > 20_000 else {})
        | ({"orders": "orders.csv.gz"} if len(built.orders) > 2_000 else {}),
        notes=notes,
    )
    inst = Instance(manifest=manifest, warehouses=warehouses, zones=zb.zones, skus=skus, demand=hist,
                    events=built.events, fleet=fleet, crowd=crowd, orders=built.orders)
    return OlistImport(instance=inst, config=cfg, counts=counts, warnings=_warnings(inst, cfg))


def _warnings(inst: Instance, cfg: OlistConfig) -> tuple[str, ...]:
    """What a user should know before running the instance (it is valid all the same)."""
    out = []
    first = inst.orders[inst.orders["date"] == pd.Timestamp(cfg.start_date)]
    if first.empty:
        out.append(f"no orders on the first planning day {cfg.start_date}: `nearstock run` needs some; "
                   "raise --scale, widen --pool-days or choose another --start-date")
    n_fw = int((inst.warehouses["kind"] == "forward").sum())
    if n_fw < cfg.warehouses:
        out.append(f"only {n_fw} forward warehouses placed (asked {cfg.warehouses}): too few zones with demand")
    days_with = inst.demand["date"].nunique()
    if days_with < 0.5 * cfg.history_days:
        out.append(f"demand on only {days_with} of {cfg.history_days} history days: the region is thin, "
                   "forecasts will be rough")
    return tuple(out)


def _dispatch_params(cfg: OlistConfig) -> DispatchParams:
    d = DispatchParams()
    return DispatchParams(
        unserved_penalty=d.unserved_penalty if cfg.unserved_penalty is None else cfg.unserved_penalty,
        late_penalty_per_min=d.late_penalty_per_min,
        wave_min=d.wave_min if cfg.wave_min is None else cfg.wave_min,
    )


def _notes(source: OlistSource, cfg: OlistConfig, volume: dict[str, Any], counts: dict[str, int],
           base: dict[str, Any], base_all: dict[str, Any], prefixes_per_zone: float,
           promised_days: float) -> dict[str, Any]:
    """Provenance, scaling, synthetic parts and the real baseline, as TOML-safe data."""
    return {
        "source": {
            "dataset": "Olist Brazilian E-Commerce Public Dataset (Kaggle olistbr/brazilian-ecommerce)",
            "publisher": "Olist",
            "licence": LICENCE,
            "files": list(source.files),
            "sample": ("the source may be a sample: the copy this instance was built from keeps every "
                       "non-delivered order but only ~5% of delivered ones (about 1/19 of real volume); "
                       "only delivered orders are used here"),
            **{k: int(v) for k, v in source.summary().items()},
        },
        "region": {
            "name": cfg.region.name, "states": list(cfg.region.states), "city": cfg.region.city or "",
            "kind": cfg.kind, "zone_digits": int(cfg.zone_digits),
            "max_zone_km": float(cfg.max_zone_km) if cfg.max_zone_km is not None else -1.0,
            "zip_prefixes_per_zone": round(prefixes_per_zone, 2), **counts,
        },
        "volume": volume,
        "skus": {
            "definition": ("product categories (English names), top max_skus by units in the history and order "
                           "days, the rest merged into 'other'" + ("; x size class S/M/L by product volume "
                                                                  "terciles" if cfg.size_classes else "")),
            "max_skus": int(cfg.max_skus),
            "unit_volume_m3": "median product volume (length x height x width) of the SKU's delivered lines",
            "unit_value": "median unit price (BRL) of the SKU's delivered lines",
            "fragile": "assumed from the category (electronics, glass, appliances, perfumery, ...)",
            "high_value": f"median unit price >= {cfg.high_value_price:g} BRL",
        },
        "network": {
            "forward_warehouses": "weighted k-medians of zone centres, weights = units of the history window",
            "central_dc": "item-weighted geometric median of the real sellers' zip centroids shipping to the region",
            "capacity": "forward storage = 1.5 x the day's mean demand volume nearest to the warehouse",
            "central_promise_days": promised_days,
            "central_promise": "median promised days (purchase -> estimated delivery) of the region's delivered orders",
            "targets_changed": {k: float(v) for k, v in cfg.targets},
        },
        "forecast": ("TSB (intermittent demand) is the default forecast: most (sku, zone, day) cells are "
                     "zero; on the shipped instances it stocks more of the realised demand forward than "
                     "the holdout's pick (seasonal naive). `nearstock run --forecast auto` lets the holdout choose"),
        "synthetic": {
            "couriers": f"fleet and crowd are synthetic (seeded, seed {cfg.seed}): Olist has no courier data",
            "order_locations": "customers placed uniformly in their zone's disc: Olist gives only the zip prefix",
            "segment_promises": ("each segment's promise and weight are assumptions; the segments and "
                                 "their shares come from the real customer histories (notes.segments)"),
            "costs": "warehouse and courier costs are assumptions in BRL, not Olist figures",
        },
        "baseline": base,
        "baseline_all_regions": base_all,
    }


def import_olist(src: str | Path, out: str | Path, config: OlistConfig, *, overwrite: bool = True) -> OlistImport:
    """Read the Olist CSVs in ``src``, build the instance, write it to ``out`` and validate it."""
    result = build_olist(read_olist(src), config)
    write_instance(result.instance, out, overwrite=overwrite)
    atomic_write_text(Path(out) / "README.md", readme(result))
    inst = load_instance(out)
    return OlistImport(instance=inst, config=config, counts=result.counts, path=Path(out), warnings=result.warnings)


def readme(result: OlistImport) -> str:
    """Attribution, licence and how the instance was built (written beside the tables)."""
    m = result.instance.manifest
    n = m.notes
    b = n["baseline"]
    v = n["volume"]
    c = result.config
    return f"""# {m.name}

{m.description}

## Attribution and licence
{ATTRIBUTION}

Built by `nearstock import olist` from the Olist public dataset sample. Only delivered orders are
used. Zones are real customer zip prefixes (centroids of Olist's geolocation table), SKUs are real
product categories, demand and orders come from real purchase days and minutes.

Planning days: the {c.order_days} real purchase days from {c.start_date} ({len(result.instance.orders)} orders,
each with its customer segment); demand history: the {c.history_days} days before.

## What is scaled or synthetic (see `instance.toml` [notes])
- Volume: x{v['factor']:g} — {v['reason']}. Method: {v['method']}.
  Real lines/day in the history window: {v['real_lines_per_day']}; in the instance: {v['instance_lines_per_day']}.
- Couriers, warehouse and courier costs and exact customer positions are synthetic
  (seed {m.seed}); Olist has none of them.
- Customer segments come from the real customer histories: {n['segments']['rule']}.
  Real shares ({n['segments']['real_lines']} delivered lines of the history and order days):
  {', '.join(f'{k} {v:.1%}' for k, v in n['segments']['real_shares'].items())}. Each segment's
  promise and weight are assumptions (`[[segments]]` in `instance.toml`).

## Real service baseline ({b['scope']})
- delivered orders: {b['orders']} (purchases {b['purchases_from']} .. {b['purchases_to']})
- late (after the promised date): {b['late_share']:.1%}
- purchase -> delivery days: median {b['median_delivery_days']}, p90 {b['delivery_days_quantiles']['p90']}
- promised days: median {b['median_promised_days']}
"""
