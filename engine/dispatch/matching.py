"""Rolling matching of bundles to couriers (``matching``), after Reyes et al. (2018).

At every decision epoch the policy

1. **bundles** the pending orders of each warehouse (restaurant): by ready time, up to a target
   size that grows with the ratio of pending orders to couriers about to be free, and only while
   no order of the bundle is more than ``max_bundle_delay_min`` later than it would be alone (its
   drop-off sequence by cheapest insertion on the sum of arrival minutes);
2. **scores** every (bundle, courier) pair on the courier's realised free minute and place: ride
   to the warehouse, wait for the food, pickup service, drop-offs in the bundle's sequence. The
   cost is the bundle's arrival minutes, a surcharge per minute past each promise, and a small
   charge per courier-minute the trip takes (waiting included); pairs that would break a hard
   limit, the shift, the working time, the capacity or the warehouse are not allowed;
3. **matches** bundles to couriers with :func:`scipy.optimize.linear_sum_assignment` on a
   rectangular matrix whose extra columns are "not now" (a large cost per order, so the
   matching serves as many orders as it can, then at the least cost). A *scarce* bundle — one
   that at most ``scarce_couriers`` of the epoch's couriers can still take before its hard
   limit, with less than ``scarce_slack_min`` to spare — costs more to leave: a bundle that
   many couriers can take will find another one, a scarce one is likely lost for good. In an
   epoch with more than ``scarce_max_bundles`` scarce bundles (too few couriers for all of
   them) none is favoured: ranking them would only choose which orders run late;
4. **commits** only the pairs whose courier should leave now: free before the next epoch, and
   unable to wait one more epoch without reaching the warehouse later than
   ``ready − wait_slack_min``. Everything else goes back to the pool; at the next epoch a
   better courier may be free (couriers busy for up to ``horizon_min`` more minutes take part
   in the matching for that reason, but are never committed while busy).

The policy sees only the :class:`~engine.dispatch.policy.EpochView`: no future orders. It draws
no random numbers, so the same view always gives the same trips.

The time model (pickup service, latest pickup start) lives in :func:`time_model` alone: it
reads the problem's ``pickup_service`` and ``pickup_end`` (#15.1), and falls back to no pickup
service in the plan (the execution's minutes added on top) for a problem without them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import linear_sum_assignment

from engine.dispatch.problem import CROWD, DispatchProblem
from engine.dispatch.schedule import EPS, Trip, _TripEval, evaluate_trip
from engine.errors import ConfigError

if TYPE_CHECKING:
    from engine.dispatch.policy import EpochView

NOT_NOW = 1e4  # cost per order of leaving a bundle for a later epoch (any served order is worth more)
FORBIDDEN = 1e9  # cost of a pair that breaks a rule


@dataclass(frozen=True, slots=True)
class TimeModel:
    """What a trip costs in time beyond the problem's rides and drop-off service.

    ``pickup_planned`` is the pickup service the problem (and so the checker) counts at each
    warehouse; ``pickup_extra`` is what the execution adds on top of the plan (the real minutes
    are their sum). ``latest_pickup`` is each courier's latest pickup start (``inf`` where the
    problem bounds the last drop-off by ``end_min`` only)."""

    pickup_planned: np.ndarray  # (W,)
    pickup_extra: np.ndarray  # (W,)
    latest_pickup: np.ndarray  # (m,)


def time_model(P: DispatchProblem, fallback_pickup_min: float) -> TimeModel:
    """The time model of ``P``: its own pickup service and latest pickup start when it has them
    (``pickup_service`` per warehouse, ``pickup_end`` per courier), otherwise no pickup service
    in the plan, ``fallback_pickup_min`` added by the execution, and only ``end_min`` bounding."""
    W, m = len(P.warehouse_ids), P.n_couriers
    ps = getattr(P, "pickup_service", None)
    if ps is None:
        planned, extra = np.zeros(W), np.full(W, float(fallback_pickup_min))
    else:
        planned, extra = np.broadcast_to(np.asarray(ps, float), (W,)).copy(), np.zeros(W)
    pe = getattr(P, "pickup_end", None)
    latest = np.full(m, np.inf) if pe is None else np.broadcast_to(np.asarray(pe, float), (m,)).copy()
    return TimeModel(planned, extra, latest)


@dataclass(frozen=True, slots=True)
class Bundle:
    """Orders of one warehouse carried together, in drop-off order."""

    warehouse: int
    orders: tuple[int, ...]


@dataclass(slots=True)
class MatchLog:
    """What one epoch did (the executor adds the wall time)."""

    status: str = ""
    error: str = ""
    bundles: int = 0
    couriers: int = 0
    matched: int = 0
    committed: int = 0


def _sequence(T: np.ndarray, wl: int, locs: list[int], service: list[float]) -> tuple[list[int], float]:
    """Drop-off order by cheapest insertion on the sum of arrival minutes (from the pickup)."""
    seq: list[int] = []
    best_total = 0.0
    for k in range(len(locs)):
        best: tuple[float, list[int]] | None = None
        for pos in range(len(seq) + 1):
            cand = [*seq[:pos], k, *seq[pos:]]
            total = _arrivals(T, wl, [locs[j] for j in cand], [service[j] for j in cand]).sum()
            if best is None or total < best[0] - EPS:
                best = (float(total), cand)
        assert best is not None
        best_total, seq = best
    return seq, best_total


def _arrivals(T: np.ndarray, wl: int, locs: list[int], service: list[float]) -> np.ndarray:
    """Arrival minute at each door after leaving ``wl`` at minute 0."""
    legs = T[[wl, *locs[:-1]], locs]
    before = np.concatenate(([0.0], np.asarray(service[:-1], float)))
    return np.cumsum(legs + before)


@dataclass
class MatchingPolicy:
    """Bundles matched to couriers every epoch; only pairs that should leave now are committed."""

    period: float
    name: str = "matching"
    pickup_service_min: float = 4.0  # fallback when the problem has no pickup service of its own
    horizon_min: float = 20.0  # couriers free within this many minutes take part in the matching
    wait_slack_min: float = 0.0  # reach the warehouse at least this long before the food is ready
    max_bundle_delay_min: float = 8.0  # no order more than this later in a bundle than alone
    max_bundle: int = 4  # orders per bundle at most (also bounded by capacity)
    bundle_ratio: float = 1.0  # target bundle size = ceil(pending / couriers free soon × this)
    late_weight: float = 1.0  # extra cost per minute past the promise
    on_time_bonus: float = 10.0  # cost saved by each order of the pair that makes its promise
    busy_weight: float = 0.2  # cost per courier-minute the trip takes
    busy_courier_weight: float = 1.0  # extra cost per minute a busy courier still needs to be free
    piggyback: bool = True  # add waiting orders of the same warehouse to trips that leave now
    piggyback_wait_min: float = 2.0  # ... when they are ready at most this long after the trip would leave
    urgent_slack_min: float = 0.0  # a bundle with less slack than this with a courier free now is urgent (0: off)
    urgent_first: bool = True  # urgent bundles are matched before all others
    age_weight: float = 0.0  # priority per minute an order has waited (from its promise) when couriers are few
    scarce_couriers: int = 2  # a bundle at most this many of the epoch's couriers can take in time is scarce (0: off)
    scarce_slack_min: float = 15.0  # ... when its best slack is below this many minutes
    scarce_weight: float = 1.0  # a scarce bundle's "not now" costs (1 + this) times more
    scarce_max_bundles: int = 1  # no bundle is treated as scarce in an epoch with more scarce bundles than this (0: no cap)
    log: list[MatchLog] = field(default_factory=list)
    _pickup_done: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)  # per courier
    _pickup_extra: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    def __post_init__(self) -> None:
        if not (self.period > 0 and math.isfinite(self.period)):
            raise ConfigError(f"the re-plan period must be a positive number of minutes, got {self.period!r}")
        if self.max_bundle < 1:
            raise ConfigError(f"max_bundle must be >= 1, got {self.max_bundle!r}")

    # ---- one epoch -------------------------------------------------------------------------
    def decide(self, view: EpochView) -> list[Trip]:
        P = view.problem
        tm = time_model(P, self.pickup_service_min)
        t, next_t = float(view.t), float(view.next_t)
        free = np.maximum(np.asarray(view.free_min, float), t)
        if self._pickup_done.shape != free.shape:
            self._pickup_done = np.full(len(free), -np.inf)
            self._pickup_extra = np.zeros(len(free))
        # the view counts a committed trip's pickup service only once it is done: add it before
        free = np.where(self._pickup_done > t + EPS, free + self._pickup_extra, free)
        pend = np.asarray(view.pending, dtype=np.int64)
        cour = np.flatnonzero(np.asarray(view.available, bool) & (free <= t + self.horizon_min + EPS)
                              & (free < P.end_min - EPS) & (free <= tm.latest_pickup + EPS))
        if not len(pend) or not len(cour):
            self.log.append(MatchLog(status="idle"))
            return []
        bundles = self._bundles(view, pend, cour, free, tm)
        cost, slack = self._score(view, bundles, cour, free, tm)
        # orders that no courier can take in their bundle: try them alone
        dead = [b for b, row in zip(bundles, cost, strict=True) if len(b.orders) > 1 and row.min() >= FORBIDDEN]
        if dead:
            keep = [b for b, row in zip(bundles, cost, strict=True) if not (len(b.orders) > 1 and row.min() >= FORBIDDEN)]
            bundles = keep + [Bundle(b.warehouse, (o,)) for b in dead for o in b.orders]
            cost, slack = self._score(view, bundles, cour, free, tm)
        nb = len(bundles)
        sizes = np.array([len(b.orders) for b in bundles], float)
        # urgent: even the best courier free now leaves little slack before the hard limit; such a
        # bundle goes before the others and does not wait for a busy courier
        now = free[cour] <= next_t + EPS
        best_now = np.where(now[None, :], slack, -np.inf).max(axis=1, initial=-np.inf)
        urgent = np.isfinite(best_now) & (best_now < self.urgent_slack_min)
        if urgent.any():
            cost[np.ix_(urgent, ~now)] = FORBIDDEN
        # scarce: few couriers of this epoch (free now or soon) can still take the bundle in time and
        # its slack is running out; leaving it is likely to lose it for good, where a bundle with many
        # couriers will find another one, so leaving a scarce bundle costs more
        scarce = np.zeros(nb, bool)
        if self.scarce_couriers > 0:
            supply = (cost < FORBIDDEN).sum(axis=1)
            best = slack.max(axis=1, initial=-np.inf)
            scarce = (supply > 0) & (supply <= self.scarce_couriers) & (best < self.scarce_slack_min)
            if 0 < self.scarce_max_bundles < int(scarce.sum()):
                scarce[:] = False
        full = np.full((nb, len(cour) + nb), FORBIDDEN)
        full[:, : len(cour)] = cost
        # not now: a large cost per order, plus the bundle's age (old orders first when couriers are few)
        age = np.array([float((t - P.due[list(b.orders)]).sum()) for b in bundles])
        full[np.arange(nb), len(cour) + np.arange(nb)] = (NOT_NOW * sizes * (1 + self.urgent_first * urgent + self.scarce_weight * scarce)
                                                          + self.age_weight * age)
        rows, cols = linear_sum_assignment(full)
        trips: list[Trip] = []
        waiting: dict[int, float] = {}  # order -> arrival expected with its (later) match; inf if none
        matched = 0
        for b, j in zip(rows.tolist(), cols.tolist(), strict=True):
            bun = bundles[b]
            if j >= len(cour) or full[b, j] >= FORBIDDEN:
                waiting.update(dict.fromkeys(bun.orders, math.inf))
                continue
            matched += 1
            v = int(cour[j])
            trip = Trip(v, bun.warehouse, bun.orders, int(view.loc[v]), float(free[v]),
                        trip_no=int(view.trips_done[v]) + 1)
            ev = self._feasible(view, trip, tm)
            if ev is None:
                waiting.update(dict.fromkeys(bun.orders, math.inf))
                continue
            wl = int(P.warehouse_loc[bun.warehouse])
            ready = float(P.ready[list(bun.orders)].max())
            reach = float(P.time_min[int(P.courier_profile[v]), int(view.loc[v]), wl])
            if free[v] > next_t + EPS or max(free[v], next_t) + reach <= ready - self.wait_slack_min + EPS:
                # busy, or it can leave at the next epoch and still be there in time: wait
                waiting.update(zip(bun.orders, ev.begins, strict=True))
                continue
            trips.append(trip)
        if self.piggyback and waiting:
            trips = [self._piggyback(view, trip, waiting, tm) for trip in trips]
        for trip in trips:
            ev = evaluate_trip(P, trip)
            self._pickup_extra[trip.courier] = float(tm.pickup_extra[trip.warehouse])
            self._pickup_done[trip.courier] = ev.depart + self._pickup_extra[trip.courier]
        self.log.append(MatchLog(status="matching", bundles=nb, couriers=len(cour), matched=matched,
                                 committed=len(trips)))
        return trips

    def _piggyback(self, view: EpochView, trip: Trip, waiting: dict[int, float], tm: TimeModel) -> Trip:
        """Add to a trip that leaves now orders of its warehouse left waiting, while the trip's own
        orders lose at most ``max_bundle_delay_min`` each and the added one arrives sooner than
        with the courier it waits for (any courier at all, for an order that has none)."""
        P = view.problem
        prof = int(P.courier_profile[trip.courier])
        T = P.time_min[prof]
        wl = int(P.warehouse_loc[trip.warehouse])
        base = evaluate_trip(P, trip)
        own = dict(zip(trip.orders, base.begins, strict=True))
        cap = float(P.capacity[trip.courier])
        while len(trip.orders) < self.max_bundle:
            best: tuple[float, Trip, int] | None = None
            load = float(P.size[list(trip.orders)].sum())
            for o in [o for o in waiting if P.order_wh[o] == trip.warehouse]:
                if load + float(P.size[o]) > cap + EPS or P.ready[o] > base.depart + self.piggyback_wait_min + EPS:
                    continue
                if P.special[o] and not P.may_carry_special[trip.courier]:
                    continue
                orders = np.array([*trip.orders, o], dtype=np.int64)
                seq, _ = _sequence(T, wl, P.order_loc[orders].tolist(), P.service[orders].tolist())
                cand = Trip(trip.courier, trip.warehouse, tuple(int(orders[k]) for k in seq), trip.start_loc,
                            trip.start_min, trip.trip_no)
                ev = self._feasible(view, cand, tm)
                if ev is None:
                    continue
                begin = dict(zip(cand.orders, ev.begins, strict=True))
                if any(begin[q] > own[q] + self.max_bundle_delay_min + EPS for q in own) or begin[o] >= waiting[o] - EPS:
                    continue
                score = sum(begin[q] - own[q] for q in own) + begin[o] - min(waiting[o], begin[o] + 60.0)
                if best is None or score < best[0] - EPS:
                    best = (score, cand, o)
            if best is None:
                break
            _, trip, o = best
            del waiting[o]
        return trip

    # ---- bundles ---------------------------------------------------------------------------
    def _bundles(self, view: EpochView, pend: np.ndarray, cour: np.ndarray, free: np.ndarray,
                 tm: TimeModel) -> list[Bundle]:
        P = view.problem
        t = float(view.t)
        soon = int((free[cour] <= t + self.period + EPS).sum())
        target = int(np.clip(math.ceil(len(pend) / max(soon, 1) * self.bundle_ratio), 1, self.max_bundle))
        cap = float(P.capacity[cour].max())
        prof = CROWD if (P.courier_profile[cour] == CROWD).sum() * 2 >= len(cour) else 1 - CROWD
        T = P.time_min[prof]
        out: list[Bundle] = []
        wh_of = P.order_wh[pend]
        for w in np.unique(wh_of).tolist():
            mine = pend[wh_of == w]
            mine = mine[np.argsort(P.ready[mine], kind="stable")]
            wl = int(P.warehouse_loc[w])
            if target == 1 or len(mine) == 1:
                out += [Bundle(w, (int(o),)) for o in mine]
                continue
            # the earliest any courier of this epoch can be at the warehouse
            reach = T[view.loc[cour], wl] if prof == CROWD else P.time_min[P.courier_profile[cour], view.loc[cour], wl]
            at_wh = float((free[cour] + reach).min())
            direct = T[wl, P.order_loc[mine]]
            cur: list[int] = []
            for k in range(len(mine)):
                trial = [*cur, k]
                ok = len(cur) < target and float(P.size[mine[trial]].sum()) <= cap + EPS
                if ok and cur:
                    ok = self._bundle_ok(P, T, wl, mine[trial], direct[trial], at_wh, tm)
                if ok:
                    cur = trial
                    continue
                if cur:
                    out.append(self._make(P, T, w, wl, mine[cur]))
                cur = [k]
            if cur:
                out.append(self._make(P, T, w, wl, mine[cur]))
        return out

    def _bundle_ok(self, P: DispatchProblem, T: np.ndarray, wl: int, orders: np.ndarray, direct: np.ndarray,
                   at_wh: float, tm: TimeModel) -> bool:
        """No order is more than ``max_bundle_delay_min`` later in the bundle than alone."""
        locs = P.order_loc[orders].tolist()
        svc = P.service[orders].tolist()
        seq, _ = _sequence(T, wl, locs, svc)
        arr = _arrivals(T, wl, [locs[j] for j in seq], [svc[j] for j in seq])
        in_bundle = np.empty(len(orders))
        in_bundle[seq] = arr
        ready = P.ready[orders]
        pick_b = max(at_wh, float(ready.max()))
        pick_alone = np.maximum(at_wh, ready)
        delay = (pick_b + in_bundle) - (pick_alone + direct)
        return bool(delay.max() <= self.max_bundle_delay_min + EPS)

    @staticmethod
    def _make(P: DispatchProblem, T: np.ndarray, w: int, wl: int, orders: np.ndarray) -> Bundle:
        if len(orders) == 1:
            return Bundle(w, (int(orders[0]),))
        seq, _ = _sequence(T, wl, P.order_loc[orders].tolist(), P.service[orders].tolist())
        return Bundle(w, tuple(int(orders[j]) for j in seq))

    # ---- scores ----------------------------------------------------------------------------
    def _score(self, view: EpochView, bundles: list[Bundle], cour: np.ndarray, free: np.ndarray,
               tm: TimeModel) -> tuple[np.ndarray, np.ndarray]:
        """Cost (bundles × couriers) and each pair's slack: minutes its tightest order would have
        left before its hard limit."""
        P = view.problem
        t = float(view.t)
        prof = P.courier_profile[cour]
        start = free[cour]
        loc = np.asarray(view.loc)[cour]
        left = P.max_work[cour] - np.asarray(view.work_used)[cour]
        busy_for = start - t
        cost = np.full((len(bundles), len(cour)), FORBIDDEN)
        slack = np.full((len(bundles), len(cour)), -np.inf)
        for b, bun in enumerate(bundles):
            o = np.asarray(bun.orders, dtype=np.int64)
            w = bun.warehouse
            wl = int(P.warehouse_loc[w])
            ok = (P.courier_warehouse[cour] < 0) | (P.courier_warehouse[cour] == w)
            ok &= P.capacity[cour] >= float(P.size[o].sum()) - EPS
            if P.special[o].any():
                ok &= P.may_carry_special[cour]
            at_wh = start + P.time_min[prof, loc, wl]
            pick = np.maximum(at_wh, float(P.ready[o].max()))
            ok &= pick <= tm.latest_pickup[cour] + EPS
            dep = pick + float(tm.pickup_planned[w])
            # arrivals at each door, per profile (rows: couriers)
            locs = P.order_loc[o]
            legs = P.time_min[:, np.concatenate(([wl], locs[:-1])), locs]  # (2, k)
            before = np.concatenate(([0.0], P.service[o][:-1]))
            off = np.cumsum(legs + before, axis=1)  # (2, k)
            arr = dep[:, None] + off[prof]  # (c, k)
            arr = np.maximum(arr, P.open_min[o][None, :])  # a door that opens later (never in MDRP)
            ok &= (arr <= view.hard_due[o][None, :] + EPS).all(axis=1)
            done = arr[:, -1] + float(P.service[o][-1])
            end_loc = P.end_loc[cour]
            back = np.where(end_loc >= 0, P.time_min[prof, locs[-1], np.maximum(end_loc, 0)], 0.0)
            end = done + back
            ok &= end <= P.end_min[cour] + EPS
            ok &= end - start <= left + EPS
            late = np.maximum(arr - P.due[o][None, :], 0.0)
            c = (arr - t).sum(axis=1) + self.late_weight * late.sum(axis=1)
            c -= self.on_time_bonus * (late <= EPS).sum(axis=1)
            c += self.busy_weight * (end + float(tm.pickup_extra[w]) - start)
            c += self.busy_courier_weight * busy_for
            cost[b] = np.where(ok, c, FORBIDDEN)
            slack[b] = np.where(ok, (view.hard_due[o][None, :] - arr).min(axis=1), -np.inf)
        return cost, slack

    def _feasible(self, view: EpochView, trip: Trip, tm: TimeModel) -> _TripEval | None:
        """The trip again by the schedule's own arithmetic (what the checker will recompute); its
        times when every rule holds, else ``None``."""
        P = view.problem
        ev = evaluate_trip(P, trip)
        v = trip.courier
        if any(b > float(view.hard_due[o]) + EPS for o, b in zip(trip.orders, ev.begins, strict=True)):
            return None
        if ev.end_min > P.end_min[v] + EPS or ev.depart > tm.latest_pickup[v] + float(tm.pickup_planned[trip.warehouse]) + EPS:
            return None
        if ev.work_min > P.max_work[v] - view.work_used[v] + EPS:
            return None
        return ev


__all__ = ["Bundle", "MatchLog", "MatchingPolicy", "TimeModel", "time_model"]
