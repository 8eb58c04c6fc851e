"""The validated, immutable :class:`Instance`."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from engine.instance.manifest import Manifest, PromiseTier
from engine.instance.schema import empty_frame
from engine.travel import TravelModel


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
    road_nodes: pd.DataFrame = field(default_factory=lambda: empty_frame("road_nodes"))
    roads: pd.DataFrame = field(default_factory=lambda: empty_frame("roads"))

    @property
    def name(self) -> str:
        return self.manifest.name

    @cached_property
    def _travel(self) -> TravelModel:
        t = self.manifest.travel
        return TravelModel.from_frames(t.circuity, t.fleet_speed_kmh, t.crowd_speed_kmh, self.road_nodes, self.roads)

    def travel_model(self) -> TravelModel:
        """Distances and travel times of this instance: on its road graph if it has one (built once)."""
        return self._travel

    @cached_property
    def forward_warehouses(self) -> pd.DataFrame:
        return self.warehouses[self.warehouses["kind"] == "forward"].reset_index(drop=True)

    @cached_property
    def central(self) -> pd.Series:
        return self.warehouses[self.warehouses["kind"] == "central"].iloc[0]

    def warehouse_zone_minutes(self, speed_kmh: float | None = None) -> pd.DataFrame:
        """Travel minutes from every forward warehouse to every zone centre (fleet speed by default)."""
        fw, z, t = self.forward_warehouses, self.zones, self.manifest.travel
        mins = self.travel_model().minutes_at(fw["lat"], fw["lon"], z["lat"], z["lon"], speed_kmh or t.fleet_speed_kmh)
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
        roads = {"road_nodes": int(len(self.road_nodes)), "roads": int(len(self.roads))} if len(self.roads) else {}
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
            **roads,
        }
