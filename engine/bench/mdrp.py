"""The Grubhub Meal Delivery Routing Problem (MDRP) instances in the event-driven execution.

An MDRP instance directory (``orders.txt``, ``restaurants.txt``, ``couriers.txt``,
``instance_parameters.txt``; tab-separated, times in minutes, coordinates in metres) is read
straight into a :class:`~engine.dispatch.problem.DispatchProblem`:

* every restaurant is a warehouse; an order is picked at its restaurant and is ready at its
  ``ready_time``; it becomes known at its ``placement_time`` (the creation minutes);
* every courier is a crowd courier with a free end, on duty from ``on_time`` at its start
  position, who accepts every offer; a bundle holds at most four orders (size 1, capacity 4);
* travel time is ``ceil(euclidean metres / meters_per_minute)`` (circuity 1), the same for
  every courier;
* the promise is the target click-to-door after placement, the hard limit the maximum one.

Conventions of this benchmark (the instance description leaves them open):

* an order is *delivered* (click-to-door ends) when its courier reaches the door; the
  drop-off service minutes are the courier's, after that;
* at the restaurant the courier waits until the bundle is ready, then spends the pickup
  service minutes, then leaves: the restaurants' ``pickup_service`` in the dispatch problem,
  planned and executed alike; the promise is the target itself;
* a courier may not start a pickup after its ``off_time`` (``pickup_end``) but may finish its
  drop-offs after it (``end_min`` is open).

:func:`run_mdrp` executes one instance with a policy (``greedy``, ``rolling``, ``waves``,
``matching``) and
deterministic travel, and gives the per-instance row and the executed stops (one row per
pickup of an order and per drop-off) that anyone can re-check against the instance's rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist

from engine.dispatch.policy import EpochView, Policy, make_policy
from engine.dispatch.problem import CROWD, DispatchProblem
from engine.dispatch.schedule import Trip
from engine.errors import InstanceError, Issue
from engine.simulate.execute import ExecutedDay, ExecutionParams, execute_problem_day
from engine.solver import Settings

BUNDLE_MAX = 4  # orders a courier carries at once
KM_COST = 0.01  # planning tie-break per km (MDRP pays nothing per km): shorter among equal plans
UNSERVED_PENALTY = 1000.0  # planning cost of leaving an order out (pay per order is 10)
MATCHING_KNOBS = (  # MatchingPolicy fields a run may set through Settings.options
    "horizon_min",
    "wait_slack_min",
    "max_bundle_delay_min",
    "max_bundle",
    "bundle_ratio",
    "late_weight",
    "busy_weight",
    "busy_courier_weight",
    "age_weight",
    "piggyback",
    "on_time_bonus",
    "urgent_slack_min",
    "urgent_first",
    "piggyback_wait_min",
    "scarce_couriers",
    "scarce_slack_min",
    "scarce_weight",
    "scarce_max_bundles",
)

FILES: dict[str, tuple[str, ...]] = {
    "orders.txt": ("order", "x", "y", "placement_time", "restaurant", "ready_time"),
    "restaurants.txt": ("restaurant", "x", "y"),
    "couriers.txt": ("courier", "x", "y", "on_time", "off_time"),
    "instance_parameters.txt": (
        "meters_per_minute",
        "pickup service minutes",
        "dropoff service minutes",
        "target click-to-door",
        "maximum click-to-door",
        "pay per order",
        "guaranteed pay per hour",
    ),
}
STOPS_COLUMNS = (
    "instance",
    "courier",
    "seq",
    "kind",
    "order",
    "restaurant",
    "arrive_min",
    "depart_min",
    "assigned_min",
    "trip",
)
ROW_COLUMNS = (
    "instance",
    "policy",
    "period_min",
    "orders",
    "delivered",
    "click_to_door_mean",
    "click_to_door_p90",
    "within_target",
    "within_target_when_possible",
    "ready_to_pickup_mean",
    "ready_to_door_mean",
    "total_pay",
    "pay_per_order",
    "couriers_on_guarantee",
    "utilisation",
    "orders_per_trip",
    "lower_bound_mean",
    "lower_bound_within_target",
    "replan_s_p50",
    "replan_s_p95",
    "replan_s_max",
    "epochs",
    "wall_s",
)


class MdrpFormatError(InstanceError):
    """An MDRP instance directory that cannot be read (every problem with file, line, column)."""


@dataclass(frozen=True, slots=True)
class MdrpRules:
    """The instance's parameters (``instance_parameters.txt``)."""

    meters_per_minute: float
    pickup_service_min: float
    dropoff_service_min: float
    target_min: float
    max_min: float
    pay_per_order: float
    pay_per_hour: float

    def to_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, eq=False)
class MdrpInstance:
    """One MDRP instance: its tables, its rules, and the dispatch problem built from them."""

    name: str
    path: Path
    rules: MdrpRules
    orders: pd.DataFrame  # order, x, y, placement_time, restaurant, ready_time
    restaurants: pd.DataFrame  # restaurant, x, y
    couriers: pd.DataFrame  # courier, x, y, on_time, off_time
    problem: DispatchProblem = field(repr=False)
    created: np.ndarray = field(repr=False)  # placement minute of each order (problem order)

    def travel_min(
        self, ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray
    ) -> np.ndarray:
        """Travel minutes between points by the instance's rule."""
        return np.ceil(
            np.hypot(np.asarray(ax, float) - bx, np.asarray(ay, float) - by)
            / self.rules.meters_per_minute
        )

    def lower_bound(self) -> np.ndarray:
        """Per order, the least click-to-door any dispatcher could reach: a courier already
        waiting at the restaurant when the order is ready picks it up (pickup service) and
        drives straight to the door."""
        o = self.orders
        r = self.restaurants.set_index("restaurant").loc[o["restaurant"]]
        ride = self.travel_min(
            r["x"].to_numpy(), r["y"].to_numpy(), o["x"].to_numpy(), o["y"].to_numpy()
        )
        return (
            o["ready_time"].to_numpy(float)
            - o["placement_time"].to_numpy(float)
            + self.rules.pickup_service_min
            + ride
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "orders": len(self.orders),
            "restaurants": len(self.restaurants),
            "couriers": len(self.couriers),
            "rules": self.rules.to_dict(),
        }


# ---- reading ------------------------------------------------------------------------------------


def _read_table(path: Path, name: str, issues: list[Issue]) -> pd.DataFrame | None:
    f = path / name
    want = FILES[name]
    if not f.is_file():
        issues.append(Issue(name, None, None, "missing_file", f"file not found in {path}"))
        return None
    try:
        df = pd.read_csv(f, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        issues.append(Issue(name, None, None, "unreadable", f"not a tab-separated table: {exc}"))
        return None
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in want if c not in df.columns]
    if missing:
        issues.append(
            Issue(
                name,
                1,
                None,
                "missing_column",
                f"header lacks {missing}; expected the columns {list(want)}",
            )
        )
        return None
    df = df[list(want)].copy()
    for c in want:
        df[c] = df[c].str.strip()
    return df


def _numbers(
    df: pd.DataFrame, file: str, cols: tuple[str, ...], issues: list[Issue]
) -> pd.DataFrame:
    for c in cols:
        v = pd.to_numeric(df[c], errors="coerce")
        bad = np.flatnonzero(~np.isfinite(v.to_numpy(float)))
        for i in bad[:5]:
            issues.append(
                Issue(
                    file, int(i) + 2, c, "not_a_number", f"expected a number, got {df[c].iloc[i]!r}"
                )
            )
        df[c] = v
    return df


def _ids(df: pd.DataFrame, file: str, col: str, issues: list[Issue]) -> None:
    empty = np.flatnonzero((df[col] == "").to_numpy())
    for i in empty[:5]:
        issues.append(Issue(file, int(i) + 2, col, "missing_id", "empty id"))
    dup = np.flatnonzero(df[col].duplicated().to_numpy() & (df[col] != "").to_numpy())
    for i in dup[:5]:
        issues.append(
            Issue(
                file,
                int(i) + 2,
                col,
                "duplicate_id",
                f"id {df[col].iloc[i]!r} appears more than once",
            )
        )


def _rows_where(
    mask: np.ndarray, file: str, col: str, code: str, msg: Callable[[int], str], issues: list[Issue]
) -> None:
    for i in np.flatnonzero(mask)[:5]:
        issues.append(Issue(file, int(i) + 2, col, code, msg(int(i))))


def read_mdrp(path: str | Path) -> MdrpInstance:
    """Read an MDRP instance directory; raise :class:`MdrpFormatError` listing every problem."""
    path = Path(path)
    if not path.is_dir():
        raise MdrpFormatError(
            str(path),
            [
                Issue(
                    str(path),
                    None,
                    None,
                    "not_a_folder",
                    "an MDRP instance is a folder with orders.txt, restaurants.txt, "
                    "couriers.txt and instance_parameters.txt",
                )
            ],
        )
    issues: list[Issue] = []
    t = {name: _read_table(path, name, issues) for name in FILES}
    if issues:
        raise MdrpFormatError(str(path), issues)
    o, r, c, p = (t[k] for k in FILES)
    assert o is not None and r is not None and c is not None and p is not None
    o = _numbers(o, "orders.txt", ("x", "y", "placement_time", "ready_time"), issues)
    r = _numbers(r, "restaurants.txt", ("x", "y"), issues)
    c = _numbers(c, "couriers.txt", ("x", "y", "on_time", "off_time"), issues)
    p = _numbers(p, "instance_parameters.txt", FILES["instance_parameters.txt"], issues)
    _ids(o, "orders.txt", "order", issues)
    _ids(r, "restaurants.txt", "restaurant", issues)
    _ids(c, "couriers.txt", "courier", issues)
    if len(p) != 1:
        issues.append(
            Issue(
                "instance_parameters.txt",
                None,
                None,
                "one_row",
                f"expected one row of parameters, got {len(p)}",
            )
        )
    if not len(o):
        issues.append(Issue("orders.txt", None, None, "empty", "no orders"))
    if not len(c):
        issues.append(Issue("couriers.txt", None, None, "empty", "no couriers"))
    if issues:
        raise MdrpFormatError(str(path), issues)
    known = set(r["restaurant"])
    _rows_where(
        ~o["restaurant"].isin(known).to_numpy(),
        "orders.txt",
        "restaurant",
        "unknown_restaurant",
        lambda i: f"restaurant {o['restaurant'].iloc[i]!r} is not in restaurants.txt",
        issues,
    )
    _rows_where(
        (o["ready_time"] < o["placement_time"]).to_numpy(),
        "orders.txt",
        "ready_time",
        "ready_before_placement",
        lambda i: (
            f"ready at {o['ready_time'].iloc[i]:g}, before its placement at {o['placement_time'].iloc[i]:g}"
        ),
        issues,
    )
    _rows_where(
        (o["placement_time"] < 0).to_numpy(),
        "orders.txt",
        "placement_time",
        "negative",
        lambda i: "times are minutes from the start of the day (>= 0)",
        issues,
    )
    _rows_where(
        (c["off_time"] <= c["on_time"]).to_numpy(),
        "couriers.txt",
        "off_time",
        "shift_order",
        lambda i: f"off at {c['off_time'].iloc[i]:g}, not after on at {c['on_time'].iloc[i]:g}",
        issues,
    )
    row = p.iloc[0] if len(p) == 1 else None
    if row is not None:
        for col in FILES["instance_parameters.txt"]:
            v = float(row[col])
            positive = col in ("meters_per_minute", "target click-to-door", "maximum click-to-door")
            if v < 0 or (positive and v <= 0):
                issues.append(
                    Issue(
                        "instance_parameters.txt",
                        2,
                        col,
                        "out_of_range",
                        f"must be {'> 0' if positive else '>= 0'}, got {v:g}",
                    )
                )
        if float(row["maximum click-to-door"]) < float(row["target click-to-door"]):
            issues.append(
                Issue(
                    "instance_parameters.txt",
                    2,
                    "maximum click-to-door",
                    "out_of_range",
                    "the maximum click-to-door is below the target",
                )
            )
    if issues:
        raise MdrpFormatError(str(path), issues)
    assert row is not None
    cols = FILES["instance_parameters.txt"]
    rules = MdrpRules(*(float(row[k]) for k in cols))
    inst = MdrpInstance(
        path.name,
        path,
        rules,
        o.reset_index(drop=True),
        r.reset_index(drop=True),
        c.reset_index(drop=True),
        problem=None,
        created=np.zeros(0),
    )  # type: ignore[arg-type]
    P, created = _problem(inst)
    object.__setattr__(inst, "problem", P)
    object.__setattr__(inst, "created", created)
    return inst


def _problem(inst: MdrpInstance) -> tuple[DispatchProblem, np.ndarray]:
    """The dispatch problem: locations are restaurants, then order doors, then courier starts."""
    o, r, c, R = inst.orders, inst.restaurants, inst.couriers, inst.rules
    xy = np.vstack(
        [
            r[["x", "y"]].to_numpy(float),
            o[["x", "y"]].to_numpy(float),
            c[["x", "y"]].to_numpy(float),
        ]
    )
    nr, n, m = len(r), len(o), len(c)
    metres = cdist(xy, xy)
    minutes = np.ceil(metres / R.meters_per_minute)
    rix = {x: i for i, x in enumerate(r["restaurant"])}
    created = o["placement_time"].to_numpy(float)
    loc_ids = (
        *(f"r:{x}" for x in r["restaurant"]),
        *(f"o:{x}" for x in o["order"]),
        *(f"c:{x}" for x in c["courier"]),
    )
    P = DispatchProblem(
        loc_ids=loc_ids,
        loc_lat=xy[:, 1] / 1000.0,
        loc_lon=xy[:, 0] / 1000.0,  # planar km, not degrees
        dist_km=metres / 1000.0,
        time_min=minutes,
        warehouse_ids=tuple(r["restaurant"]),
        warehouse_loc=np.arange(nr),
        pickup_service=np.full(nr, R.pickup_service_min),
        order_ids=tuple(o["order"]),
        order_loc=nr + np.arange(n),
        order_wh=o["restaurant"].map(rix).to_numpy(np.int64),
        ready=o["ready_time"].to_numpy(float),
        due=created + R.target_min,
        size=np.ones(n),
        service=np.full(n, R.dropoff_service_min),
        special=np.zeros(n, bool),
        penalty=np.full(n, UNSERVED_PENALTY),
        late_weight=np.ones(n),
        courier_ids=tuple(c["courier"]),
        courier_profile=np.full(m, CROWD),
        start_loc=nr + n + np.arange(m),
        start_min=c["on_time"].to_numpy(float),
        end_loc=np.full(m, -1),
        courier_warehouse=np.full(m, -1),
        capacity=np.full(m, float(BUNDLE_MAX)),
        end_min=np.full(m, np.inf),  # drop-offs may finish after the off time ...
        pickup_end=c["off_time"].to_numpy(float),  # ... but no pickup starts after it
        max_work=np.full(m, np.inf),
        fixed_cost=np.zeros(m),
        cost_per_km=np.full(m, KM_COST),
        cost_per_hour=np.zeros(m),
        pay_per_delivery=np.full(m, R.pay_per_order),
        hourly_guarantee=np.full(m, R.pay_per_hour),  # pay = max(per order x n, hourly x shift hours)
        guarantee_hours=(c["off_time"] - c["on_time"]).to_numpy(float) / 60.0,
        may_carry_special=np.zeros(m, bool),
        accept_prob=np.ones(m),
        name=inst.name,
        meta={"source": "mdrp", "path": str(inst.path)},
    )
    return P, created


def execution_params(rules: MdrpRules) -> ExecutionParams:
    """Deterministic execution by the instance's rules: exact travel, no declines or losses,
    the hard limit at the maximum click-to-door (the pickup service at the restaurant is the
    problem's ``pickup_service``, planned and executed alike)."""
    return ExecutionParams.deterministic(max_late_min=rules.max_min - rules.target_min)


# ---- running --------------------------------------------------------------------------------------


class _Watched:
    """A policy that reports each epoch's minute (for a progress bar) and otherwise delegates."""

    def __init__(self, inner: Policy, on_epoch: Callable[[float], None]) -> None:
        self.inner, self.on_epoch = inner, on_epoch
        self.name, self.period = inner.name, inner.period

    @property
    def log(self) -> list[Any]:
        return getattr(self.inner, "log", [])

    def decide(self, view: EpochView) -> list[Trip]:
        self.on_epoch(view.t)
        return self.inner.decide(view)


@dataclass(frozen=True, slots=True, eq=False)
class MdrpRun:
    """One instance executed by one policy: the per-instance row and the executed stops."""

    instance: MdrpInstance = field(repr=False)
    day: ExecutedDay = field(repr=False)
    row: dict[str, Any]
    stops: pd.DataFrame = field(repr=False)  # STOPS_COLUMNS

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.row], columns=list(ROW_COLUMNS))

    def to_dict(self) -> dict[str, Any]:
        return dict(self.row)


def run_mdrp(
    inst: MdrpInstance,
    policy: str = "rolling",
    *,
    period: float = 2.0,
    settings: Settings | None = None,
    seed: int = 0,
    on_epoch: Callable[[float], None] | None = None,
) -> MdrpRun:
    """Execute ``inst`` with ``policy`` re-planning every ``period`` minutes, orders revealed at
    their placement minute (no look-ahead), travel exactly as the instance's rule says."""
    settings = settings or Settings(backend="pyvrp", time_limit=1.0, seed=seed)
    pol: Policy = make_policy(policy, settings, period=period)
    if policy == "matching":  # the instance's own pickup minutes; tuning knobs from the options
        from engine.dispatch.matching import MatchingPolicy

        knobs = {k: v for k, v in settings.options.items() if k in MATCHING_KNOBS}
        pol = MatchingPolicy(
            period=float(period), pickup_service_min=inst.rules.pickup_service_min, **knobs
        )
    if on_epoch is not None:
        pol = _Watched(pol, on_epoch)  # type: ignore[assignment]
    day = execute_problem_day(
        inst.problem, inst.created, pol, execution_params(inst.rules), seed=seed
    )
    stops = executed_stops(inst, day)
    return MdrpRun(inst, day, instance_row(inst, day, stops), stops)


def executed_stops(inst: MdrpInstance, day: ExecutedDay) -> pd.DataFrame:
    """One row per order picked up and per order dropped off, in each courier's order of the day.

    A bundle's pickup is one visit: its orders' pickup rows share arrive and depart minutes."""
    st = day.stops
    cols = list(STOPS_COLUMNS)
    st = st[st["kind"].isin(["pickup", "dropoff"])]
    if not len(st):
        return pd.DataFrame(columns=cols)
    drops = st[st["kind"] == "dropoff"]
    by_trip = drops.groupby(["courier", "trip"], sort=False)["order"].agg(list)
    rest = dict(zip(inst.orders["order"], inst.orders["restaurant"], strict=True))
    assigned = dict(zip(day.orders["order"], day.orders["assigned_min"], strict=True))
    rows: list[dict[str, Any]] = []
    for s in st.itertuples(index=False):
        if s.kind == "pickup":
            for o in by_trip.get((s.courier, s.trip), []):
                rows.append(
                    {
                        "courier": s.courier,
                        "trip": int(s.trip),
                        "_seq": int(s.seq),
                        "kind": "pickup",
                        "order": o,
                        "restaurant": s.warehouse,
                        "arrive_min": float(s.arrive_min),
                        "depart_min": float(s.depart_min),
                    }
                )
        else:
            rows.append(
                {
                    "courier": s.courier,
                    "trip": int(s.trip),
                    "_seq": int(s.seq),
                    "kind": "dropoff",
                    "order": s.order,
                    "restaurant": rest[s.order],
                    "arrive_min": float(s.arrive_min),
                    "depart_min": float(s.depart_min),
                }
            )
    out = pd.DataFrame(rows)
    cix = {c: i for i, c in enumerate(inst.problem.courier_ids)}
    out["_c"] = out["courier"].map(cix)
    out = out.sort_values(["_c", "trip", "_seq"], kind="stable").reset_index(drop=True)
    out["seq"] = out.groupby("courier", sort=False).cumcount() + 1
    out["instance"] = inst.name
    out["assigned_min"] = out["order"].map(assigned)
    return out[cols]


def _pct(a: np.ndarray, q: float) -> float:
    return float(np.percentile(a, q)) if len(a) else math.nan


def _mean(a: np.ndarray) -> float:
    return float(np.mean(a)) if len(a) else math.nan


def instance_row(inst: MdrpInstance, day: ExecutedDay, stops: pd.DataFrame) -> dict[str, Any]:
    """The benchmark's measures of one executed instance (see ``ROW_COLUMNS``)."""
    R, o = inst.rules, day.orders
    lb = inst.lower_bound()
    delivered = (o["state"] == "delivered").to_numpy()
    placed = inst.created
    arrived = o["arrived_min"].to_numpy(float)
    ctd = (arrived - placed)[delivered]
    within = np.zeros(len(o), bool)
    within[delivered] = ctd <= R.target_min + 1e-9
    possible = lb <= R.target_min + 1e-9
    picked = (
        o["picked_min"].to_numpy(float) - R.pickup_service_min
    )  # the pickup starts: food meets its courier
    ready = o["ready_min"].to_numpy(float)
    # couriers: pay, guarantee, utilisation
    c = inst.couriers
    hours = (c["off_time"] - c["on_time"]).to_numpy(float) / 60.0
    n_del = np.zeros(len(c))
    cix = {x: i for i, x in enumerate(c["courier"])}
    d = stops[stops["kind"] == "dropoff"]
    np.add.at(n_del, d["courier"].map(cix).to_numpy(int), 1.0)
    per_order, guarantee = R.pay_per_order * n_del, R.pay_per_hour * hours
    pay = np.maximum(per_order, guarantee)
    busy = 0.0
    visits = 0
    if len(stops):
        # one pickup visit per trip, however many orders it bundles
        visits = int(
            len(stops.loc[stops["kind"] == "pickup", ["courier", "trip"]].drop_duplicates())
        )
        busy += float(visits * R.pickup_service_min + len(d) * R.dropoff_service_min)
        busy += _driving(inst, stops)
    ep = day.epochs
    secs = ep.loc[ep["pending"] > 0, "seconds"].to_numpy(float) if len(ep) else np.zeros(0)
    n = len(o)
    return {
        "instance": inst.name,
        "policy": day.policy,
        "period_min": day.period,
        "orders": n,
        "delivered": int(delivered.sum()),
        "click_to_door_mean": _mean(ctd),
        "click_to_door_p90": _pct(ctd, 90),
        "within_target": float(within.mean()) if n else math.nan,
        "within_target_when_possible": float(within[possible].mean())
        if possible.any()
        else math.nan,
        "ready_to_pickup_mean": _mean((picked - ready)[delivered]),
        "ready_to_door_mean": _mean((arrived - ready)[delivered]),
        "total_pay": float(pay.sum()),
        "pay_per_order": float(pay.sum() / delivered.sum()) if delivered.any() else math.nan,
        "couriers_on_guarantee": float((guarantee > per_order).mean()),
        "utilisation": float(busy / (hours.sum() * 60.0)),
        "orders_per_trip": float(len(d) / visits) if visits else math.nan,
        "lower_bound_mean": float(lb.mean()),
        "lower_bound_within_target": float(possible.mean()),
        "replan_s_p50": _pct(secs, 50),
        "replan_s_p95": _pct(secs, 95),
        "replan_s_max": float(secs.max()) if len(secs) else math.nan,
        "epochs": int(len(ep)),
        "wall_s": float(day.stats.solve_seconds or 0.0),
    }


def _driving(inst: MdrpInstance, stops: pd.DataFrame) -> float:
    """Minutes driven: from each courier's start (or last drop-off) to each next stop, by the rule."""
    pos = {r.courier: (float(r.x), float(r.y)) for r in inst.couriers.itertuples(index=False)}
    rxy = {r.restaurant: (float(r.x), float(r.y)) for r in inst.restaurants.itertuples(index=False)}
    oxy = {r.order: (float(r.x), float(r.y)) for r in inst.orders.itertuples(index=False)}
    # a bundle's pickup rows are one place: keep the first of each run of pickups
    s = stops
    first = (
        (s["kind"] == "dropoff")
        | (s["kind"] != s.groupby("courier")["kind"].shift())
        | (s["trip"] != s.groupby("courier")["trip"].shift())
    )
    s = s[first.to_numpy()]
    xy = np.array(
        [
            rxy[r] if k == "pickup" else oxy[o]
            for k, o, r in zip(s["kind"], s["order"], s["restaurant"], strict=True)
        ]
    )
    prev = np.array([pos[c] for c in s["courier"]])
    same = (s["courier"] == s["courier"].shift()).to_numpy()
    prev[same] = xy[np.flatnonzero(same) - 1]
    return float(inst.travel_min(prev[:, 0], prev[:, 1], xy[:, 0], xy[:, 1]).sum())


def find_instances(paths: list[Path]) -> list[Path]:
    """Instance folders among ``paths``: a folder with ``orders.txt`` is one; any other folder is
    searched one level down (a folder of instance folders gives its instances, sorted)."""
    out: list[Path] = []
    for p in paths:
        if (p / "orders.txt").is_file() or not p.is_dir():
            out.append(p)
        else:
            out += sorted(q for q in p.iterdir() if (q / "orders.txt").is_file())
    return out


__all__ = [
    "BUNDLE_MAX",
    "FILES",
    "ROW_COLUMNS",
    "STOPS_COLUMNS",
    "MdrpFormatError",
    "MdrpInstance",
    "MdrpRules",
    "MdrpRun",
    "execution_params",
    "executed_stops",
    "find_instances",
    "instance_row",
    "read_mdrp",
    "run_mdrp",
]
