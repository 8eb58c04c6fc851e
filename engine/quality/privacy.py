"""Data protection of everything a run exports, checked field by field against a declared policy.

:data:`EXPORT_POLICY` declares, for every file a run writes, each column it may carry with a
class, and who reads the file:

* ``operational`` — quantities, times, states, flags, costs, codes;
* ``pseudonymous_id`` — order, courier, SKU and warehouse ids (meaningless outside the run);
* ``exact_location`` — coordinates as stored (planners only);
* ``coarse_location`` — zone ids, and coordinates rounded to :data:`COORD_DECIMALS` decimals
  (about 100 m: enough to find a street with the address the app shows at hand-over time);
* ``personal`` — anything that identifies a person (names, phones, e-mails, addresses):
  never exported.

Couriers read ``courier_manifest.csv``; planners read the rest. :func:`export_privacy` checks
a set of tables (file name → frame) without trusting how they were made: every file and
column declared, no personal field, courier-facing files with only operational, pseudonymous
and coarse-location fields, coarse coordinates really rounded, and no e-mail address or phone
number inside any text cell. Its score is the share of checks passed; a planner who exports
more detail (``courier_manifest(..., decimals=5)``, ``extra_columns=("segment",)``) or plants a
field fails, with the file and column named.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import EngineError

COORD_DECIMALS = 3
CLASSES = ("operational", "pseudonymous_id", "exact_location", "coarse_location", "personal")
AUDIENCES = ("courier", "planner")
COURIER_CLASSES = ("operational", "pseudonymous_id", "coarse_location")
# column names that are personal in any file, declared or not
PERSONAL_FIELDS = ("customer", "customer_id", "customer_name", "name", "first_name", "last_name", "phone",
                   "phone_number", "mobile", "email", "e_mail", "address", "street", "cpf", "tax_id", "birth_date")
CHECKS = ("file_declared", "column_declared", "not_personal", "audience_allows", "coordinates_rounded",
          "no_email", "no_phone")

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# runs of digits with the separators phone numbers are written with; 8 to 15 digits make a number
PHONE = re.compile(r"(?<![\w.])\+?\(?\d[\d ()./-]{6,}\d(?![\w])")
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
DECIMAL = re.compile(r"[+-]?\d+\.\d+")


class PrivacyPolicyError(EngineError):
    """An export policy that declares an unknown class or audience."""


@dataclass(frozen=True, slots=True)
class FilePolicy:
    """The columns one exported file may carry, each with its class, and the file's audience."""

    audience: str
    columns: Mapping[str, str]
    patterns: tuple[tuple[str, str], ...] = ()  # (regular expression on the name, class)

    def __post_init__(self) -> None:
        if self.audience not in AUDIENCES:
            raise PrivacyPolicyError(f"unknown audience {self.audience!r}; choose one of {', '.join(AUDIENCES)}")
        for col, cls in [*self.columns.items(), *self.patterns]:
            if cls not in CLASSES:
                raise PrivacyPolicyError(f"column {col!r}: unknown class {cls!r}; choose one of {', '.join(CLASSES)}")

    def field_class(self, column: str) -> str | None:
        """The declared class of ``column``, or None when the policy does not declare it."""
        if column in self.columns:
            return self.columns[column]
        for pattern, cls in self.patterns:
            if re.fullmatch(pattern, column):
                return cls
        return None


def _cols(classes: Mapping[str, Iterable[str]]) -> Mapping[str, str]:
    return MappingProxyType({c: cls for cls, names in classes.items() for c in names})


_OP, _ID, _EXACT, _COARSE = "operational", "pseudonymous_id", "exact_location", "coarse_location"

EXPORT_POLICY: Mapping[str, FilePolicy] = MappingProxyType({
    "forecast.csv": FilePolicy("planner", _cols({
        _OP: ("date", "mean", "method", "segment"), _ID: ("sku",), _COARSE: ("zone",)}),
        patterns=((r"q\d+(?:\.\d+)?", _OP),)),
    "stock_plan.csv": FilePolicy("planner", _cols({
        _OP: ("units", "volume_m3", "value"), _ID: ("sku", "warehouse")})),
    "stock_left.csv": FilePolicy("planner", _cols({
        _OP: ("start_units", "units_left"), _ID: ("sku", "warehouse")})),
    "orders_allocated.csv": FilePolicy("planner", _cols({
        _OP: ("created_min", "ready_min", "due_min", "quantity", "size_m3", "segment", "weight", "special",
              "fragile", "high_value", "unit_value", "source", "promise_min"),
        _ID: ("id", "sku", "warehouse"), _EXACT: ("lat", "lon"), _COARSE: ("zone",)})),
    "assignments.csv": FilePolicy("planner", _cols({
        _OP: ("status", "courier_kind", "trip", "stop_seq", "depart_min", "arrive_min", "due_min", "late_min",
              "reason", "assigned_min", "eta_min"),
        _ID: ("order", "courier", "warehouse")})),
    "routes.csv": FilePolicy("planner", _cols({
        _OP: ("courier_kind", "trip", "seq", "kind", "arrive_min", "depart_min", "load_m3", "km_from_prev", "loc"),
        _ID: ("courier", "order", "warehouse"), _EXACT: ("lat", "lon")})),
    "courier_manifest.csv": FilePolicy("courier", _cols({
        _OP: ("trip", "seq", "due_min", "size_m3", "special"), _ID: ("courier", "order", "warehouse"),
        _COARSE: ("lat", "lon", "zone")})),
    "outcomes.csv": FilePolicy("planner", _cols({
        _OP: ("replication", "source", "segment", "special", "fragile", "high_value", "served_by_plan",
              "courier_kind", "allowed_courier", "created_min", "ready_min", "due_min", "assigned_min",
              "planned_arrive_min", "delivered_min", "late_min", "declined", "no_show", "state", "on_time",
              "instant", "eta_error_min", "trail_complete", "returned", "return_picked_on_time", "claim",
              "claim_resolved_on_time", "reason", "bound_min"),
        _ID: ("order", "warehouse", "courier")})),
    # the tracking log: (order, event, minute) of the plan simulation, or the executed log's columns
    "tracking_events.csv": FilePolicy("planner", _cols({
        _OP: ("event", "minute", "kind", "recorded"), _ID: ("order", "courier"), _EXACT: ("lat", "lon")})),
    "events.csv": FilePolicy("planner", _cols({
        _OP: ("minute", "kind", "recorded", "replication"), _ID: ("order", "courier"), _EXACT: ("lat", "lon")})),
    "epochs.csv": FilePolicy("planner", _cols({
        _OP: ("t", "pending", "available", "offered", "accepted", "declined", "seconds", "status", "error",
              "replication")})),
    "stops.csv": FilePolicy("planner", _cols({
        _OP: ("courier_kind", "trip", "seq", "kind", "loc", "arrive_min", "depart_min", "load_m3", "replication"),
        _ID: ("courier", "order", "warehouse")})),
    "scorecard.csv": FilePolicy("planner", _cols({
        _OP: ("indicator", "factor", "label", "value", "ci_low", "ci_high", "target", "direction", "unit", "passed",
              "score", "measured_as", "moved_by")})),
    "indicators_by_replication.csv": FilePolicy("planner", _cols({
        _OP: ("replication", "indicator", "value")})),
    "damage_by_courier.csv": FilePolicy("planner", _cols({
        _OP: ("courier_kind", "orders", "damaged", "lost", "damage_loss_rate")})),
    "warehouses.csv": FilePolicy("planner", _cols({
        _OP: ("kind", "capacity_m3", "handling_cost_per_unit", "holding_cost_per_m3_day", "allows_high_value"),
        _ID: ("id",), _EXACT: ("lat", "lon")})),
    "zones.csv": FilePolicy("planner", _cols({
        _OP: ("radius_km", "weight"), _COARSE: ("id",), _EXACT: ("lat", "lon")})),
    "history_top.csv": FilePolicy("planner", _cols({
        _OP: ("date", "quantity"), _ID: ("sku",), _COARSE: ("zone",)})),
})


@dataclass(frozen=True, slots=True)
class PrivacyReport:
    """Every field check of an export: ``checks`` has file, column, check, passed, detail."""

    checks: pd.DataFrame
    score: float  # share of checks passed (1.0 when nothing was exported)

    @property
    def failures(self) -> pd.DataFrame:
        return self.checks[~self.checks["passed"]].reset_index(drop=True)

    @property
    def passed(self) -> bool:
        return bool(self.checks["passed"].all())

    def to_frame(self) -> pd.DataFrame:
        return self.checks

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "checks": int(len(self.checks)), "failed": int((~self.checks["passed"]).sum()),
                "failures": self.failures.to_dict(orient="records")}


def _is_text(s: pd.Series) -> bool:
    return bool(pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype))


def _texts(s: pd.Series) -> list[str]:
    return [v for v in pd.unique(s.dropna()) if isinstance(v, str) and v]


def find_emails(text: str) -> list[str]:
    return EMAIL.findall(text)


def find_phones(text: str) -> list[str]:
    """Phone-number-like runs in ``text``: 8 to 15 digits with phone separators, not a date,
    a time or a decimal number."""
    out = []
    for m in PHONE.finditer(ISO_TIME.sub(" ", text)):
        s = m.group(0)
        if DECIMAL.fullmatch(s):
            continue
        if 8 <= sum(ch.isdigit() for ch in s) <= 15:
            out.append(s)
    return out


def _first_hit(values: list[str], find: Callable[[str], list[str]]) -> str:
    for v in values:
        hits = find(v)
        if hits:
            return hits[0]
    return ""


def _rounded(s: pd.Series, decimals: int) -> tuple[bool, str]:
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    bad = ~np.isclose(v, np.round(v, decimals), rtol=0.0, atol=10.0 ** -(decimals + 6))
    if bad.any():
        return False, f"{int(bad.sum())} values with more than {decimals} decimals, e.g. {v[bad][0]!r}"
    return True, ""


def export_privacy(tables: Mapping[str, pd.DataFrame], policy: Mapping[str, FilePolicy] | None = None,
                   *, decimals: int = COORD_DECIMALS) -> PrivacyReport:
    """Check every exported table (file name → frame) against ``policy`` (default :data:`EXPORT_POLICY`)."""
    policy = EXPORT_POLICY if policy is None else policy
    rows: list[tuple[str, str, str, bool, str]] = []

    def add(file: str, column: str, check: str, ok: bool, detail: str = "") -> None:
        rows.append((file, column, check, bool(ok), detail))

    for file in sorted(tables):
        frame = tables[file]
        fp = policy.get(file)
        add(file, "", "file_declared", fp is not None,
            "" if fp is not None else "the export policy does not declare this file")
        for column in map(str, frame.columns):
            cls = fp.field_class(column) if fp is not None else None
            if fp is not None:
                add(file, column, "column_declared", cls is not None,
                    "" if cls is not None else "column not declared in the export policy")
            personal = cls == "personal" or column.lower() in PERSONAL_FIELDS
            add(file, column, "not_personal", not personal, "personal field" if personal else "")
            if fp is not None and fp.audience == "courier" and cls is not None:
                ok = cls in COURIER_CLASSES
                add(file, column, "audience_allows", ok, "" if ok else f"{cls} field in a courier-facing file")
            s = frame[column]
            if cls == "coarse_location" and not _is_text(s):
                add(file, column, "coordinates_rounded", *_rounded(s, decimals))
            if _is_text(s):
                texts = _texts(s)
                hit = _first_hit(texts, find_emails)
                add(file, column, "no_email", not hit, f"e-mail address {hit!r} in a cell" if hit else "")
                hit = _first_hit(texts, find_phones)
                add(file, column, "no_phone", not hit, f"phone number {hit!r} in a cell" if hit else "")
    checks = pd.DataFrame(rows, columns=["file", "column", "check", "passed", "detail"])
    checks["passed"] = checks["passed"].astype(bool)
    score = float(checks["passed"].mean()) if len(checks) else 1.0
    return PrivacyReport(checks=checks, score=score)


def read_export(folder: str | Path) -> dict[str, pd.DataFrame]:
    """The CSV tables of an exported run folder, by file name (types inferred as a reader would)."""
    return {p.name: pd.read_csv(p) for p in sorted(Path(folder).glob("*.csv"))}


def courier_manifest(assignments: pd.DataFrame, allocated: pd.DataFrame, *, decimals: int = COORD_DECIMALS,
                     extra_columns: Iterable[str] = ()) -> pd.DataFrame:
    """The stop list handed to couriers: one row per served order, minimal fields.

    ``decimals`` is the precision of the coordinates and ``extra_columns`` adds columns of
    ``allocated``: both are export decisions, and :func:`export_privacy` judges them.
    """
    served = assignments[assignments["status"] == "served"]
    info = allocated.set_index("id").loc[served["order"]]
    m = pd.DataFrame({
        "courier": served["courier"].to_numpy(),
        "trip": served["trip"].to_numpy(),
        "seq": served["stop_seq"].to_numpy(),
        "order": served["order"].to_numpy(),
        "warehouse": served["warehouse"].to_numpy(),
        "lat": np.round(info["lat"].to_numpy(dtype=float), decimals),
        "lon": np.round(info["lon"].to_numpy(dtype=float), decimals),
        "zone": info["zone"].to_numpy(),
        "due_min": np.round(info["due_min"].to_numpy(dtype=float), 1),
        "size_m3": info["size_m3"].to_numpy(dtype=float),
        "special": info["special"].to_numpy(dtype=bool),
    })
    for col in extra_columns:
        if col not in allocated.columns:
            raise EngineError(f"courier manifest: no column {col!r} in the allocated orders "
                              f"(columns: {', '.join(map(str, allocated.columns))})")
        m[col] = info[col].to_numpy()
    return m.sort_values(["courier", "trip", "seq"], kind="stable").reset_index(drop=True)


__all__ = ["AUDIENCES", "CHECKS", "CLASSES", "COORD_DECIMALS", "COURIER_CLASSES", "EXPORT_POLICY", "PERSONAL_FIELDS",
           "FilePolicy", "PrivacyPolicyError", "PrivacyReport", "courier_manifest", "export_privacy",
           "find_emails", "find_phones", "read_export"]
