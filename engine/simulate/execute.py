"""Execute a day as it happens: a discrete-event simulation with the dispatcher in the loop.

The day is run in SimPy. Orders become known at their creation minute; every ``period``
minutes the dispatch policy (:mod:`engine.dispatch.policy`) is called with the realised state
— orders known and not taken, where each courier really is and when it will really be free —
and returns trips. Each trip is checked by the independent feasibility checker before it is
offered. Then:

* a crowd offer is accepted with the courier's probability, drawn when it is made; a declined
  offer puts its orders back in the pool, and that courier is not asked again before the next
  epoch. An accepted crowd courier may not show up (``crowd_no_show``): that is noticed
  ``no_show_detect_min`` later, the orders go back to the pool and the courier is gone for the day;
* couriers execute their trips leg by leg. Each leg's travel time is the planned one times a
  mean-one lognormal factor (``travel_noise_cv``), so a late stop makes every later stop of
  the trip late; the pickup service at the warehouse (the problem's ``pickup_service``, which
  the plan counts too) and the drop-off service times count; nobody leaves a warehouse before
  the orders on board are ready; a courier is offered work only before its last pickup
  minute (``pickup_end``; drop-offs may end later), though noisy travel may make it start a
  planned pickup a little after it;
* a promise is a target: an order that misses it is still delivered, late. Only when no
  courier could reach it before its hard limit ``due + max_late_min`` does it go to the slow
  tier, with that reason;
* damage and loss happen on the way (rates by courier kind, higher for fragile goods) and
  open a claim whose resolution time depends on whether the order's trail is complete;
  a delivered order may be returned: the return is requested later and picked up by an idle
  courier of the day (a reverse trip back to the order's warehouse), on time when inside
  ``return_window_min``;
* every event is logged with its minute, order, courier and place; courier-side scans fail
  to be recorded with a rate by courier kind (fleet scanners vs the crowd app).

Random numbers are common across policies where the thing drawn belongs to an order (its
drop-off leg factor, damage, loss, return, scan gaps) or to a courier's k-th offer / trip, so
two policies run with one seed differ by their decisions, not by their luck.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from engine.dispatch.check import check_solution
from engine.dispatch.day import subproblem
from engine.dispatch.policy import EpochView, Policy
from engine.dispatch.problem import CROWD, DispatchProblem
from engine.dispatch.schedule import EPS, Trip, build_result, evaluate_trip
from engine.errors import EngineError
from engine.solver import SolveStats, SolveStatus

EVENT_COLUMNS = ("minute", "kind", "order", "courier", "lat", "lon", "recorded")
STOP_COLUMNS = ("courier", "courier_kind", "trip", "seq", "kind", "order", "warehouse", "loc",
                "arrive_min", "depart_min", "load_m3")
ORDER_COLUMNS = ("order", "state", "courier", "courier_kind", "created_min", "ready_min", "due_min",
                 "hard_due_min", "assigned_min", "eta_min", "picked_min", "arrived_min", "delivered_min", "late_min",
                 "offers", "declines", "no_shows", "reason", "trail_complete", "returned",
                 "return_requested_min", "return_picked_min", "return_picked_on_time", "claim",
                 "claim_resolved_min", "claim_resolved_on_time")
FINAL = ("delivered", "damaged", "lost", "slow")
# courier-side scans: the events a complete trail needs for a delivered order
SCAN_KINDS = ("arrived_pickup", "picked", "arrived_dropoff", "delivered")
R_HARD = "no courier could deliver it before its hard limit (due + max_late_min)"
R_END = "the day ended before any courier could take it"
R_SOLVE_FAILED = "solve_error: a dispatch solve failed while it waited; then "


class PlanRejected(EngineError):
    """A dispatch policy returned trips that fail the independent feasibility checker."""


@dataclass(frozen=True, slots=True)
class ExecutionParams:
    """What the execution draws and how it judges; defaults are documented assumptions."""

    travel_noise_cv: float = 0.15
    travel_min_factor: float = 0.6  # no leg is faster than this share of its planned time
    # minutes to take a return over at the customer; the warehouse hand-over of a trip is the
    # problem's ``pickup_service`` (planned and executed alike)
    pickup_service_min: float = 2.0
    crowd_no_show: float = 0.05
    no_show_detect_min: float = 10.0
    max_late_min: float = 120.0
    damage_rate_fleet: float = 0.002
    damage_rate_crowd: float = 0.005
    fragile_damage_factor: float = 3.0
    loss_rate: float = 0.001
    return_rate: float = 0.03
    return_delay_min: tuple[float, float] = (30.0, 180.0)  # return requested this long after delivery
    return_window_min: float = 120.0
    tracking_gap_rate_fleet: float = 0.002
    tracking_gap_rate_crowd: float = 0.01
    claim_median_hours: float = 24.0
    claim_sigma: float = 0.8
    claim_window_hours: float = 48.0
    claim_incomplete_factor: float = 2.0  # a claim without a full trail takes this much longer

    def __post_init__(self) -> None:
        for name in ("crowd_no_show", "damage_rate_fleet", "damage_rate_crowd", "loss_rate", "return_rate",
                     "tracking_gap_rate_fleet", "tracking_gap_rate_crowd"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise EngineError(f"execution parameter {name} must be a share in [0, 1], got {v!r}")
        for name in ("travel_noise_cv", "pickup_service_min", "no_show_detect_min", "max_late_min",
                     "return_window_min", "claim_median_hours", "claim_sigma", "claim_window_hours"):
            v = getattr(self, name)
            if not (v >= 0 and math.isfinite(v)):
                raise EngineError(f"execution parameter {name} must be a finite number >= 0, got {v!r}")
        if not 0 < self.travel_min_factor <= 1:
            raise EngineError(f"travel_min_factor must be in (0, 1], got {self.travel_min_factor!r}")

    @classmethod
    def deterministic(cls, **kw: Any) -> ExecutionParams:
        """Executed exactly as planned: no travel noise, no no-shows, damage, loss, returns or
        scan gaps, no return hand-over time (crowd declines still follow each courier's
        acceptance probability). The warehouse pickup service is the problem's, as planned."""
        base = dict(travel_noise_cv=0.0, pickup_service_min=0.0, crowd_no_show=0.0, damage_rate_fleet=0.0, damage_rate_crowd=0.0,
                    loss_rate=0.0, return_rate=0.0, tracking_gap_rate_fleet=0.0, tracking_gap_rate_crowd=0.0)
        base.update(kw)
        return cls(**base)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ExecutedDay:
    """The executed day: per-order outcomes, the event log, every executed stop, the epochs."""

    orders: pd.DataFrame  # ORDER_COLUMNS, one row per order of the problem
    events: pd.DataFrame  # EVENT_COLUMNS, chronological
    stops: pd.DataFrame  # STOP_COLUMNS, every executed stop (trips and return runs)
    epochs: pd.DataFrame  # t, pending, available, offered, accepted, declined, seconds, status, error
    policy: str
    period: float
    seed: int
    stats: SolveStats
    problem: DispatchProblem = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    params: ExecutionParams = field(default_factory=ExecutionParams)

    def to_frame(self) -> pd.DataFrame:
        return self.orders

    def cost(self) -> dict[str, float]:
        """What the executed day cost: fixed cost of every courier used, executed kilometres,
        fleet hours from set-off to the end of each trip, pay per delivery and the top-up of
        couriers whose guaranteed hourly minimum is more (``guarantee``); the penalties are
        those of orders left to the slow tier and of minutes late (segment-weighted)."""
        from engine.dispatch.result import cost_breakdown

        P, st, o = self.problem, self.stops, self.orders
        cidx = {c: i for i, c in enumerate(P.courier_ids)}
        km = np.zeros(P.n_couriers)
        work = np.zeros(P.n_couriers)
        drops = np.zeros(P.n_couriers)
        if len(st):
            v = st["courier"].map(cidx).to_numpy(int)
            loc = st["loc"].to_numpy(int)
            same = (st["courier"].to_numpy() == np.roll(st["courier"].to_numpy(), 1)) & \
                   (st["trip"].to_numpy() == np.roll(st["trip"].to_numpy(), 1))
            same[0] = False
            prev = np.roll(loc, 1)
            leg = np.where(same, P.dist_km[P.courier_profile[v], prev, loc], 0.0)
            np.add.at(km, v, leg)
            span = st.groupby(["courier", "trip"], sort=False).agg(a=("arrive_min", "min"), b=("depart_min", "max"))
            np.add.at(work, span.index.get_level_values(0).map(cidx).to_numpy(int), (span["b"] - span["a"]).to_numpy())
            d = st[st["kind"] == "dropoff"]
            np.add.at(drops, d["courier"].map(cidx).to_numpy(int), 1.0)
        used = np.zeros(P.n_couriers, bool)
        if len(st):
            used[st["courier"].map(cidx).to_numpy(int)] = True
        slow = (o["state"] == "slow").to_numpy()
        late = np.nan_to_num(o["late_min"].to_numpy(float))
        per_delivery, top_up = P.pay_parts(drops)
        return cost_breakdown(fixed=float(P.fixed_cost[used].sum()), distance=float((P.cost_per_km * km).sum()),
                              time=float((P.cost_per_hour * work / 60.0).sum()),
                              per_delivery=per_delivery, guarantee=top_up,
                              unserved=float(P.penalty[slow].sum()), lateness=float((P.late_weight * late).sum()))

    def to_dict(self) -> dict[str, Any]:
        o = self.orders
        ep = self.epochs
        return {
            "policy": self.policy, "period_min": self.period, "seed": self.seed,
            "orders": int(len(o)),
            "final_states": {k: int(v) for k, v in o["state"].value_counts().items()},
            "on_time": int(((o["late_min"] <= EPS) & o["state"].isin(["delivered", "damaged"])).sum()),
            "late": int(((o["late_min"] > EPS) & o["state"].isin(["delivered", "damaged"])).sum()),
            "epochs": int(len(ep)),
            "errored_epochs": int((ep["status"] == "error").sum()) if len(ep) else 0,
            "dispatcher_seconds": float(ep["seconds"].sum()) if len(ep) else 0.0,
            "offers": int(o["offers"].sum()), "declines": int(o["declines"].sum()),
            "no_shows": int(o["no_shows"].sum()),
            "cost": self.cost(),
            "stats": self.stats.to_dict(),
        }


class _Streams:
    """Seeded random numbers tied to orders and to couriers' k-th offer / trip (see module doc)."""

    def __init__(self, seed: int, n: int, m: int, p: ExecutionParams) -> None:
        ss = np.random.SeedSequence(seed)
        o_ss, c_ss = ss.spawn(2)
        r = np.random.default_rng(o_ss)
        self.p = p
        self.drop_factor = self._lognormal(r, n)
        self.u_damage = r.random(n)
        self.u_loss = r.random(n)
        self.u_return = r.random(n)
        self.return_delay = r.uniform(*p.return_delay_min, n) if n else np.zeros(0)
        self.u_scan = r.random((n, len(SCAN_KINDS) + 2))  # + return pickup scan, spare
        self.claim_z = r.standard_normal(n)
        self.return_factor = self._lognormal(r, (n, 2))
        self._courier = [np.random.default_rng(s) for s in c_ss.spawn(m)]

    def _lognormal(self, r: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        cv = self.p.travel_noise_cv
        if cv <= 0:
            r.random(size)  # keep the streams aligned whatever the noise level
            return np.ones(size)
        sigma = math.sqrt(math.log1p(cv**2))
        return np.maximum(r.lognormal(-(sigma**2) / 2, sigma, size), self.p.travel_min_factor)

    def courier_offer(self, v: int) -> tuple[float, float]:
        """Uniforms deciding the courier's next offer: (accept, no-show)."""
        u = self._courier[v].random(2)
        return float(u[0]), float(u[1])

    def courier_leg(self, v: int) -> float:
        """Travel factor of a courier's next leg that no order owns (to the warehouse, back home)."""
        return float(self._lognormal(self._courier[v], 1)[0])


class _Execution:
    """One replication: the SimPy processes and the state they share."""

    def __init__(self, P: DispatchProblem, created: np.ndarray, policy: Policy, params: ExecutionParams,
                 seed: int, *, fragile: np.ndarray | None, hard_due: np.ndarray) -> None:
        import simpy

        self.P, self.policy, self.p = P, policy, params
        n, m = P.n_orders, P.n_couriers
        self.n, self.m = n, m
        self.created = np.asarray(created, dtype=float)
        self.hard_due = hard_due
        self.fragile = np.zeros(n, bool) if fragile is None else np.asarray(fragile, bool)
        self.rs = _Streams(seed, n, m, params)
        self.t0 = math.floor(float(self.created.min()) / policy.period) * policy.period if n else 0.0
        self.env = simpy.Environment(initial_time=self.t0)
        self.res = [simpy.Resource(self.env, capacity=1) for _ in range(m)]
        # orders
        self.state = np.array(["pending"] * n, dtype=object)  # visible from its creation minute
        self.courier = np.full(n, -1, np.int64)
        self.assigned = np.full(n, np.nan)
        self.eta = np.full(n, np.nan)
        self.picked = np.full(n, np.nan)
        self.begin = np.full(n, np.nan)  # executed service start at the customer
        self.delivered = np.full(n, np.nan)
        self.offers = np.zeros(n, np.int64)
        self.declines = np.zeros(n, np.int64)
        self.no_shows = np.zeros(n, np.int64)
        self.reason = np.full(n, "", dtype=object)
        self.scan_ok = np.ones(n, bool)
        self.returned = np.zeros(n, bool)
        self.ret_req = np.full(n, np.nan)
        self.ret_picked = np.full(n, np.nan)
        self.claim = np.zeros(n, bool)
        self.claim_at = np.full(n, np.nan)
        self.claim_done = np.full(n, np.nan)
        self.taken = np.zeros(n, bool)  # in a committed trip (or final)
        self.waited_on_error = np.zeros(n, bool)  # pending during an epoch whose solve failed
        # couriers: the dispatcher's picture (expected free time and place after queued work)
        self.free_min = P.start_min.astype(float).copy()
        self.loc = P.start_loc.copy()
        self.work_used = np.zeros(m)
        self.used = np.zeros(m, bool)
        self.trips_done = np.zeros(m, np.int64)
        self.deliveries = np.zeros(m)  # orders in accepted trips (the guarantee's count)
        self.blocked_until = np.full(m, -np.inf)
        self.gone = np.zeros(m, bool)
        self.busy = np.zeros(m, np.int64)  # trips committed, not finished
        self.returns_queue: list[int] = []
        self.returns_coming = 0  # deliveries whose return request is still to come
        # logs
        self.events: list[tuple[float, str, str, str, float, float, bool]] = []
        self.stops: list[dict[str, Any]] = []
        self.epochs: list[dict[str, Any]] = []
        self.rejected: list[str] = []
        self.horizon = float(np.max(hard_due)) + policy.period if n else self.t0

    # ---- logging ---------------------------------------------------------------------------
    def log(self, kind: str, order: int | None, courier: int | None, loc: int, *, recorded: bool = True) -> None:
        P = self.P
        self.events.append((float(self.env.now), kind, P.order_ids[order] if order is not None else "",
                            P.courier_ids[courier] if courier is not None else "",
                            float(P.loc_lat[loc]), float(P.loc_lon[loc]), bool(recorded)))

    def scan(self, kind: str, order: int, courier: int, loc: int, slot: int) -> None:
        rate = self.p.tracking_gap_rate_crowd if self.P.courier_profile[courier] == CROWD else self.p.tracking_gap_rate_fleet
        ok = bool(self.rs.u_scan[order, slot] >= rate)
        if not ok and slot < len(SCAN_KINDS):
            self.scan_ok[order] = False
        self.log(kind, order, courier, loc, recorded=ok)

    # ---- processes -------------------------------------------------------------------------
    def arrivals(self) -> Any:
        P = self.P
        for i in np.argsort(self.created, kind="stable"):
            yield self.env.timeout(max(float(self.created[i]) - self.env.now, 0.0))
            self.log("created", int(i), None, int(P.order_loc[i]))

    def dispatcher(self) -> Any:
        period = self.policy.period
        while True:
            t = float(self.env.now)
            self.give_up(t)
            self.epoch(t)
            self.dispatch_returns(t)
            if self.finished(t):
                break
            yield self.env.timeout(period)

    def finished(self, t: float) -> bool:
        open_orders = ~np.isin(self.state, FINAL)
        if t > self.horizon:
            for i in np.flatnonzero(open_orders & ~self.taken):
                self.to_slow(int(i), R_END)
            open_orders = ~np.isin(self.state, FINAL)
            on_duty = ~self.gone & (np.maximum(self.free_min, t) < self.P.end_min - EPS)
            if not on_duty.any() or t > self.horizon + 1440.0:
                self.returns_queue.clear()  # nobody left to pick them up today
                return not open_orders.any() and not self.busy.any()
        return not open_orders.any() and not self.busy.any() and not self.returns_queue and not self.returns_coming

    def give_up(self, t: float) -> None:
        """Pending orders that even a courier waiting at the warehouse now could not deliver in time."""
        P = self.P
        pend = np.flatnonzero(self.known(t))
        if not len(pend):
            return
        wl = P.warehouse_loc[P.order_wh[pend]]
        fastest = P.time_min[:, wl, P.order_loc[pend]].min(axis=0)
        late = np.maximum(t, P.ready[pend]) + P.pickup_service[P.order_wh[pend]] + fastest > self.hard_due[pend] + EPS
        for i in pend[late]:
            self.to_slow(int(i), R_HARD)

    def to_slow(self, i: int, why: str) -> None:
        self.state[i] = "slow"
        self.reason[i] = (R_SOLVE_FAILED + why) if self.waited_on_error[i] else why
        self.taken[i] = True
        self.log("moved_to_slow", i, None, int(self.P.order_loc[i]))

    def known(self, t: float) -> np.ndarray:
        """Orders created by ``t``, not taken by a courier and not given up (bool mask)."""
        return (self.state == "pending") & ~self.taken & (self.created <= t + EPS)

    def view(self, t: float) -> EpochView:
        P = self.P
        pend = np.flatnonzero(self.known(t))
        pend = pend[np.argsort(self.created[pend], kind="stable")]
        avail = (~self.gone & (self.free_min < P.work_end - EPS) & (self.work_used < P.max_work - EPS)
                 & (self.blocked_until <= t + EPS))
        return EpochView(t=t, next_t=t + self.policy.period, problem=P, pending=pend, available=avail,
                         free_min=np.maximum(self.free_min, t), loc=self.loc.copy(), work_used=self.work_used.copy(),
                         used=self.used.copy(), trips_done=self.trips_done.copy(), hard_due=self.hard_due,
                         max_late_min=self.p.max_late_min, deliveries=self.deliveries.copy())

    def epoch(self, t: float) -> None:
        view = self.view(t)
        row: dict[str, Any] = {"t": t, "pending": int(len(view.pending)), "available": int(view.available.sum()),
                               "offered": 0, "accepted": 0, "declined": 0, "seconds": 0.0, "status": "idle", "error": ""}
        if len(view.pending):
            n_log = len(getattr(self.policy, "log", []))
            t_wall = time.perf_counter()
            trips = self.policy.decide(view)
            row["seconds"] = time.perf_counter() - t_wall
            log = getattr(self.policy, "log", [])
            if len(log) > n_log:
                row["status"], row["error"] = log[-1].status, log[-1].error
            else:
                row["status"] = "ok"
            if row["status"] == "error":
                self.waited_on_error[view.pending] = True
            self.check(view, trips)
            for trip in trips:
                row["offered"] += 1
                outcome = self.offer(trip, t)
                row[outcome] += 1
        self.epochs.append(row)

    def check(self, view: EpochView, trips: list[Trip]) -> None:
        """The independent checker on this epoch's trips, against the realised state."""
        if not trips:
            return
        P = self.P
        problems: list[str] = []
        seen: set[int] = set()
        pending = set(int(i) for i in view.pending)
        couriers = [t.courier for t in trips]
        if len(set(couriers)) != len(couriers):
            problems.append("a courier was given two trips in one epoch")
        for t in trips:
            if not view.available[t.courier]:
                problems.append(f"courier {P.courier_ids[t.courier]} is not available")
            if t.start_loc != view.loc[t.courier] or t.start_min < view.free_min[t.courier] - EPS:
                problems.append(f"courier {P.courier_ids[t.courier]}: trip starts before it is free or elsewhere")
            for o in t.orders:
                if o not in pending or o in seen:
                    problems.append(f"order {P.order_ids[o]} is not pending or planned twice")
                seen.add(o)
        if not problems:
            orders = np.array(sorted(seen), dtype=np.int64)
            cour = np.array(couriers, dtype=np.int64)
            sub = subproblem(P, orders, cour, start_loc=np.array([t.start_loc for t in trips]),
                             start_min=np.array([t.start_min for t in trips]),
                             max_work=P.max_work[cour] - view.work_used[cour], fixed_cost=P.fixed_cost[cour],
                             warehouse=np.array([t.warehouse for t in trips]), plan_min=view.t)
            sub = replace(sub, due=self.hard_due[orders], max_late_min=0.0)  # the hard limit is the constraint
            oi = {int(o): k for k, o in enumerate(orders)}
            local = [Trip(j, t.warehouse, tuple(oi[o] for o in t.orders), t.start_loc, t.start_min)
                     for j, t in enumerate(trips)]
            res = build_result(sub, local, SolveStats("policy", SolveStatus.FEASIBLE))
            problems = check_solution(sub, res)
        if problems:
            raise PlanRejected(f"{self.policy.name} plan at minute {view.t:g} fails the feasibility check: "
                               + "; ".join(problems[:5]))

    def offer(self, trip: Trip, t: float) -> str:
        P, v = self.P, trip.courier
        for o in trip.orders:
            self.offers[o] += 1
            self.log("offered", o, v, int(P.order_loc[o]))
        crowd = P.courier_profile[v] == CROWD
        u_accept, u_show = self.rs.courier_offer(v)
        if crowd and u_accept >= P.accept_prob[v]:
            for o in trip.orders:
                self.declines[o] += 1
                self.log("declined", o, v, int(P.order_loc[o]))
            self.blocked_until[v] = t + self.policy.period
            return "declined"
        ev = evaluate_trip(P, replace(trip, start_min=max(trip.start_min, t)))
        for o, b in zip(trip.orders, ev.begins, strict=True):
            self.assigned[o] = t
            self.eta[o] = b
            self.courier[o] = v
            self.taken[o] = True
            self.state[o] = "assigned"
            self.log("accepted", o, v, int(P.order_loc[o]))
        self.trips_done[v] += 1
        self.deliveries[v] += len(trip.orders)
        self.busy[v] += 1
        self.used[v] = True
        self.work_used[v] += ev.work_min
        self.free_min[v] = ev.end_min
        self.loc[v] = ev.end_loc
        no_show = crowd and u_show < self.p.crowd_no_show
        self.env.process(self.no_show(trip, ev.work_min) if no_show
                         else self.run_trip(trip, int(self.trips_done[v]), ev.work_min))
        return "accepted"

    def no_show(self, trip: Trip, planned_work: float) -> Any:
        """The courier does not come for this trip: noticed ``no_show_detect_min`` after it was due
        to begin (after the courier's earlier trips); it is gone for the day, and so are the trips
        it had accepted after this one (they wait behind it and are handed back when they come)."""
        v = trip.courier
        with self.res[v].request() as req:
            yield req
            yield self.env.timeout(self.p.no_show_detect_min)
            self.gone[v] = True
            self.hand_back(trip, planned_work)

    def hand_back(self, trip: Trip, planned_work: float) -> None:
        """An accepted trip its courier will not drive: the orders go back to the pool."""
        P, v = self.P, trip.courier
        self.deliveries[v] -= len(trip.orders)
        self.busy[v] -= 1
        self.work_used[v] -= planned_work
        self.free_min[v] = P.end_min[v]
        for o in trip.orders:
            self.no_shows[o] += 1
            self.taken[o] = False
            self.state[o] = "pending"
            self.courier[o] = -1
            self.log("no_show", o, v, int(P.order_loc[o]))

    def move(self, v: int, src: int, dst: int, factor: float) -> Any:
        """Ride from ``src`` to ``dst``; the dispatcher's expected free time absorbs the delay."""
        p = int(self.P.courier_profile[v])
        planned = float(self.P.time_min[p, src, dst])
        actual = planned * factor
        if actual > 0:
            yield self.env.timeout(actual)
        self.free_min[v] += actual - planned
        return planned

    def stop(self, v: int, trip_no: int, seq: int, kind: str, order: int | None, wh: int | None, loc: int,
             arrive: float, depart: float, load: float) -> None:
        P = self.P
        self.stops.append({"courier": P.courier_ids[v], "courier_kind": "crowd" if P.courier_profile[v] == CROWD else "fleet",
                           "trip": trip_no, "seq": seq, "kind": kind, "order": P.order_ids[order] if order is not None else None,
                           "warehouse": P.warehouse_ids[wh] if wh is not None else None, "loc": loc,
                           "arrive_min": arrive, "depart_min": depart, "load_m3": load})

    def run_trip(self, trip: Trip, trip_no: int, planned_work: float = 0.0) -> Any:
        P, p, v = self.P, self.p, trip.courier
        env = self.env
        with self.res[v].request() as req:
            yield req
            if self.gone[v]:  # it did not show up for an earlier trip: nor does it for this one
                self.hand_back(trip, planned_work)
                return
            start = max(float(env.now), trip.start_min)
            if start > env.now:
                yield env.timeout(start - env.now)
            t_start = float(env.now)
            wl = int(P.warehouse_loc[trip.warehouse])
            here = int(trip.start_loc)
            seq = 0
            self.stop(v, trip_no, seq, "start", None, None, here, t_start, t_start, 0.0)
            yield from self.move(v, here, wl, self.rs.courier_leg(v))
            here = wl
            at_wh = float(env.now)
            for o in trip.orders:
                self.scan("arrived_pickup", o, v, wl, 0)
            ready = float(P.ready[list(trip.orders)].max())
            if ready > env.now:  # waiting for the orders was planned already
                yield env.timeout(ready - env.now)
            handover = float(P.pickup_service[trip.warehouse])
            if handover > 0:  # planned too: the problem's pickup service at this warehouse
                yield env.timeout(handover)
            load = float(P.size[list(trip.orders)].sum())
            seq += 1
            self.stop(v, trip_no, seq, "pickup", None, trip.warehouse, wl, at_wh, float(env.now), load)
            for o in trip.orders:
                self.picked[o] = float(env.now)
                self.state[o] = "picked"
                self.scan("picked", o, v, wl, 1)
            crowd = P.courier_profile[v] == CROWD
            for o in trip.orders:
                loc = int(P.order_loc[o])
                yield from self.move(v, here, loc, float(self.rs.drop_factor[o]))
                here = loc
                arrive = float(env.now)
                self.scan("arrived_dropoff", o, v, loc, 2)
                begin = max(arrive, float(P.open_min[o]))
                if begin > env.now:
                    yield env.timeout(begin - env.now)
                self.begin[o] = begin
                if self.rs.u_loss[o] < p.loss_rate:
                    self.state[o] = "lost"
                    self.log("lost", o, v, loc)
                    self.open_claim(o)
                else:
                    if P.service[o] > 0:
                        yield env.timeout(float(P.service[o]))
                    self.delivered[o] = float(env.now)
                    rate = p.damage_rate_crowd if crowd else p.damage_rate_fleet
                    if self.fragile[o]:
                        rate = min(rate * p.fragile_damage_factor, 1.0)
                    self.scan("delivered", o, v, loc, 3)
                    if self.rs.u_damage[o] < rate:
                        self.state[o] = "damaged"
                        self.log("damaged", o, v, loc)
                        self.open_claim(o)
                    else:
                        self.state[o] = "delivered"
                        if self.rs.u_return[o] < p.return_rate:
                            self.returns_coming += 1
                            env.process(self.request_return(o))
                load -= float(P.size[o])
                seq += 1
                self.stop(v, trip_no, seq, "dropoff", o, None, loc, arrive, float(env.now), max(load, 0.0))
            end_loc = int(P.end_loc[v])
            arrive_end = float(env.now)
            if end_loc >= 0 and end_loc != here:
                yield from self.move(v, here, end_loc, self.rs.courier_leg(v))
                here = end_loc
                arrive_end = float(env.now)
            seq += 1
            self.stop(v, trip_no, seq, "end", None, None, here, arrive_end, arrive_end, 0.0)
            self.busy[v] -= 1
            if self.busy[v] == 0:
                self.free_min[v] = float(env.now)
                self.loc[v] = here

    def open_claim(self, o: int) -> None:
        self.claim[o] = True
        self.claim_at[o] = float(self.env.now)

    def request_return(self, o: int) -> Any:
        yield self.env.timeout(float(self.rs.return_delay[o]))
        self.returned[o] = True
        self.ret_req[o] = float(self.env.now)
        self.log("return_requested", o, None, int(self.P.order_loc[o]))
        self.returns_coming -= 1
        self.returns_queue.append(o)

    def dispatch_returns(self, t: float) -> None:
        """Idle couriers (free now, not given work this epoch) take waiting returns, oldest first."""
        if not self.returns_queue:
            return
        P = self.P
        idle = (~self.gone & (self.busy == 0) & (self.free_min <= t + EPS) & (self.free_min < P.end_min - EPS)
                & (self.blocked_until <= t + EPS))
        for o in list(self.returns_queue):
            wh = int(P.order_wh[o])
            cand = np.flatnonzero(idle & ((P.courier_warehouse < 0) | (P.courier_warehouse == wh)))
            if not len(cand):
                continue
            prof = P.courier_profile[cand]
            cust, wl = int(P.order_loc[o]), int(P.warehouse_loc[wh])
            reach = P.time_min[prof, self.loc[cand], cust]
            total = reach + P.time_min[prof, cust, wl] + self.p.pickup_service_min
            ok = t + total <= P.end_min[cand] + EPS
            if not ok.any():
                continue
            v = int(cand[np.argmin(np.where(ok, reach, np.inf))])
            idle[v] = False
            self.returns_queue.remove(o)
            self.busy[v] += 1
            self.free_min[v] = t + float(total[np.flatnonzero(cand == v)[0]])
            self.work_used[v] += float(total[np.flatnonzero(cand == v)[0]])
            self.loc[v] = wl
            self.trips_done[v] += 1
            self.env.process(self.run_return(o, v, int(self.trips_done[v])))

    def run_return(self, o: int, v: int, trip_no: int) -> Any:
        P, env = self.P, self.env
        with self.res[v].request() as req:
            yield req
            here, cust, wh = int(self.loc_now(v)), int(P.order_loc[o]), int(P.order_wh[o])
            wl = int(P.warehouse_loc[wh])
            t0 = float(env.now)
            self.stop(v, trip_no, 0, "start", None, None, here, t0, t0, 0.0)
            yield from self.move(v, here, cust, float(self.rs.return_factor[o, 0]))
            arrive = float(env.now)
            if self.p.pickup_service_min > 0:
                yield env.timeout(self.p.pickup_service_min)
            self.ret_picked[o] = float(env.now)
            self.scan("return_picked", o, v, cust, len(SCAN_KINDS))
            self.stop(v, trip_no, 1, "return_pickup", o, None, cust, arrive, float(env.now), float(P.size[o]))
            yield from self.move(v, cust, wl, float(self.rs.return_factor[o, 1]))
            t_end = float(env.now)
            self.log("return_received", o, v, wl)
            self.stop(v, trip_no, 2, "return_drop", o, wh, wl, t_end, t_end, 0.0)
            self.busy[v] -= 1
            if self.busy[v] == 0:
                self.free_min[v] = t_end
                self.loc[v] = wl

    def loc_now(self, v: int) -> int:
        """Where courier ``v`` is once its earlier trips are done (its last executed stop)."""
        cid = self.P.courier_ids[v]
        for s in reversed(self.stops):
            if s["courier"] == cid:
                return int(s["loc"])
        return int(self.P.start_loc[v])

    # ---- run and collect ------------------------------------------------------------------
    def run(self) -> None:
        if self.n:
            self.env.process(self.arrivals())
            self.env.process(self.dispatcher())
        self.env.run()
        self.resolve_claims()

    def resolve_claims(self) -> None:
        """Claims resolve after a lognormal time; an incomplete trail means slower evidence."""
        p = self.p
        for o in np.flatnonzero(self.claim):
            hours = p.claim_median_hours * math.exp(p.claim_sigma * float(self.rs.claim_z[o]))
            if not self.scan_ok[o]:
                hours *= p.claim_incomplete_factor
            self.claim_done[o] = self.claim_at[o] + 60.0 * hours
            self.events.append((float(self.claim_at[o]), "claim_opened", self.P.order_ids[o], "",
                                float(self.P.loc_lat[self.P.order_loc[o]]), float(self.P.loc_lon[self.P.order_loc[o]]), True))
            self.events.append((float(self.claim_done[o]), "claim_resolved", self.P.order_ids[o], "",
                                float(self.P.loc_lat[self.P.order_loc[o]]), float(self.P.loc_lon[self.P.order_loc[o]]), True))

    def collect(self, seed: int, wall: float) -> ExecutedDay:
        P, p = self.P, self.p
        ev = pd.DataFrame(self.events, columns=list(EVENT_COLUMNS))
        ev["_rank"] = (ev["kind"] != "created").astype(int)
        ev = ev.sort_values(["minute", "_rank"], kind="stable").drop(columns="_rank").reset_index(drop=True)
        stops = pd.DataFrame(self.stops, columns=list(STOP_COLUMNS))
        epochs = pd.DataFrame(self.epochs, columns=["t", "pending", "available", "offered", "accepted", "declined",
                                                    "seconds", "status", "error"])
        kinds = np.array(["fleet", "crowd"], dtype=object)
        kind = np.array([kinds[P.courier_profile[c]] if c >= 0 else "" for c in self.courier], dtype=object)
        finished = np.isin(self.state, ("delivered", "damaged"))
        late = np.where(finished, np.maximum(self.begin - P.due, 0.0), np.nan)
        trail = self.scan_ok & np.isin(self.state, ("delivered", "damaged", "lost"))
        orders = pd.DataFrame({
            "order": list(P.order_ids), "state": self.state.astype(str),
            "courier": [P.courier_ids[c] if c >= 0 else "" for c in self.courier], "courier_kind": kind,
            "created_min": self.created, "ready_min": P.ready, "due_min": P.due, "hard_due_min": self.hard_due,
            "assigned_min": self.assigned, "eta_min": self.eta, "picked_min": self.picked,
            "arrived_min": self.begin, "delivered_min": self.delivered, "late_min": late, "offers": self.offers, "declines": self.declines,
            "no_shows": self.no_shows, "reason": self.reason.astype(str), "trail_complete": trail,
            "returned": self.returned, "return_requested_min": self.ret_req, "return_picked_min": self.ret_picked,
            "return_picked_on_time": self.returned & (self.ret_picked - self.ret_req <= p.return_window_min + EPS),
            "claim": self.claim, "claim_resolved_min": self.claim_done,
            "claim_resolved_on_time": self.claim & (self.claim_done - self.claim_at <= 60.0 * p.claim_window_hours + EPS),
        }, columns=list(ORDER_COLUMNS))
        errored = int((epochs["status"] == "error").sum()) if len(epochs) else 0
        stats = SolveStats("execution", SolveStatus.FEASIBLE, solve_seconds=wall,
                           message=f"{self.policy.name} every {self.policy.period:g} min, {len(epochs)} epochs"
                                   + (f", {errored} with a failed solve" if errored else ""))
        return ExecutedDay(orders=orders, events=ev, stops=stops, epochs=epochs, policy=self.policy.name,
                           period=self.policy.period, seed=seed, stats=stats, problem=P, params=p)


def execute_problem_day(P: DispatchProblem, created: np.ndarray, policy: Policy | Callable[[], Policy],
                        params: ExecutionParams | None = None, *, seed: int = 0,
                        fragile: np.ndarray | None = None) -> ExecutedDay:
    """Execute one replication of a day problem (crowd couriers with no fixed warehouse).

    ``policy`` is a policy object or a factory (so replications start from a clean policy).
    ``fragile`` (bool per order) raises the damage rate by ``fragile_damage_factor``.
    """
    params = params or ExecutionParams()
    pol = policy() if callable(policy) and not hasattr(policy, "decide") else policy
    created = np.asarray(created, dtype=float)
    if created.shape != (P.n_orders,):
        raise EngineError(f"created: expected {P.n_orders} creation minutes, got shape {created.shape}")
    hard_due = P.due + params.max_late_min
    t = time.perf_counter()
    ex = _Execution(P, created, pol, params, seed, fragile=fragile, hard_due=hard_due)  # type: ignore[arg-type]
    ex.run()
    return ex.collect(seed, time.perf_counter() - t)


__all__ = ["EVENT_COLUMNS", "ORDER_COLUMNS", "STOP_COLUMNS", "ExecutedDay", "ExecutionParams", "PlanRejected",
           "execute_problem_day"]
