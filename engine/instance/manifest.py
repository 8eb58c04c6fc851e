"""The instance manifest (``instance.toml``): scalars, promise tiers, segments, targets, settings.

Parsing collects every problem as an :class:`~engine.errors.Issue` (file ``instance.toml``,
column = the dotted key) instead of stopping at the first.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import PureWindowsPath
from typing import Any

from engine.errors import ConfigError, Issue
from engine.instance.schema import DATE_MAX, DATE_MIN
from engine.solver import Settings

FORMAT_VERSION = 1
MANIFEST = "instance.toml"


@dataclass(frozen=True, slots=True)
class Planning:
    start_date: dt.date
    horizon_days: int = 7
    cycle_days: int = 1
    scenarios: int = 30
    picking_min: float = 8.0


@dataclass(frozen=True, slots=True)
class Travel:
    circuity: float = 1.3
    fleet_speed_kmh: float = 22.0
    crowd_speed_kmh: float = 15.0
    service_min: float = 3.0


@dataclass(frozen=True, slots=True)
class PromiseTier:
    name: str
    max_min: float
    source: str  # "forward" | "central"
    coverage_min: float = 0.0  # forward tiers: max travel minutes warehouse -> zone centre


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    share: float
    promise_min: float
    weight: float = 1.0
    rule: str = ""  # how the segment is defined (real-data instances state their rule), free text


@dataclass(frozen=True, slots=True)
class StockingParams:
    fast_value_base: float = 3.0
    fast_value_rate: float = 0.04
    transfer_cost_per_m3: float = 25.0
    leftover_rate: float = 0.01
    slotting_fixed_cost: float = 0.0
    min_lot: int = 0
    budget: float | None = None


@dataclass(frozen=True, slots=True)
class DispatchParams:
    unserved_penalty: float = 120.0
    late_penalty_per_min: float = 0.5
    wave_min: float = 5.0
    max_late_min: float = 120.0  # hard limit past the promise; later than that goes to the slow tier
    central_cost_per_order: float = 6.0  # the DC carrier's price of one slow-tier delivery


@dataclass(frozen=True, slots=True)
class SimulationParams:
    replications: int = 5
    travel_noise_cv: float = 0.15
    crowd_no_show: float = 0.05
    damage_rate_fleet: float = 0.002
    damage_rate_crowd: float = 0.005
    fragile_damage_factor: float = 3.0
    loss_rate: float = 0.001
    return_rate: float = 0.03
    tracking_gap_rate: float = 0.002  # share of tracking events that fail to be recorded
    central_on_time: float = 0.93  # share of slow-promise (central DC) orders delivered on time
    return_pickup_on_time: float = 0.95  # share of return pickups made inside their window
    claim_median_hours: float = 24.0  # damage / loss claims: median hours to resolve (lognormal)
    claim_window_hours: float = 48.0  # a claim resolved within this many hours is on time
    claim_sigma: float = 0.8  # lognormal spread of claim resolution times
    claim_incomplete_factor: float = 2.0  # a claim without a complete trail takes this much longer
    pickup_service_min: float = 2.0  # minutes at the warehouse to hand a trip's orders over
    no_show_detect_min: float = 10.0  # minutes until a crowd no-show is noticed
    tracking_gap_rate_crowd: float = 0.01  # scans lost by the crowd app (tracking_gap_rate: fleet scanners)
    return_window_min: float = 120.0  # a return picked up within this many minutes is on time
    travel_min_factor: float = 0.6  # no leg is faster than this share of its planned time


# Defaults of the service-quality targets and weights (values are shares unless named _min).
DEFAULT_TARGETS: dict[str, float] = {
    "instant_delivery_rate": 0.80,
    "forward_fill_rate": 0.85,
    "peak_assignment_p95_min": 10.0,
    "special_handling_compliance": 0.99,
    "special_goods_on_time": 0.95,
    "on_time_rate": 0.98,
    "damage_loss_rate": 0.005,
    "claims_resolved_rate": 0.95,
    "tracking_complete_rate": 0.99,
    "eta_error_p90_min": 10.0,
    "returns_tracked_rate": 0.95,
    "high_value_intact_rate": 0.995,
    "export_privacy": 1.0,
}
DEFAULT_WEIGHTS: dict[str, float] = {
    "responsiveness": 0.30,
    "individual_service": 0.15,
    "reliability": 0.30,
    "traceability": 0.15,
    "security": 0.10,
}


@dataclass(frozen=True, slots=True)
class Quality:
    targets: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TARGETS))
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))


@dataclass(frozen=True, slots=True)
class Manifest:
    name: str
    planning: Planning
    format_version: int = FORMAT_VERSION
    description: str = ""
    seed: int = 0
    currency: str = "CNY"
    attribution: str = ""
    tables: Mapping[str, str] = field(default_factory=dict)
    travel: Travel = field(default_factory=Travel)
    promise: tuple[PromiseTier, ...] = ()
    segments: tuple[Segment, ...] = ()
    stocking: StockingParams = field(default_factory=StockingParams)
    dispatch: DispatchParams = field(default_factory=DispatchParams)
    simulation: SimulationParams = field(default_factory=SimulationParams)
    quality: Quality = field(default_factory=Quality)
    solver: Mapping[str, Settings] = field(default_factory=dict)
    notes: Mapping[str, Any] = field(default_factory=dict)  # free-form, e.g. volume scaling of real data

    @property
    def instant_tier(self) -> PromiseTier:
        for tier in self.promise:
            if tier.source == "forward":
                return tier
        raise ConfigError("instance has no promise tier served from forward warehouses")

    @property
    def slow_tier(self) -> PromiseTier:
        for tier in self.promise:
            if tier.source == "central":
                return tier
        raise ConfigError("instance has no promise tier served from the central DC")

    def segment(self, segment_id: str) -> Segment:
        for s in self.segments:
            if s.id == segment_id:
                return s
        raise ConfigError(f"unknown segment {segment_id!r}")

    def settings(self, stage: str) -> Settings:
        return self.solver.get(stage, Settings())

    def to_toml_dict(self) -> dict[str, Any]:
        """The manifest as plain TOML data (what ``instance.toml`` holds)."""
        out: dict[str, Any] = {
            "format_version": self.format_version,
            "name": self.name,
            "description": self.description,
            "seed": self.seed,
            "currency": self.currency,
        }
        if self.attribution:
            out["attribution"] = self.attribution
        if self.tables:
            out["tables"] = dict(self.tables)
        out["planning"] = asdict(self.planning)
        out["travel"] = asdict(self.travel)
        out["promise"] = [asdict(t) for t in self.promise]
        out["segments"] = [{k: v for k, v in asdict(s).items() if k != "rule" or v} for s in self.segments]
        stocking = asdict(self.stocking)
        if stocking["budget"] is None:
            del stocking["budget"]
        out["stocking"] = stocking
        out["dispatch"] = asdict(self.dispatch)
        out["simulation"] = asdict(self.simulation)
        out["quality"] = {"targets": dict(self.quality.targets), "weights": dict(self.quality.weights)}
        if self.solver:
            out["solver"] = {k: v.to_dict() for k, v in self.solver.items()}
        if self.notes:
            out["notes"] = dict(self.notes)
        return out


# --------------------------------------------------------------------------- table paths

TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")


def table_path_problem(value: object) -> tuple[str, str] | None:
    """Why ``value`` cannot name a table file inside an instance: ``(code, message)``, or ``None``.

    A table path is relative, uses ``/`` between parts, and none of its parts is empty or starts
    with a dot: so it can name neither a place outside the instance directory (absolute, ``..``)
    nor a hidden file (the instance's own dot-files, such as the output marker). Symbolic links
    are checked against the file system by the loader.
    """
    if not isinstance(value, str) or not value.endswith(TABLE_SUFFIXES):
        return "wrong_type", f"expected a file name ending .csv, .csv.gz or .parquet, got {value!r}"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "bad_path", f"the file name {value!r} contains a control character"
    if "\\" in value:
        return "bad_path", f"the file name {value!r} contains '\\'; separate directories with '/'"
    if value.startswith("/") or PureWindowsPath(value).drive:
        return "outside_instance", (f"the file name {value!r} is absolute; table files are named "
                                    "relative to the instance directory and stay inside it")
    parts = value.split("/")
    if ".." in parts:
        return "outside_instance", (f"the file name {value!r} contains '..'; table files stay inside "
                                    "the instance directory")
    if any(not part or part.startswith(".") for part in parts):
        return "bad_path", (f"the file name {value!r} has an empty part or a part starting with '.'; "
                            "hidden names are reserved for the instance's own files")
    return None


# --------------------------------------------------------------------------- parsing


class _Reader:
    """Typed access to nested TOML data that records issues instead of raising."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues

    def bad(self, key: str, message: str, code: str = "bad_value") -> None:
        self.issues.append(Issue(MANIFEST, None, key, code, message))

    def value(self, data: Mapping[str, Any], name: str, key: str, kind: type, default: Any,
              *, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
              hi_open: bool = False, required: bool = False) -> Any:
        if name not in data:
            if required:
                self.bad(key, f"required key '{key}' is missing", "missing_key")
            return default
        raw = data[name]
        if kind is float:
            ok = isinstance(raw, (int, float)) and not isinstance(raw, bool)
            try:
                val = float(raw) if ok else None
            except OverflowError:  # an integer beyond the float range
                self.bad(key, f"the number is too large{_range_note(lo, hi, lo_open, hi_open)}", "out_of_range")
                return default
            if ok and not math.isfinite(val):
                ok = False
        elif kind is int:
            ok = isinstance(raw, int) and not isinstance(raw, bool)
            val = raw if ok else None
            if ok and not INT64_MIN <= raw <= INT64_MAX:
                self.bad(key, f"the integer does not fit in 64 bits{_range_note(lo, hi, lo_open, hi_open)}",
                         "out_of_range")
                return default
        elif kind is dt.date:
            if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
                ok, val = True, raw
            else:
                try:
                    val, ok = dt.date.fromisoformat(str(raw)), True
                except ValueError:
                    ok, val = False, None
        elif kind is str:
            ok, val = isinstance(raw, str), raw
        else:  # pragma: no cover - programming error
            raise TypeError(kind)
        if not ok:
            expected = {float: "a finite number", int: "an integer", dt.date: "a date YYYY-MM-DD", str: "a string"}[kind]
            self.bad(key, f"expected {expected}, got {raw!r}", "wrong_type")
            return default
        if lo is not None and (val <= lo if lo_open else val < lo):
            self.bad(key, f"must be {'>' if lo_open else '>='} {_bound(lo)}, got {_bound(val)}", "out_of_range")
            return default
        if hi is not None and (val >= hi if hi_open else val > hi):
            self.bad(key, f"must be {'<' if hi_open else '<='} {_bound(hi)}, got {_bound(val)}", "out_of_range")
            return default
        return val

    def table(self, data: Mapping[str, Any], name: str, key: str) -> Mapping[str, Any]:
        sub = data.get(name, {})
        if not isinstance(sub, Mapping):
            self.bad(key, f"expected a table [{key}]", "wrong_type")
            return {}
        return sub

    def unknown(self, data: Mapping[str, Any], names: set[str] | frozenset[str], prefix: str) -> None:
        for extra in sorted(set(data) - names):
            self.bad(f"{prefix}.{extra}", f"unknown key; expected some of {', '.join(sorted(names))}", "unknown_key")

    def section(self, cls: type, data: Mapping[str, Any], prefix: str, bounds: Mapping[str, tuple]) -> Any:
        """Fill a flat dataclass of numbers from a TOML table, checking names and bounds."""
        self.unknown(data, {f.name for f in fields(cls)}, prefix)
        kw = {}
        defaults = cls()
        for f in fields(cls):
            if f.name not in data:
                continue
            kind = int if f.type in ("int", int) else float
            lo, hi, lo_open = bounds.get(f.name, (0.0, DEFAULT_MAX, False))
            default = getattr(defaults, f.name)
            kw[f.name] = self.value(data, f.name, f"{prefix}.{f.name}", kind, default, lo=lo, hi=hi, lo_open=lo_open)
        return cls(**kw)


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
SEED_MAX = 2**32 - 1  # seeds go to numpy, OR-Tools and PyVRP alike: 32 bits suit them all
DEFAULT_MAX = 1e9  # upper bound of a number without a tighter one (money, penalties, counts)
DAY_MIN = 1440.0

# (low, high, low is exclusive) per key; keys not listed are in [0, DEFAULT_MAX]
_SECTION_BOUNDS: dict[str, dict[str, tuple]] = {
    "travel": {"circuity": (1.0, 5.0, False), "fleet_speed_kmh": (0.0, 200.0, True), "crowd_speed_kmh": (0.0, 200.0, True),
               "service_min": (0.0, DAY_MIN, False)},
    "stocking": {"fast_value_rate": (0.0, 100.0, False), "leftover_rate": (0.0, 100.0, False),
                 "budget": (0.0, 1e15, False)},
    "dispatch": {"wave_min": (0.0, DAY_MIN, True), "max_late_min": (0.0, DAY_MIN, False)},
    "simulation": {k: (0.0, 1.0, False) for k in ("travel_noise_cv", "crowd_no_show", "damage_rate_fleet", "damage_rate_crowd", "loss_rate", "return_rate", "tracking_gap_rate", "central_on_time", "return_pickup_on_time",
                                                 "tracking_gap_rate_crowd")}
    | {"replications": (1, 1000, False), "fragile_damage_factor": (0.0, 1000.0, False),
       "travel_min_factor": (0.0, 1.0, True), "claim_sigma": (0.0, 10.0, False),
       "claim_incomplete_factor": (1.0, 100.0, False), "pickup_service_min": (0.0, DAY_MIN, False),
       "no_show_detect_min": (0.0, DAY_MIN, False), "return_window_min": (0.0, 7 * DAY_MIN, True),
       "claim_median_hours": (0.0, 8760.0, True), "claim_window_hours": (0.0, 8760.0, True)},
}
PROMISE_MAX_MIN = 43200.0  # 30 days
WEIGHT_MAX = 1e6
START_DATE_RANGE = (DATE_MIN, DATE_MAX)
# settings keys of a [solver.<stage>] table: (kind, low, high, low exclusive, high exclusive)
_SOLVER_BOUNDS: dict[str, tuple] = {
    "time_limit": (float, 0.0, 1e6, True, False),
    "seed": (int, 0, SEED_MAX, False, False),
    "threads": (int, 1, 1024, False, False),
    "mip_gap": (float, 0.0, 1.0, False, True),
}


def _bound(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:g}"
    return str(x)


def _range_note(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {_bound(lo)}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {_bound(hi)}")
    return f"; expected {', '.join(parts)}" if parts else ""


def target_bounds(indicator: str) -> tuple[float, float]:
    """Allowed range of a quality target: minutes for ``*_min`` indicators, else a share."""
    return (0.0, DAY_MIN) if indicator.endswith("_min") else (0.0, 1.0)

KNOWN_TOP = {
    "format_version", "name", "description", "seed", "currency", "attribution", "tables", "planning",
    "travel", "promise", "segments", "stocking", "dispatch", "simulation", "quality", "solver", "notes",
}


def parse_manifest(data: Mapping[str, Any], issues: list[Issue], known_tables: set[str]) -> Manifest | None:
    """Build a :class:`Manifest` from TOML data, appending every problem to ``issues``."""
    r = _Reader(issues)
    n0 = len(issues)
    for extra in sorted(set(data) - KNOWN_TOP):
        r.bad(extra, f"unknown key; expected some of {', '.join(sorted(KNOWN_TOP))}", "unknown_key")
    version = r.value(data, "format_version", "format_version", int, FORMAT_VERSION, required=True)
    if version != FORMAT_VERSION:
        r.bad("format_version", f"this nearstock reads format_version {FORMAT_VERSION}, got {version}", "unsupported_version")
    name = r.value(data, "name", "name", str, "", required=True)
    description = r.value(data, "description", "description", str, "")
    seed = r.value(data, "seed", "seed", int, 0, lo=0, hi=SEED_MAX)
    currency = r.value(data, "currency", "currency", str, "CNY")
    attribution = r.value(data, "attribution", "attribution", str, "")

    tables = dict(r.table(data, "tables", "tables"))
    for t, f in tables.items():
        if t not in known_tables:
            r.bad(f"tables.{t}", f"unknown table; expected some of {', '.join(sorted(known_tables))}", "unknown_key")
            continue
        problem = table_path_problem(f)
        if problem is not None:
            r.bad(f"tables.{t}", problem[1], problem[0])

    p = r.table(data, "planning", "planning")
    if "planning" not in data:
        r.bad("planning", "required table [planning] is missing", "missing_key")
    planning = Planning(
        start_date=r.value(p, "start_date", "planning.start_date", dt.date, dt.date(2000, 1, 1), required=True,
                           lo=START_DATE_RANGE[0], hi=START_DATE_RANGE[1]),
        horizon_days=r.value(p, "horizon_days", "planning.horizon_days", int, 7, lo=1, hi=366),
        cycle_days=r.value(p, "cycle_days", "planning.cycle_days", int, 1, lo=1, hi=366),
        scenarios=r.value(p, "scenarios", "planning.scenarios", int, 30, lo=1, hi=100000),
        picking_min=r.value(p, "picking_min", "planning.picking_min", float, 8.0, lo=0.0, hi=DAY_MIN),
    )
    for extra in sorted(set(p) - {f.name for f in fields(Planning)}):
        r.bad(f"planning.{extra}", "unknown key", "unknown_key")
    if planning.cycle_days > planning.horizon_days:
        r.bad("planning.cycle_days", f"cycle_days ({planning.cycle_days}) exceeds horizon_days ({planning.horizon_days})", "out_of_range")

    travel = r.section(Travel, r.table(data, "travel", "travel"), "travel", _SECTION_BOUNDS["travel"])

    promise: list[PromiseTier] = []
    raw_tiers = data.get("promise", [])
    if not isinstance(raw_tiers, list) or not raw_tiers:
        r.bad("promise", "expected at least one [[promise]] tier", "missing_key")
        raw_tiers = []
    for i, t in enumerate(raw_tiers):
        key = f"promise[{i}]"
        if not isinstance(t, Mapping):
            r.bad(key, "expected a table", "wrong_type")
            continue
        r.unknown(t, {f.name for f in fields(PromiseTier)}, key)
        source = r.value(t, "source", f"{key}.source", str, "forward", required=True)
        if source not in ("forward", "central"):
            r.bad(f"{key}.source", f"expected 'forward' or 'central', got {source!r}", "bad_choice")
        promise.append(PromiseTier(
            name=r.value(t, "name", f"{key}.name", str, f"tier{i}", required=True),
            max_min=r.value(t, "max_min", f"{key}.max_min", float, 60.0, lo=0.0, lo_open=True, hi=PROMISE_MAX_MIN,
                            required=True),
            source=source,
            coverage_min=r.value(t, "coverage_min", f"{key}.coverage_min", float, 0.0, lo=0.0, hi=DAY_MIN,
                                 required=source == "forward"),
        ))
    if raw_tiers and not any(t.source == "forward" for t in promise):
        r.bad("promise", "no tier has source = 'forward' (the instant tier)", "missing_key")
    if raw_tiers and not any(t.source == "central" for t in promise):
        r.bad("promise", "no tier has source = 'central' (the slow tier)", "missing_key")

    segments: list[Segment] = []
    raw_segments = data.get("segments", [{"id": "standard", "share": 1.0, "promise_min": promise[0].max_min if promise else 60.0}])
    if not isinstance(raw_segments, list) or not raw_segments:
        r.bad("segments", "expected at least one [[segments]] entry", "missing_key")
        raw_segments = []
    for i, s in enumerate(raw_segments):
        key = f"segments[{i}]"
        if not isinstance(s, Mapping):
            r.bad(key, "expected a table", "wrong_type")
            continue
        r.unknown(s, {f.name for f in fields(Segment)}, key)
        segments.append(Segment(
            id=r.value(s, "id", f"{key}.id", str, f"s{i}", required=True),
            share=r.value(s, "share", f"{key}.share", float, 0.0, lo=0.0, hi=1.0, required=True),
            promise_min=r.value(s, "promise_min", f"{key}.promise_min", float, 60.0, lo=0.0, lo_open=True,
                                hi=PROMISE_MAX_MIN, required=True),
            weight=r.value(s, "weight", f"{key}.weight", float, 1.0, lo=0.0, hi=WEIGHT_MAX),
            rule=r.value(s, "rule", f"{key}.rule", str, ""),
        ))
    if segments:
        ids = [s.id for s in segments]
        if len(set(ids)) != len(ids):
            r.bad("segments", f"segment ids must be unique, got {ids}", "duplicate_key")
        total = sum(s.share for s in segments)
        if abs(total - 1.0) > 1e-6:
            r.bad("segments", f"segment shares must sum to 1, got {total:g}", "out_of_range")

    stocking = r.section(StockingParams, r.table(data, "stocking", "stocking"), "stocking", {})
    dispatch = r.section(DispatchParams, r.table(data, "dispatch", "dispatch"), "dispatch", _SECTION_BOUNDS["dispatch"])
    simulation = r.section(SimulationParams, r.table(data, "simulation", "simulation"), "simulation", _SECTION_BOUNDS["simulation"])

    q = r.table(data, "quality", "quality")
    targets = dict(DEFAULT_TARGETS)
    for k, v in r.table(q, "targets", "quality.targets").items():
        if k not in DEFAULT_TARGETS:
            r.bad(f"quality.targets.{k}", f"unknown indicator; expected one of {', '.join(DEFAULT_TARGETS)}", "unknown_key")
            continue
        lo, hi = target_bounds(k)
        targets[k] = r.value({k: v}, k, f"quality.targets.{k}", float, targets[k], lo=lo, hi=hi)
    r.unknown(q, {"targets", "weights"}, "quality")
    weights = dict(DEFAULT_WEIGHTS)
    for k, v in r.table(q, "weights", "quality.weights").items():
        if k not in DEFAULT_WEIGHTS:
            r.bad(f"quality.weights.{k}", f"unknown factor; expected one of {', '.join(DEFAULT_WEIGHTS)}", "unknown_key")
            continue
        weights[k] = r.value({k: v}, k, f"quality.weights.{k}", float, weights[k], lo=0.0, hi=WEIGHT_MAX)
    if not any(w > 0 for w in weights.values()):
        r.bad("quality.weights", "every factor weight is 0: the composite index needs at least one "
              "positive weight", "all_zero")

    solver = _solver_settings(r, data)
    notes = r.table(data, "notes", "notes")

    if len(issues) > n0:
        return None
    return Manifest(
        name=name, planning=planning, format_version=version, description=description, seed=seed,
        currency=currency, attribution=attribution, tables=tables, travel=travel,
        promise=tuple(promise), segments=tuple(segments), stocking=stocking, dispatch=dispatch,
        simulation=simulation, quality=Quality(targets, weights), solver=solver, notes=dict(notes),
    )


def _solver_settings(r: _Reader, data: Mapping[str, Any]) -> dict[str, Settings]:
    """The ``[solver.<stage>]`` tables: every key, bound, back-end name and option name checked."""
    solver: dict[str, Settings] = {}
    for stage, sdata in r.table(data, "solver", "solver").items():
        key = f"solver.{stage}"
        if stage not in SOLVER_STAGES:
            r.bad(key, "unknown stage; expected forecast, stocking or dispatch", "unknown_key")
            continue
        if not isinstance(sdata, Mapping):
            r.bad(key, "expected a table", "wrong_type")
            continue
        n0 = len(r.issues)
        r.unknown(sdata, set(SETTINGS_KEYS), key)
        backend = r.value(sdata, "backend", f"{key}.backend", str, "")
        for name, (kind, lo, hi, lo_open, hi_open) in _SOLVER_BOUNDS.items():
            r.value(sdata, name, f"{key}.{name}", kind, None, lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open)
        options = r.table(sdata, "options", f"{key}.options")
        if len(r.issues) == n0:
            _check_backend(r, stage, backend, options, key)
        if len(r.issues) > n0:
            continue
        try:
            solver[stage] = Settings.from_dict(sdata, where=key)
        except ConfigError as exc:
            r.bad(key, str(exc), "bad_settings")
    return solver


SOLVER_STAGES = ("forecast", "stocking", "dispatch")
SETTINGS_KEYS = ("backend", "time_limit", "seed", "threads", "mip_gap", "options")


def _check_backend(r: _Reader, stage: str, backend: str, options: Mapping[str, Any], key: str) -> None:
    known = known_backends(stage)
    name = backend or known[0]
    if name not in known[1]:
        r.bad(f"{key}.backend", f"unknown {stage} back-end {backend!r}; expected one of {', '.join(sorted(known[1]))}",
              "unknown_backend")
        return
    allowed = known_options(stage, name)
    if allowed is None:
        return
    for extra in sorted(set(options) - allowed):
        r.bad(f"{key}.options.{extra}", f"unknown option of {stage} back-end {name!r}; expected some of "
              f"{', '.join(sorted(allowed)) or '(none: this back-end takes no options)'}", "unknown_key")


def _registry(stage: str) -> Any:
    # imported on use: the stages import the instance package, not the other way round
    if stage == "forecast":
        from engine.forecast.methods import FORECASTERS

        return FORECASTERS
    if stage == "stocking":
        from engine.stocking.solve import STOCKING

        return STOCKING
    from engine.dispatch.solve import DISPATCH

    return DISPATCH


def known_backends(stage: str) -> tuple[str, frozenset[str]]:
    """The default back-end of ``stage`` and every registered name (installed or not)."""
    reg = _registry(stage)
    return reg.default, frozenset(reg.names())


def known_options(stage: str, backend: str) -> frozenset[str] | None:
    """Option names a ``[solver.<stage>]`` table may give for ``backend``; ``None`` = not known.

    The names a back-end declares in its registry (``Registry.declare_options``) are used when
    declared; otherwise the option sets the back-end modules check at run time. Dispatch settings
    also carry the day-planning options, which are taken out before the back-end sees them.
    """
    from engine.errors import BackendError

    try:
        declared = _registry(stage).info(backend).options
    except BackendError:  # registered but not installed here: fall back to the module's names
        declared = None
    names = set(declared) if declared is not None else _module_options(stage, backend)
    if names is None:
        return None
    if stage == "dispatch":
        from engine.dispatch.day import DAY_OPTIONS

        names |= set(DAY_OPTIONS)
    return frozenset(names)


def _module_options(stage: str, backend: str) -> set[str] | None:
    if stage == "forecast":
        from engine.forecast.core import KNOWN_OPTIONS

        return set(KNOWN_OPTIONS)
    if stage == "dispatch":
        if backend == "ortools":
            from engine.dispatch.backend_ortools import OPTIONS as ORTOOLS

            return set(ORTOOLS)
        if backend == "pyvrp":
            from engine.dispatch.backend_pyvrp import OPTIONS as PYVRP

            return set(PYVRP)
        return None
    if backend == "decomp":
        from engine.stocking.decomp import OPTIONS as DECOMP

        return set(DECOMP)
    # the MIP and rule back-ends check these names inline (engine/stocking/mip.py, solve.py)
    return {"highs": {"relax"}, "cbc": {"relax"}, "scip": {"relax"}, "newsvendor": set(),
            "days_of_cover": {"cover_days"}}.get(backend)
