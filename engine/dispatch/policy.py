"""Dispatch policies: what to send now, given only what is known now.

A policy is called at every decision epoch of an execution (:mod:`engine.simulate.execute`)
with an :class:`EpochView` — the orders known and not yet taken, and each courier's realised
position and the minute it is (expected to be) free — and returns the trips to offer now.
It never sees future orders, realised travel times ahead, or whether an offer will be
declined. Three policies share the interface:

* ``rolling`` — solve the pending orders as a static routing problem (OR-Tools or PyVRP via
  :func:`engine.dispatch.dispatch`), offer only the trips whose courier must set off before
  the next epoch, keep the rest as the warm start of the next solve;
* ``waves`` — the same solve, every planned trip offered at once (classic wave picking);
* ``greedy`` — first come, first served: each pending order, oldest first, goes alone to the
  courier that can deliver it soonest. The baseline every study needs.

A promise is a target, not a wall; orders are never dropped while a courier could still
deliver them before their hard limit ``due + max_late_min``. How each back-end sees that:

* OR-Tools: the promise is a soft upper bound on the arrival at the customer, each minute
  late costs ``late_weight`` (the instance's ``late_penalty_per_min`` × segment weight), and
  the hard limit is the time window's end;
* PyVRP 0.14 has hard time windows only: orders that can still be on time keep their promise
  as the window; orders that can no longer make it are planned against the hard limit, and
  compete for couriers through their (segment-weighted) unserved penalty — lateness itself
  is not priced in that solve. The option ``late_window_min`` bounds it instead: such an
  order must then begin within that many minutes of its soonest possible start.

The option ``service_weight`` (both back-ends, default 1) scales those penalties against money.
The pickup service at the warehouse and each courier's last pickup minute (``pickup_end``)
are part of the problem and counted by every policy; the epoch problem carries each
courier's deliveries so far (``EpochView.deliveries``), so a guaranteed hourly minimum is
priced by what the courier has already earned (docs/dispatch-options.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from engine.dispatch.build import assign_crowd_warehouses
from engine.dispatch.problem import CROWD, FLEET, DispatchProblem
from engine.dispatch.schedule import EPS, Trip, earliest_begin, screen
from engine.errors import ConfigError
from engine.solver import Settings, SolveStatus

POLICIES = ("rolling", "waves", "greedy", "matching")
FOCUS_PER_COURIER = 15  # orders per courier in a focused epoch solve (focus_orders)


@dataclass(frozen=True, slots=True, eq=False)
class EpochView:
    """What a dispatcher knows at minute ``t`` (arrays of the day problem's shape)."""

    t: float
    next_t: float  # the following decision epoch
    problem: DispatchProblem  # the day problem: orders, couriers, matrices
    pending: np.ndarray  # order indices known, not taken, not given up (oldest first)
    available: np.ndarray  # bool (m,): may be offered work now (on duty, showed up, not just declined)
    free_min: np.ndarray  # (m,) when each courier is (expected to be) free, >= t
    loc: np.ndarray  # (m,) location where it is then
    work_used: np.ndarray  # (m,) minutes worked so far (committed trips included)
    used: np.ndarray  # bool (m,): fixed cost already paid today
    trips_done: np.ndarray  # (m,) trips committed so far
    hard_due: np.ndarray  # (n,) latest allowed service start (due + max_late_min)
    max_late_min: float = 0.0  # the hard limit's distance from the promise
    deliveries: np.ndarray | None = None  # (m,) orders each courier has taken today (None = 0)


class Policy(Protocol):
    """A dispatcher called at each decision epoch."""

    name: str
    period: float

    def decide(self, view: EpochView) -> list[Trip]: ...


@dataclass(slots=True)
class EpochLog:
    """What one call of a solving policy did (the executor adds the wall time)."""

    status: str = ""
    error: str = ""


def _slice(view: EpochView, orders: np.ndarray, couriers: np.ndarray, wh: np.ndarray) -> DispatchProblem:
    """The static problem of one epoch: these orders and couriers, from their realised state."""
    from engine.dispatch.day import subproblem

    c = couriers
    sub = subproblem(view.problem, orders, c, start_loc=view.loc[c], start_min=np.maximum(view.free_min[c], view.t),
                     max_work=view.problem.max_work[c] - view.work_used[c],
                     fixed_cost=np.where(view.used[c], 0.0, view.problem.fixed_cost[c]), warehouse=wh, plan_min=view.t)
    if view.deliveries is not None and (view.problem.guarantee[c] > 0).any():
        # the guarantee is priced by what each courier has earned so far (problem.pay_parts)
        sub = replace(sub, deliveries_done=view.problem.deliveries_done[c] + view.deliveries[c])
    return sub


def focus_orders(P: DispatchProblem, pend: np.ndarray, cour: np.ndarray, wh: np.ndarray, *, t: float,
                 free_min: np.ndarray, loc: np.ndarray, hard_due: np.ndarray, per_courier: int,
                 horizon_min: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The part of an epoch a rolling commitment can act on (day arrays, day indices).

    Couriers not free by ``horizon_min`` (the next epoch's end) cannot be given work now or
    at the next epoch: they are left to later epochs. Each remaining courier keeps the
    ``per_courier`` pending orders it could begin soonest (alone, from its position ``loc``
    and free time ``free_min``, before the order's ``hard_due``); the epoch problem is their
    union. In an overloaded hour the solve then works on the orders the free couriers choose
    among, not the whole backlog; orders left out stay pending for the next epoch (neither
    given up nor committed). Measured in ``benchmarks/simulate/RESULTS.md``.
    """
    soon = free_min[cour] <= horizon_min + EPS
    cour, wh = cour[soon], wh[soon]
    if per_courier <= 0 or not len(pend) or not len(cour) or len(pend) <= per_courier * len(cour):
        return pend, cour, wh
    prof = P.courier_profile[cour][None, :]
    wloc = P.warehouse_loc[P.order_wh[pend]][:, None]
    start = np.maximum(free_min[cour], t)[None, :]
    pick = np.maximum(start + P.time_min[prof, loc[cour][None, :], wloc], P.ready[pend][:, None])
    depart = pick + P.pickup_service[P.order_wh[pend]][:, None]
    begin = np.maximum(depart + P.time_min[prof, wloc, P.order_loc[pend][:, None]], P.open_min[pend][:, None])
    ok = (wh[None, :] == P.order_wh[pend][:, None]) & (P.size[pend][:, None] <= P.capacity[cour][None, :] + EPS)
    ok &= pick <= P.pickup_end[cour][None, :] + EPS
    ok &= ~P.special[pend][:, None] | P.may_carry_special[cour][None, :]
    ok &= begin <= hard_due[pend][:, None] + EPS
    score = np.where(ok, begin, np.inf)
    k = min(per_courier, len(pend))
    top = np.argpartition(score, k - 1, axis=0)[:k]  # (k, couriers): each courier's soonest orders
    hit = np.zeros(len(pend), bool)
    hit[top[np.isfinite(np.take_along_axis(score, top, axis=0))]] = True
    return pend[hit], cour, wh


def epoch_problem(view: EpochView, *, soft: bool = False, focus: tuple[int, float] | None = None,
                  late_window: float = 0.0) -> tuple[DispatchProblem, np.ndarray, np.ndarray]:
    """The epoch's static problem, with the day indices of its orders and couriers.

    Crowd couriers are given a warehouse for this epoch (nearest with pending work, spread
    by pending orders). With ``soft`` the promise stays the target and lateness up to
    ``max_late_min`` is allowed and priced per minute (``late_weight``; OR-Tools' soft upper
    bounds); otherwise orders that no courier can serve on time any more are planned against
    their hard limit ``due + max_late_min`` (late, but delivered; the back-end sees hard windows).
    ``focus`` = (orders per courier, look-ahead minutes) restricts the epoch (:func:`focus_orders`).
    ``late_window`` > 0 (hard windows only) narrows such an order's window: it ends
    ``late_window`` minutes after the soonest any of the epoch's couriers could begin it
    (:func:`earliest_begin`), never before its promise nor after its hard limit. An order that
    does not fit stays pending, and the next epoch gives it a new window from its new soonest
    start: a bound on its lateness that PyVRP, which cannot price minutes late, respects.
    """
    P = view.problem
    pend = np.asarray(view.pending, dtype=np.int64)
    cour = np.flatnonzero(view.available)
    wh = P.courier_warehouse[cour].copy()
    crowd = P.courier_profile[cour] == CROWD
    if crowd.any() and len(pend):
        pending_w = np.bincount(P.order_wh[pend], minlength=len(P.warehouse_ids)).astype(float)
        reach = P.time_min[CROWD][view.loc[cour[crowd]][:, None], P.warehouse_loc[None, :]]
        start = np.maximum(view.free_min[cour[crowd]], view.t)
        wh[crowd] = assign_crowd_warehouses(reach, start, P.work_end[cour[crowd]], pending_w)
    keep = wh >= 0
    cour, wh = cour[keep], wh[keep]
    if focus is not None:
        pend, cour, wh = focus_orders(P, pend, cour, wh, t=view.t, free_min=view.free_min, loc=view.loc,
                                      hard_due=view.hard_due, per_courier=focus[0],
                                      horizon_min=view.next_t + focus[1])
    sub = _slice(view, pend, cour, wh)
    if soft:
        return replace(sub, max_late_min=float(view.max_late_min)), pend, cour
    if len(pend) and len(cour):
        _, why = screen(replace(sub, max_late_min=0.0))
        late = why != ""
        if late.any():
            due = sub.due.copy()
            due[late] = view.hard_due[pend[late]]
            if late_window > 0:
                soonest = earliest_begin(sub)[late]
                due[late] = np.minimum(due[late], np.maximum(soonest + late_window, sub.due[late]))
            sub = replace(sub, due=due)
    return sub, pend, cour


WAVE_ITERATIONS = 500  # default of the day option wave_iterations (PyVRP iterations per epoch solve)
WAVE_NO_IMPROVEMENT = 150  # default of wave_no_improvement
SAFETY_CAP_FACTOR = 5.0  # a work-bounded epoch solve is cut at this many times the time limit


@dataclass(frozen=True, slots=True)
class EpochBudget:
    """How long one epoch's solve may search.

    With PyVRP and ``iterations`` > 0 the search is bounded by work, not by the clock: at most
    ``iterations`` iterations, fewer once ``no_improvement`` iterations in a row found nothing
    better, and ``SAFETY_CAP_FACTOR`` × ``time_limit`` only as a safety cap. The same seed then gives the same plans,
    and the same executed day, on a busy machine as on an idle one. Otherwise (OR-Tools, or
    ``iterations`` = 0) an epoch gets ``0.01 + time_per_order × pending`` seconds, capped by
    ``time_limit``: its plans depend on how much CPU the machine gives it.
    """

    time_per_order: float = 0.003
    iterations: int = WAVE_ITERATIONS
    no_improvement: int = WAVE_NO_IMPROVEMENT

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> EpochBudget:
        """The day-planning options ``wave_time_per_order``, ``wave_iterations``, ``wave_no_improvement``."""
        return cls(float(options.get("wave_time_per_order", 0.003)),
                   int(options.get("wave_iterations", WAVE_ITERATIONS)),
                   int(options.get("wave_no_improvement", WAVE_NO_IMPROVEMENT)))

    def work_bounded(self, settings: Settings) -> bool:
        return (settings.backend or "pyvrp") == "pyvrp" and self.iterations > 0

    def settings(self, settings: Settings, pending: int) -> Settings:
        """The back-end settings of one epoch's solve with ``pending`` orders (one thread)."""
        if self.work_bounded(settings):
            opts = {**settings.options, "max_iterations": self.iterations}
            if self.no_improvement > 0:
                opts["no_improvement"] = self.no_improvement
            # the clock only as a safety net: generous, so that load alone does not reach it
            return settings.with_(threads=1, options=opts, time_limit=SAFETY_CAP_FACTOR * settings.time_limit)
        return settings.with_(time_limit=min(settings.time_limit, 0.01 + self.time_per_order * pending), threads=1)


@dataclass
class SolvingPolicy:
    """``rolling`` (commit what must leave before the next epoch) or ``waves`` (commit all)."""

    settings: Settings
    period: float
    commit_all: bool = False
    time_per_order: float = 0.003
    name: str = "rolling"
    focus: tuple[int, float] | None = None  # (orders per courier, look-ahead min): focus_orders
    budget: EpochBudget | None = None  # None: time-bounded with time_per_order
    late_window: float = 0.0  # minutes past the soonest possible start (epoch_problem); 0: the hard limit
    log: list[EpochLog] = field(default_factory=list)
    _warm: dict[str, list[str]] = field(default_factory=dict)

    def decide(self, view: EpochView) -> list[Trip]:
        from engine.dispatch.solve import dispatch

        soft = (self.settings.backend or "pyvrp") == "ortools" and view.max_late_min > 0
        sub, pend, cour = epoch_problem(view, soft=soft, focus=self.focus, late_window=self.late_window)
        if not len(pend) or not len(cour):
            self.log.append(EpochLog(status="idle"))
            return []
        init = None
        if not self.commit_all and self._warm:
            oi = {o: i for i, o in enumerate(sub.order_ids)}
            init = [[oi[o] for o in self._warm.get(c, []) if o in oi] for c in sub.courier_ids]
        budget = self.budget or EpochBudget(self.time_per_order, iterations=0)
        try:
            res = dispatch(sub, budget.settings(self.settings, len(pend)), initial=init)
        except Exception as exc:  # noqa: BLE001 - a failed solve is reported, the day goes on
            self.log.append(EpochLog(status="error", error=f"{type(exc).__name__}: {exc}"))
            self._warm = {}
            return []
        self.log.append(EpochLog(status=res.stats.status.value if isinstance(res.stats.status, SolveStatus)
                                 else str(res.stats.status)))
        # the solve's routes, courier by courier (ascending id) in stop order; a row of the
        # assignments table is the sub-problem's order of the same index
        a = res.assignments
        rows = np.flatnonzero(a["status"].to_numpy() == "served")
        cid = a["courier"].to_numpy()[rows]
        seq = a["stop_seq"].to_numpy(dtype=float, na_value=np.nan)[rows]
        depart = a["depart_min"].to_numpy(dtype=float)[rows]
        cid_to_sub = {c: j for j, c in enumerate(sub.courier_ids)}
        lead = sub.reach_min() + sub.pickup_service[np.maximum(sub.courier_warehouse, 0)]  # set off before
        routes: dict[str, list[int]] = {}
        for k in sorted(range(len(rows)), key=lambda k: (cid[k], seq[k])):
            routes.setdefault(cid[k], []).append(k)
        trips: list[Trip] = []
        self._warm = {}
        for c, ks in routes.items():
            j = cid_to_sub[c]
            if not self.commit_all and depart[ks[0]] - lead[j] > view.next_t + 1e-9:
                self._warm[c] = [sub.order_ids[rows[k]] for k in ks]
                continue
            v = int(cour[j])
            trips.append(Trip(v, int(sub.courier_warehouse[j]), tuple(int(pend[rows[k]]) for k in ks),
                              int(view.loc[v]), float(sub.start_min[j]), trip_no=int(view.trips_done[v]) + 1))
        return trips


@dataclass
class GreedyPolicy:
    """First come, first served: each order alone to the courier who can deliver it soonest."""

    period: float
    name: str = "greedy"
    log: list[EpochLog] = field(default_factory=list)

    def decide(self, view: EpochView) -> list[Trip]:
        P = view.problem
        free = np.maximum(view.free_min, view.t)
        taken = ~np.asarray(view.available, dtype=bool)
        trips: list[Trip] = []
        for i in view.pending:
            i = int(i)
            wloc = int(P.warehouse_loc[P.order_wh[i]])
            cand = ~taken & ((P.courier_warehouse < 0) | (P.courier_warehouse == P.order_wh[i]))
            cand &= (P.capacity >= P.size[i] - EPS) & (free <= view.next_t + EPS)
            if P.special[i]:
                cand &= P.may_carry_special
            idx = np.flatnonzero(cand)
            if not len(idx):
                continue
            prof = P.courier_profile[idx]
            at_wh = free[idx] + P.time_min[prof, view.loc[idx], wloc]
            pick = np.maximum(at_wh, P.ready[i])  # the pickup starts
            depart = pick + P.pickup_service[P.order_wh[i]]
            begin = np.maximum(depart + P.time_min[prof, wloc, P.order_loc[i]], P.open_min[i])
            done = begin + P.service[i]
            back = np.where(P.end_loc[idx] >= 0, P.time_min[prof, P.order_loc[i], np.maximum(P.end_loc[idx], 0)], 0.0)
            work = (done + back - pick) + (at_wh - free[idx])  # as schedule.evaluate_trip counts it
            ok = (begin <= view.hard_due[i] + EPS) & (done + back <= P.end_min[idx] + EPS)
            ok &= pick <= P.pickup_end[idx] + EPS
            ok &= work <= P.max_work[idx] - view.work_used[idx] + EPS
            if not ok.any():
                continue
            k = int(np.argmin(np.where(ok, begin, np.inf)))
            v = int(idx[k])
            trips.append(Trip(v, int(P.order_wh[i]), (i,), int(view.loc[v]), float(free[v]),
                              trip_no=int(view.trips_done[v]) + 1))
            taken[v] = True
        self.log.append(EpochLog(status="greedy"))
        return trips


def check_late_window(value: object) -> float:
    """The dispatch option ``late_window_min`` as minutes (a number >= 0), else ConfigError."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    if not ok:
        raise ConfigError(f"dispatch option late_window_min must be a number of minutes >= 0, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def make_policy(name: str, settings: Settings | None = None, *, period: float,
                time_per_order: float = 0.003, focus: tuple[int, float] | None | str = "default",
                budget: EpochBudget | None = None, late_window: float = 0.0) -> Policy:
    """A policy by name (``rolling``, ``waves``, ``greedy``, ``matching``) re-planning every ``period`` minutes.

    ``focus`` (orders per courier, look-ahead minutes) restricts each solve to what the free
    couriers can act on (:func:`focus_orders`); by default 15 orders per courier and one
    period of look-ahead, ``None`` solves every pending order with every courier. ``budget``
    bounds each solve (:class:`EpochBudget`; by default work-bounded with PyVRP). ``late_window``
    (minutes, ``rolling`` and ``waves`` with hard windows) bounds how late a solve may plan an
    order that can no longer be on time (:func:`epoch_problem`); 0 allows up to its hard limit.
    """
    late_window = check_late_window(late_window)
    if not (period > 0 and math.isfinite(period)):
        raise ConfigError(f"the re-plan period must be a positive number of minutes, got {period!r}")
    if name == "greedy":
        return GreedyPolicy(period=float(period))
    if name == "matching":
        from engine.dispatch.matching import MatchingPolicy

        return MatchingPolicy(period=float(period))
    if name in ("rolling", "waves"):
        if focus == "default":
            focus = (FOCUS_PER_COURIER, float(period))
        return SolvingPolicy(settings or Settings(), float(period), commit_all=name == "waves",
                             time_per_order=time_per_order, name=name,
                             budget=budget or EpochBudget(time_per_order), late_window=float(late_window),
                             focus=None if not focus or int(focus[0]) <= 0 else (int(focus[0]), float(focus[1])))
    raise ConfigError(f"unknown dispatch policy {name!r}; choose one of {', '.join(POLICIES)}")


__all__ = ["FLEET", "FOCUS_PER_COURIER", "POLICIES", "WAVE_ITERATIONS", "WAVE_NO_IMPROVEMENT", "EpochBudget", "EpochView", "GreedyPolicy", "Policy", "SolvingPolicy", "epoch_problem",
           "check_late_window", "earliest_begin", "focus_orders", "make_policy"]
