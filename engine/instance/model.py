"""The validated, immutable :class:`Instance`."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from engine.instance.manifest import Manifest, PromiseTier
from engine.travel import minutes, road_km


@dataclass(frozen=True, eq=False)
class Instance:
    """A complete, validated planning instance.

    Tables are pandas DataFrames with clean dtypes (ids as str, flags as bool, dates as
    ``datetime64``). Treat them as read-only; derive new instances with ``dataclasses.replace``.
    """

    manifest: Manifest
    warehouses: pd.DataFrame
    zones: pd.DataFrame
    skus: pd.DataFrame
    demand: pd.DataFrame
    events: pd.DataFrame
    fleet: pd.DataFrame
    crowd: pd.DataFrame
    orders: pd.DataFrame
    path: Path | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return self.manifest.name

    @cached_property
    def forward_warehouses(self) -> pd.DataFrame:
        return self.warehouses[self.warehouses["kind"] == "forward"].reset_index(drop=True)

    @cached_property
    def central(self) -> pd.Series:
        return self.warehouses[self.warehouses["kind"] == "central"].iloc[0]

    def warehouse_zone_minutes(self, speed_kmh: float | None = None) -> pd.DataFrame:
        """Travel minutes from every forward warehouse to every zone centre (fleet speed by default)."""
        fw, z, t = self.forward_warehouses, self.zones, self.manifest.travel
        km = road_km(fw["lat"], fw["lon"], z["lat"], z["lon"], t.circuity)
        mins = minutes(km, speed_kmh or t.fleet_speed_kmh)
        return pd.DataFrame(mins, index=pd.Index(fw["id"], name="warehouse"), columns=pd.Index(z["id"], name="zone"))

    def coverage(self, tier: PromiseTier | None = None) -> pd.DataFrame:
        """Which forward warehouse covers which zone on a forward tier (default: the instant tier)."""
        tier = tier or self.manifest.instant_tier
        return self.warehouse_zone_minutes() <= tier.coverage_min

    @property
    def history_dates(self) -> pd.DatetimeIndex:
        """Every day of the demand history, first recorded day to the day before planning starts."""
        start = pd.Timestamp(self.manifest.planning.start_date)
        return pd.date_range(self.demand["date"].min(), start - pd.Timedelta(days=1), freq="D")

    def summary(self) -> dict[str, object]:
        d = self.demand
        return {
            "name": self.name,
            "warehouses_forward": int(len(self.forward_warehouses)),
            "zones": int(len(self.zones)),
            "skus": int(len(self.skus)),
            "history_days": int(len(self.history_dates)),
            "history_units": float(d["quantity"].sum()),
            "events": int(len(self.events)),
            "fleet": int(len(self.fleet)),
            "crowd": int(len(self.crowd)),
            "orders": int(len(self.orders)),
            "start_date": self.manifest.planning.start_date.isoformat(),
        }
