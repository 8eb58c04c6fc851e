"""What an Olist import builds: the region, its network shape and the volume scaling.

A :class:`Region` selects customers by state or by city. :class:`OlistConfig` holds every knob
of the import, and :data:`PRESETS` gives one configuration per shipped kind of network:

- ``sp-state``: a regional network over São Paulo state, zones = 3-digit zip sectors, forward
  warehouses in several cities, next-day promise from them, the real Olist promise otherwise;
- ``south-east``: the same over SP, RJ, MG and ES;
- ``sp-city``: a last-mile network in São Paulo city, zones = the 5-digit zip prefixes, an
  instant (60 min) promise from forward warehouses.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, fields, replace
from typing import Any

from engine.errors import ConfigError

SAMPLE_THINNING = 19.0  # the sample keeps ~1/19 of delivered orders (shared SOURCES.md)


@dataclass(frozen=True, slots=True)
class Region:
    """Customers kept: those in any of ``states`` (UF codes) and, if given, in ``city``."""

    name: str
    states: tuple[str, ...]
    city: str | None = None

    def label(self) -> str:
        return f"city {self.city!r} ({'/'.join(self.states)})" if self.city else f"state(s) {', '.join(self.states)}"


REGIONS: dict[str, Region] = {
    "sp-state": Region("sp-state", ("SP",)),
    "sp-city": Region("sp-city", ("SP",), "sao paulo"),
    "south-east": Region("south-east", ("SP", "RJ", "MG", "ES")),
    "rj-city": Region("rj-city", ("RJ",), "rio de janeiro"),
}
UF = re.compile(r"^[A-Z]{2}$")


def parse_region(text: str) -> Region:
    """A region by preset name, ``state:SP,RJ`` or ``city:sao paulo/SP``."""
    t = text.strip()
    if t.lower() in REGIONS:
        return REGIONS[t.lower()]
    kind, _, rest = t.partition(":")
    if kind.lower() == "state" and rest:
        states = tuple(s.strip().upper() for s in rest.split(",") if s.strip())
        if states and all(UF.match(s) for s in states):
            return Region("state-" + "-".join(s.lower() for s in states), states)
    if kind.lower() == "city" and rest:
        name, _, uf = rest.partition("/")
        uf = uf.strip().upper()
        if name.strip() and UF.match(uf):
            city = name.strip().lower()
            return Region("city-" + re.sub(r"[^a-z0-9]+", "-", city).strip("-"), (uf,), city)
    raise ConfigError(f"unknown region {text!r}; use one of {', '.join(REGIONS)}, "
                      "'state:SP' / 'state:SP,RJ' or 'city:campinas/SP'")


def rule_segment_ids(by_region: bool) -> tuple[str, ...]:
    """The segment ids of the customer-history rule (see :mod:`engine.importers.olist_segments`)."""
    if by_region:
        return ("capital-repeat", "capital-new", "interior-repeat", "interior-new")
    return ("repeat", "new")


@dataclass(frozen=True, slots=True)
class OlistConfig:
    """Every knob of an Olist import (see docs/olist.md)."""

    region: Region = REGIONS["sp-city"]
    kind: str = "city"  # "city" (instant last-mile promise) or "regional" (next-day promise)
    zone_digits: int = 5  # zip digits that define a zone: 5 = the zip prefix, 3 = a zip sector
    max_zone_km: float | None = 35.0  # drop zones whose centre is farther from the demand median
    max_skus: int = 12  # top categories kept as SKUs; the rest become one "other" SKU
    size_classes: bool = False  # SKU = category × size class (S/M/L by product volume terciles)
    warehouses: int = 8  # forward warehouses (weighted k-medians over zone demand)
    start_date: dt.date = dt.date(2018, 8, 1)
    history_days: int = 182
    order_days: int = 28  # days of realised orders from the planning start (four weeks)
    scale: float = 76.0  # volume factor (1 = the sample as it is)
    scale_reason: str = ("19 (undoes the sample's ~1/19 thinning of delivered orders) x 4 (a last-mile "
                         "operation about four times Olist's 2018 volume in the city, so dispatch has a real day)")
    pool_days: int = 3  # resampling window: lines of the days within ± pool_days feed a day's draw
    high_value_price: float = 300.0  # BRL: SKUs whose median unit price reaches this are high-value
    fleet_per_warehouse: int = 2
    crowd: int = 30
    seed: int = 2018
    name: str = "olist-sp-city"
    # promise and travel
    fast_tier: str = "instant"
    fast_max_min: float = 60.0
    coverage_min: float = 20.0
    picking_min: float = 8.0
    circuity: float = 1.35
    fleet_speed_kmh: float = 24.0
    crowd_speed_kmh: float = 18.0
    service_min: float = 4.0
    # customer segments from the real histories (olist_segments): (id, promise_min, weight) per id
    # of the rule; repeat customers get the faster promise and count three times in dispatch
    segments: tuple[tuple[str, float, float], ...] = (("repeat", 30.0, 3.0), ("new", 60.0, 1.0))
    segment_by_region: bool = False  # also split capital vs interior (regional networks)
    capital_city: str = "sao paulo"
    capital_state: str = "SP"
    repeat_within_days: int = 0  # recency: an earlier order counts only within this many days (0: any)
    # courier fleets: (capacity m3, shift minutes, fixed cost, per km, per hour) and crowd (capacity, pay, pay/km)
    fleet_vehicle: tuple[float, float, float, float, float] = (0.15, 480.0, 160.0, 0.35, 22.0)
    fleet_shift_starts: tuple[float, ...] = (420.0, 900.0)
    crowd_vehicle: tuple[float, float, float] = (0.06, 7.5, 0.9)
    unserved_penalty: float | None = None  # dispatch penalty per unserved order (None: the default)
    wave_min: float | None = None  # dispatch re-plan period (None: the default)
    targets: tuple[tuple[str, float], ...] = ()  # quality targets that differ from the defaults

    def __post_init__(self) -> None:
        if self.kind not in ("city", "regional"):
            raise ConfigError(f"kind must be 'city' or 'regional', got {self.kind!r}")
        if self.zone_digits not in (3, 4, 5):
            raise ConfigError(f"zone_digits must be 3, 4 or 5, got {self.zone_digits}")
        checks = {"max_skus": self.max_skus >= 1, "warehouses": self.warehouses >= 1,
                  "history_days": self.history_days >= 28, "order_days": self.order_days >= 1,
                  "scale": self.scale >= 1.0, "pool_days": self.pool_days >= 0,
                  "fleet_per_warehouse": self.fleet_per_warehouse >= 0, "crowd": self.crowd >= 0}
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ConfigError("bad Olist import settings: " + ", ".join(
                f"{k}={getattr(self, k)!r}" for k in bad) + " (need max_skus, warehouses, order_days >= 1, "
                "history_days >= 28, scale >= 1, pool_days, fleet_per_warehouse, crowd >= 0)")
        want = rule_segment_ids(self.segment_by_region)
        if tuple(s[0] for s in self.segments) != want:
            raise ConfigError(f"segments must give (id, promise_min, weight) for the rule's segments {list(want)} "
                              f"in that order, got {[s[0] for s in self.segments]}")
        if self.repeat_within_days < 0:
            raise ConfigError(f"repeat_within_days must be >= 0 (0: any earlier day), got {self.repeat_within_days}")

    def with_(self, **changes: Any) -> OlistConfig:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ConfigError(f"unknown Olist import setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


CITY = OlistConfig()
REGIONAL = OlistConfig(
    region=REGIONS["sp-state"], kind="regional", zone_digits=3, max_zone_km=None, max_skus=12,
    warehouses=6, history_days=365, scale=SAMPLE_THINNING,
    scale_reason="19 (undoes the sample's ~1/19 thinning of delivered orders: the volume Olist really shipped)",
    fleet_per_warehouse=3, crowd=12, name="olist-sp",
    fast_tier="next_day", fast_max_min=1440.0, coverage_min=150.0, picking_min=120.0,
    circuity=1.25, fleet_speed_kmh=55.0, crowd_speed_kmh=50.0, service_min=8.0,
    # next day for everyone; repeat customers weigh three times in dispatch
    segments=(("capital-repeat", 1440.0, 3.0), ("capital-new", 1440.0, 1.0),
              ("interior-repeat", 1440.0, 3.0), ("interior-new", 1440.0, 1.0)),
    segment_by_region=True,
    fleet_vehicle=(6.0, 600.0, 420.0, 0.9, 30.0), fleet_shift_starts=(1860.0, 420.0),
    crowd_vehicle=(1.2, 18.0, 0.8),
    # an order missing the next-day promise falls back to the ~3-week Olist promise: worth a van trip
    unserved_penalty=450.0,
    # next-day vans are routed in a few cut-off waves a day, not every quarter hour
    wave_min=240.0,
    # assignment happens at the next cut-off wave: a 10-minute target is for instant networks
    targets=(("peak_assignment_p95_min", 300.0),),
)
PRESETS: dict[str, OlistConfig] = {
    "sp-city": CITY,
    "sp-state": REGIONAL,
    "south-east": REGIONAL.with_(region=REGIONS["south-east"], warehouses=8, name="olist-south-east"),
    "rj-city": CITY.with_(region=REGIONS["rj-city"], warehouses=6, name="olist-rj-city"),
}


def config_for(region: str, **changes: Any) -> OlistConfig:
    """The preset of a region name (city regions get the city preset, others the regional one)."""
    if region.strip().lower() in PRESETS:
        base = PRESETS[region.strip().lower()]
    else:
        reg = parse_region(region)
        base = (CITY if reg.city else REGIONAL).with_(region=reg, name=f"olist-{reg.name}")
    return base.with_(**changes)
