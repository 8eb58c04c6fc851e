"""The instance tables as data: one :class:`Table` per file, one :class:`Column` per column.

The same specification drives the reader, the validator, the writer and the documentation
(``docs/instance-format.md`` is checked against it by a test).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import pandas as pd

Kind = Literal["id", "str", "int", "float", "bool", "date"]

# A CSV column whose name starts with this prefix is the user's own (a note, a source id): it is
# allowed and ignored. Any other column the schema does not name is an error, so that a typo
# such as ``latitude`` for ``lat`` is never silently dropped.
EXTRA_PREFIX = "x_"

# Every date, in a table or the manifest, lies in this range (inclusive)
DATE_MIN, DATE_MAX = dt.date(1900, 1, 1), dt.date(2200, 12, 31)


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    unit: str = ""
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    choices: tuple[str, ...] | None = None
    ref: str | None = None  # "table.column" this column must refer to
    optional: bool = False  # the column may be absent (a default is filled in)
    default: object = None
    description: str = ""

    def range_text(self) -> str:
        if self.choices:
            return " or ".join(self.choices)
        if self.min is None and self.max is None:
            return ""
        lo = "" if self.min is None else (f"> {self.min:g}" if self.min_exclusive else f">= {self.min:g}")
        hi = "" if self.max is None else f"<= {self.max:g}"
        return ", ".join(p for p in (lo, hi) if p)


@dataclass(frozen=True, slots=True)
class Order:
    """A row rule: column ``lo`` must be strictly less than column ``hi``."""

    lo: str
    hi: str


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    default_file: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    required: bool = True
    nonempty: bool = False
    orders: tuple[Order, ...] = ()
    description: str = ""

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


# Every number has a documented upper bound: far beyond any real instance, low enough that no
# sum or product the models form overflows or loses all precision.
LAT = dict(kind="float", unit="degrees", min=-90.0, max=90.0)
LON = dict(kind="float", unit="degrees", min=-180.0, max=180.0)
MINUTE_OF_DAY = dict(unit="min from midnight", min=0.0, max=2880.0)
MONEY = dict(kind="float", unit="currency", min=0.0, max=1e9)
VOLUME = dict(kind="float", unit="m3", min=0.0, max=1e6)

TABLES: tuple[Table, ...] = (
    Table(
        "warehouses",
        "warehouses.csv",
        (
            Column("id", "id", description="warehouse id"),
            Column("kind", "str", choices=("central", "forward"), description="one central DC; forward warehouses near customers"),
            Column("lat", **LAT), Column("lon", **LON),
            Column("capacity_m3", **VOLUME, description="storage volume for forward stock"),
            Column("handling_cost_per_unit", **MONEY, description="pick/pack and inbound handling per unit stocked"),
            Column("holding_cost_per_m3_day", **MONEY, description="holding cost per m3 per day"),
            Column("allows_high_value", "bool", optional=True, default=True, description="may store high-value SKUs"),
        ),
        key=("id",),
        nonempty=True,
        description="The central DC and the forward warehouses.",
    ),
    Table(
        "zones",
        "zones.csv",
        (
            Column("id", "id", description="demand zone id"),
            Column("lat", **LAT), Column("lon", **LON),
            Column("radius_km", "float", unit="km", min=0.0, max=1000.0, min_exclusive=True, description="customers are spread around the centre within this radius"),
            Column("weight", "float", min=0.0, max=1e9, optional=True, default=1.0, description="relative population / demand weight"),
        ),
        key=("id",),
        nonempty=True,
        description="Demand zones (zone centres).",
    ),
    Table(
        "skus",
        "skus.csv",
        (
            Column("id", "id", description="SKU id"),
            Column("category", "str", description="product category"),
            Column("unit_volume_m3", "float", unit="m3", min=0.0, max=1000.0, min_exclusive=True),
            Column("unit_value", **MONEY, description="value of one unit"),
            Column("fragile", "bool", optional=True, default=False, description="needs fragile handling and packaging"),
            Column("high_value", "bool", optional=True, default=False, description="high-value goods: allowed couriers and warehouses only"),
        ),
        key=("id",),
        nonempty=True,
        description="Stock-keeping units.",
    ),
    Table(
        "demand",
        "demand.csv",
        (
            Column("date", "date", description="day of the demand (YYYY-MM-DD), before planning.start_date"),
            Column("sku", "id", ref="skus.id"),
            Column("zone", "id", ref="zones.id"),
            Column("quantity", "float", unit="units", min=0.0, max=1e9, description="units demanded; absent rows mean 0"),
        ),
        key=("date", "sku", "zone"),
        nonempty=True,
        description="Demand history, long format; a missing (date, sku, zone) row means zero demand.",
    ),
    Table(
        "events",
        "events.csv",
        (
            Column("date", "date"),
            Column("name", "str"),
            Column("kind", "str", choices=("promotion", "livestream")),
            Column("start_min", "float", **MINUTE_OF_DAY, optional=True, default=0.0),
            Column("end_min", "float", **MINUTE_OF_DAY, optional=True, default=1440.0),
        ),
        key=("date", "name"),
        required=False,
        orders=(Order("start_min", "end_min"),),
        description="Known calendar of sales events (past and planned), e.g. promotions and live-stream sales.",
    ),
    Table(
        "fleet",
        "fleet.csv",
        (
            Column("id", "id", description="courier id (unique across fleet and crowd)"),
            Column("warehouse", "id", ref="warehouses.id", description="home warehouse: routes start and end here"),
            Column("capacity_m3", **VOLUME),
            Column("shift_start_min", "float", **MINUTE_OF_DAY),
            Column("shift_end_min", "float", **MINUTE_OF_DAY),
            Column("fixed_cost", **MONEY, description="cost of using the courier for the day"),
            Column("cost_per_km", **MONEY),
            Column("cost_per_hour", **MONEY),
        ),
        key=("id",),
        required=False,
        orders=(Order("shift_start_min", "shift_end_min"),),
        description="Own fleet couriers.",
    ),
    Table(
        "crowd",
        "crowd.csv",
        (
            Column("id", "id", description="courier id (unique across fleet and crowd)"),
            Column("lat", **LAT), Column("lon", **LON),
            Column("available_from_min", "float", **MINUTE_OF_DAY),
            Column("available_to_min", "float", **MINUTE_OF_DAY),
            Column("capacity_m3", **VOLUME),
            Column("pay_per_delivery", **MONEY),
            Column("pay_per_km", **MONEY),
            Column("acceptance_probability", "float", min=0.0, max=1.0),
            Column("may_carry_special", "bool", optional=True, default=False),
            Column("max_work_min", "float", unit="min", min=0.0, max=2880.0, min_exclusive=True),
        ),
        key=("id",),
        required=False,
        orders=(Order("available_from_min", "available_to_min"),),
        description="Crowdsourced couriers: own start place and hours, paid per delivery.",
    ),
    Table(
        "orders",
        "orders.csv",
        (
            Column("id", "id"),
            Column("date", "date", description="day of the order (on or after planning.start_date)"),
            Column("created_min", "float", unit="min from midnight", min=0.0, max=1440.0),
            Column("sku", "id", ref="skus.id"),
            Column("quantity", "int", unit="units", min=1.0, max=1e9),
            Column("zone", "id", ref="zones.id"),
            Column("lat", **LAT), Column("lon", **LON),
            Column("segment", "id", description="customer segment id from instance.toml [[segments]]"),
        ),
        key=("id",),
        required=False,
        description="Realised orders of the planning days (one SKU line per order).",
    ),
    Table(
        "road_nodes",
        "road_nodes.csv",
        (
            Column("id", "id", description="road node id"),
            Column("lat", **LAT), Column("lon", **LON),
        ),
        key=("id",),
        required=False,
        description=("Road graph nodes (junctions). Optional, but only together with roads.csv: "
                     "with both, travel is routed on the graph (see \"Road graph\" below)."),
    ),
    Table(
        "roads",
        "roads.csv",
        (
            Column("from", "id", ref="road_nodes.id"),
            Column("to", "id", ref="road_nodes.id"),
            Column("length_km", "float", unit="km", min=0.0, max=20000.0, min_exclusive=True, description="length along the road"),
            Column("minutes", "float", unit="min", min=0.0, max=1e5, min_exclusive=True, description="driving time of a fleet courier"),
            Column("oneway", "bool", optional=True, default=False, description="only from -> to may be driven"),
        ),
        key=("from", "to"),
        required=False,
        description=("Road graph edges. Optional, but only together with road_nodes.csv; every warehouse "
                     "and zone centre must be able to reach every forward warehouse and zone on it."),
    ),
)

TABLE_BY_NAME = {t.name: t for t in TABLES}
_DTYPES = {"id": "object", "str": "object", "int": "int64", "float": "float64", "bool": "bool", "date": "datetime64[ns]"}


def empty_frame(name: str) -> pd.DataFrame:
    """An empty table with the schema's columns and dtypes (an optional table that is absent)."""
    spec = TABLE_BY_NAME[name]
    return pd.DataFrame({c.name: pd.Series(dtype=_DTYPES[c.kind]) for c in spec.columns})


def schema_markdown() -> str:
    """The table reference of ``docs/instance-format.md``, generated from :data:`TABLES`."""
    out: list[str] = []
    for t in TABLES:
        need = "required" if t.required else "optional"
        out.append(f"### `{t.default_file}` ({need})\n")
        out.append(f"{t.description} Key: `{', '.join(t.key)}`."
                   + (" Must have at least one row." if t.nonempty else "")
                   + "".join(f" `{o.lo}` < `{o.hi}` on every row." for o in t.orders) + "\n")
        out.append("| column | type | unit | allowed | refers to | notes |")
        out.append("|---|---|---|---|---|---|")
        for c in t.columns:
            note = c.description
            if c.optional:
                note = (note + "; " if note else "") + f"optional column, default `{c.default}`"
            out.append(f"| `{c.name}` | {c.kind} | {c.unit} | {c.range_text()} | {f'`{c.ref}`' if c.ref else ''} | {note} |")
        out.append("")
    return "\n".join(out)
