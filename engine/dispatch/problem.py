"""The static dispatch problem: locations, orders and couriers as arrays.

A :class:`DispatchProblem` is one routing problem at one moment (a wave, a re-plan of the
rolling mode, or a benchmark instance). Everything is held as numpy arrays indexed by
order / courier / location position, so back-ends and the checker read the same data.

Route shape (the multi-warehouse design)
-----------------------------------------
Orders are picked at one warehouse each. One courier trip serves the orders of a single
warehouse::

    courier start ──► warehouse (pick up, leave when every order on board is ready)
                  ──► delivery 1 ──► … ──► delivery k ──► end

* fleet couriers start at their warehouse (start leg of length 0) and must be back there
  before their shift ends; they do several trips per shift across waves (``plan_day``);
* crowd couriers start at their own place and time, ride to the warehouse they are given
  for this problem (``courier_warehouse``; ``build_problem`` assigns the nearest warehouse
  with work), and end where their last delivery is (free end, ``end_loc = -1``);
* a courier may carry special goods only if ``may_carry_special``.

Instant-delivery model (all optional; the defaults give the plain VRPTW reading)
--------------------------------------------------------------------------------
* **pickup service** ``pickup_service[w]``: minutes at warehouse ``w`` to hand a trip's
  orders over. The pickup starts at max(arrival at the warehouse, latest ready time of the
  trip's orders) and the courier leaves ``pickup_service[w]`` later. Default 0;
* **off time** ``pickup_end[v]``: the latest minute courier ``v`` may *start* a pickup.
  ``end_min[v]`` still bounds the end of every trip (fleet: back at its end location; crowd:
  last drop-off done). Default ``pickup_end = inf``: no limit beyond ``end_min``, today's
  rule (a pickup always starts before its trip ends, so ``pickup_end = end_min`` would add
  nothing either; infinity also stays right when ``end_min`` is replaced later).
  :attr:`DispatchProblem.work_end` = min(end_min, pickup_end) is when a courier stops
  being given work. For an MDRP courier, ``pickup_end`` is its off time and
  ``end_min`` is infinite: no pickup after the off time, drop-offs may finish later;
* **pay** of courier ``v`` for a problem in which it makes n deliveries:
  ``fixed_cost`` once if used, ``cost_per_km`` per km driven, ``cost_per_hour`` per hour
  worked, and per delivery ``pay_per_delivery`` with a guaranteed minimum: the day's pay
  for deliveries is max(pay_per_delivery × deliveries, ``hourly_guarantee`` ×
  ``guarantee_hours``). ``deliveries_done[v]`` are the deliveries the courier already made
  earlier in the day (an epoch problem of a rolling execution), so what a plan adds is
  max(p × (done + n), G) − max(p × done, G). :meth:`DispatchProblem.marginal_pay` gives it;
  :func:`engine.dispatch.schedule.build_result` reports ``per_delivery`` (p × n) plus the
  top-up ``guarantee`` (max(0, G − p × (done + n))): their sum is the exact marginal pay
  plus a constant of the problem (max(p × done, G) − p × done). At the day level (done = 0)
  it is the day's pay, max(p × n, G) per courier, used or not;
* the guarantee in planning: OR-Tools prices it exactly (a per-courier count of deliveries
  with a soft upper bound at the k = max(0, G / p − done) still free, p per delivery beyond);
  PyVRP has no piecewise cost and charges a courier with k free deliveries and room for q in
  a trip p × max(0, q − k) / q per delivery (:meth:`DispatchProblem.planning_pay`); greedy
  does not price pay at all (soonest delivery wins).

Times are minutes from local midnight; distances kilometres; money in the instance currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
from numpy.typing import NDArray

from engine.errors import EngineError

FLEET, CROWD = 0, 1  # routing profile index of each courier kind
KINDS = ("fleet", "crowd")

FloatA = NDArray[np.float64]
IntA = NDArray[np.int64]
BoolA = NDArray[np.bool_]


class DispatchInputError(EngineError):
    """Dispatch input that cannot form a routing problem (missing columns, bad shapes)."""


def _f(x: object, n: int, name: str) -> FloatA:
    a = np.asarray(x, dtype=float).reshape(-1)
    if a.shape[0] != n:
        raise DispatchInputError(f"{name}: expected {n} values, got {a.shape[0]}")
    if np.isnan(a).any():
        raise DispatchInputError(f"{name}: missing values at positions {np.flatnonzero(np.isnan(a))[:5].tolist()}")
    return a


def _i(x: object, n: int, name: str) -> IntA:
    a = np.asarray(x).reshape(-1)
    if a.shape[0] != n:
        raise DispatchInputError(f"{name}: expected {n} values, got {a.shape[0]}")
    return a.astype(np.int64)


def _b(x: object, n: int, name: str) -> BoolA:
    a = np.asarray(x).reshape(-1)
    if a.shape[0] != n:
        raise DispatchInputError(f"{name}: expected {n} values, got {a.shape[0]}")
    return a.astype(bool)


@dataclass(frozen=True, slots=True, eq=False)
class DispatchProblem:
    """One static routing problem (see the module docstring for the route shape).

    Locations ``0..L-1`` carry ``dist_km[p]`` / ``time_min[p]`` matrices per routing profile
    ``p`` (0 fleet, 1 crowd). Order arrays have length n, courier arrays length m.
    """

    # locations
    loc_ids: tuple[str, ...]
    loc_lat: FloatA
    loc_lon: FloatA
    dist_km: FloatA  # (2, L, L)
    time_min: FloatA  # (2, L, L)
    warehouse_ids: tuple[str, ...]
    warehouse_loc: IntA  # (W,) location of each warehouse
    # orders
    order_ids: tuple[str, ...]
    order_loc: IntA
    order_wh: IntA  # index into warehouse_ids
    ready: FloatA  # earliest departure from the warehouse with it (picking done)
    due: FloatA  # latest service start at the customer (promise deadline)
    size: FloatA  # m3
    service: FloatA  # minutes at the customer
    special: BoolA
    penalty: FloatA  # cost if unserved (already × segment weight)
    # couriers
    courier_ids: tuple[str, ...]
    courier_profile: IntA  # FLEET or CROWD
    start_loc: IntA
    start_min: FloatA  # when the courier is at start_loc and free
    end_loc: IntA  # -1 = free end (crowd)
    courier_warehouse: IntA  # warehouse whose orders it carries in this problem; -1 = any (day checks)
    capacity: FloatA  # m3
    end_min: FloatA  # shift end (fleet: back at end_loc) / availability end (crowd: last delivery done)
    max_work: FloatA  # minutes of work allowed (inf = none)
    fixed_cost: FloatA
    cost_per_km: FloatA
    cost_per_hour: FloatA
    pay_per_delivery: FloatA
    may_carry_special: BoolA
    accept_prob: FloatA
    # optional
    open_min: FloatA | None = None  # earliest service start at the customer (VRPTW benchmarks)
    late_weight: FloatA | None = None  # cost per minute late (used only when max_late_min > 0)
    max_late_min: float = 0.0  # lateness tolerated by the checker (0 = hard deadlines)
    pickup_service: FloatA | None = None  # (W,) minutes to hand a trip over at each warehouse (default 0)
    pickup_end: FloatA | None = None  # (m,) latest minute a pickup may start (default inf: end_min rules)
    hourly_guarantee: FloatA | None = None  # (m,) guaranteed pay per hour (default 0)
    guarantee_hours: FloatA | None = None  # (m,) hours the guarantee covers (default: shift, 0 if open)
    deliveries_done: FloatA | None = None  # (m,) deliveries already made today (default 0)
    decline_cost: float = 0.0  # planning cost of a declined crowd offer, per order (× (1-p))
    plan_min: float = 0.0  # the moment this problem is planned at
    name: str = ""
    meta: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        L = len(self.loc_ids)
        n = len(self.order_ids)
        m = len(self.courier_ids)
        W = len(self.warehouse_ids)
        s = object.__setattr__
        s(self, "loc_lat", _f(self.loc_lat, L, "loc_lat"))
        s(self, "loc_lon", _f(self.loc_lon, L, "loc_lon"))
        for name in ("dist_km", "time_min"):
            a = getattr(self, name)
            if (isinstance(a, np.ndarray) and a.dtype == np.float64 and not a.flags.writeable
                    and a.shape == (2, L, L)):
                continue  # already checked (a slice of a validated problem shares it)
            # (asarray with a dtype is not enough to keep the same array: an unpickled array's
            # dtype is an equal but distinct object, and asarray then returns a fresh view)
            a = np.asarray(a, dtype=float)
            if a.ndim == 2:
                a = np.stack([a, a])
            if a.shape != (2, L, L):
                raise DispatchInputError(f"{name}: expected shape (2, {L}, {L}), got {a.shape}")
            if not np.isfinite(a).all() or (a < 0).any():
                raise DispatchInputError(f"{name}: values must be finite and >= 0")
            a.setflags(write=False)
            s(self, name, a)
        s(self, "warehouse_loc", _i(self.warehouse_loc, W, "warehouse_loc"))
        for name in ("order_loc", "order_wh"):
            s(self, name, _i(getattr(self, name), n, name))
        for name in ("ready", "due", "size", "service", "penalty"):
            s(self, name, _f(getattr(self, name), n, name))
        s(self, "special", _b(self.special, n, "special"))
        s(self, "open_min", np.zeros(n) if self.open_min is None else _f(self.open_min, n, "open_min"))
        s(self, "late_weight", np.zeros(n) if self.late_weight is None else _f(self.late_weight, n, "late_weight"))
        for name in ("courier_profile", "start_loc", "end_loc", "courier_warehouse"):
            s(self, name, _i(getattr(self, name), m, name))
        for name in ("start_min", "capacity", "end_min", "max_work", "fixed_cost", "cost_per_km",
                     "cost_per_hour", "pay_per_delivery", "accept_prob"):
            a = np.asarray(getattr(self, name), dtype=float).reshape(-1)
            if a.shape[0] != m or np.isnan(a).any():
                raise DispatchInputError(f"{name}: expected {m} numbers without gaps")
            s(self, name, a)
        s(self, "may_carry_special", _b(self.may_carry_special, m, "may_carry_special"))
        s(self, "pickup_service", np.zeros(W) if self.pickup_service is None
          else _f(self.pickup_service, W, "pickup_service"))
        s(self, "pickup_end", np.full(m, np.inf) if self.pickup_end is None
          else np.asarray(_f(self.pickup_end, m, "pickup_end"), dtype=float))
        s(self, "hourly_guarantee", np.zeros(m) if self.hourly_guarantee is None
          else _f(self.hourly_guarantee, m, "hourly_guarantee"))
        if self.guarantee_hours is None:
            span = self.end_min - self.start_min
            s(self, "guarantee_hours", np.where(np.isfinite(span), np.maximum(span, 0.0) / 60.0, 0.0))
        else:
            s(self, "guarantee_hours", _f(self.guarantee_hours, m, "guarantee_hours"))
        s(self, "deliveries_done", np.zeros(m) if self.deliveries_done is None
          else _f(self.deliveries_done, m, "deliveries_done"))
        for name in ("pickup_service", "hourly_guarantee", "guarantee_hours", "deliveries_done"):
            a = getattr(self, name)
            if not np.isfinite(a).all() or (a < 0).any():
                raise DispatchInputError(f"{name}: values must be finite and >= 0")
        # index sanity: a bad index is a programming/input error worth a clear message
        if n and ((self.order_loc < 0) | (self.order_loc >= L)).any():
            raise DispatchInputError("order_loc: index outside the location table")
        if n and ((self.order_wh < 0) | (self.order_wh >= W)).any():
            raise DispatchInputError("order_wh: index outside the warehouse table")
        if m and ((self.start_loc < 0) | (self.start_loc >= L)).any():
            raise DispatchInputError("start_loc: index outside the location table")
        if m and ((self.end_loc < -1) | (self.end_loc >= L)).any():
            raise DispatchInputError("end_loc: index outside the location table")
        if m and ((self.courier_warehouse < -1) | (self.courier_warehouse >= W)).any():
            raise DispatchInputError("courier_warehouse: index outside the warehouse table")
        if not set(np.unique(self.courier_profile)).issubset({FLEET, CROWD}):
            raise DispatchInputError("courier_profile: must be 0 (fleet) or 1 (crowd)")
        if len(set(self.order_ids)) != n:
            raise DispatchInputError("order ids must be unique")
        if len(set(self.courier_ids)) != m:
            raise DispatchInputError("courier ids must be unique")
        if ((self.accept_prob < 0) | (self.accept_prob > 1)).any():
            raise DispatchInputError("accept_prob: must be in [0, 1]")

    # ---- sizes and small helpers -------------------------------------------------------
    def __setstate__(self, state: list[object]) -> None:
        """Unpickling (a replication worker receiving the day's problem): restore the fields and
        mark the validated travel matrices read-only again, as :meth:`__post_init__` left them.
        Pickle does not keep numpy's read-only flag, and without it every sub-problem sliced from
        this one would re-check both (2, L, L) matrices: on metro-medium's day that was 30 ms per
        sub-problem, 1.8x the CPU of a replication run in the parent process."""
        for f, value in zip(fields(self), state, strict=True):
            object.__setattr__(self, f.name, value)
        for name in ("dist_km", "time_min"):
            getattr(self, name).setflags(write=False)

    @property
    def n_orders(self) -> int:
        return len(self.order_ids)

    @property
    def n_couriers(self) -> int:
        return len(self.courier_ids)

    @property
    def courier_kind(self) -> NDArray[np.str_]:
        return np.where(self.courier_profile == FLEET, "fleet", "crowd")

    def reach_min(self) -> FloatA:
        """Minutes from each courier's start to the warehouse it serves (0 if none fixed)."""
        wh = self.courier_warehouse
        out = np.zeros(self.n_couriers)
        ok = wh >= 0
        out[ok] = self.time_min[self.courier_profile[ok], self.start_loc[ok], self.warehouse_loc[wh[ok]]]
        return out

    def reach_km(self) -> FloatA:
        wh = self.courier_warehouse
        out = np.zeros(self.n_couriers)
        ok = wh >= 0
        out[ok] = self.dist_km[self.courier_profile[ok], self.start_loc[ok], self.warehouse_loc[wh[ok]]]
        return out

    @property
    def work_end(self) -> FloatA:
        """The last minute each courier may be given a pickup: min(end_min, pickup_end)."""
        return np.minimum(self.end_min, self.pickup_end)

    @property
    def guarantee(self) -> FloatA:
        """Each courier's guaranteed minimum pay for deliveries: hourly × hours."""
        return self.hourly_guarantee * self.guarantee_hours

    def free_deliveries(self) -> FloatA:
        """Deliveries each courier can still make at no extra pay (its guarantee not yet
        earned by per-delivery pay): max(0, G / p − done), possibly fractional (the last one
        is then paid in part); infinite where the per-delivery pay is 0 and G > 0."""
        p, g = self.pay_per_delivery, self.guarantee
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.where(p > 0, g / np.where(p > 0, p, 1.0), np.where(g > 0, np.inf, 0.0))
        return np.maximum(k - self.deliveries_done, 0.0)

    def marginal_pay(self, n: object) -> FloatA:
        """Pay for deliveries that ``n`` more deliveries per courier add (exact, with the guarantee)."""
        n = np.asarray(n, dtype=float)
        p, g, d = self.pay_per_delivery, self.guarantee, self.deliveries_done
        return np.maximum(p * (d + n), g) - np.maximum(p * d, g)

    def couriers_sliced(self, c: object) -> dict[str, FloatA]:
        """The optional per-courier arrays restricted to couriers ``c`` (for ``replace`` when a
        problem is cut down to some couriers: pass ``**P.couriers_sliced(c)``)."""
        c = np.asarray(c, dtype=np.int64)
        return {name: np.asarray(getattr(self, name))[c] for name in
                ("pickup_end", "hourly_guarantee", "guarantee_hours", "deliveries_done")}

    def decline_pay(self) -> FloatA:
        """Expected planning cost of a decline, per delivery offered to each courier."""
        crowd = self.courier_profile == CROWD
        return np.where(crowd, (1.0 - self.accept_prob) * self.decline_cost, 0.0)

    def planning_pay(self, per_trip: object | None = None) -> FloatA:
        """Per-delivery planning cost of each courier: pay + expected cost of a decline.

        Without ``per_trip`` the pay is the plain per-delivery pay (the guarantee ignored).
        With ``per_trip`` (how many deliveries one trip of each courier can hold) a courier
        with ``k`` free deliveries left under its guarantee is charged the mean marginal pay
        of a full trip, p × max(0, q − k) / q: 0 when the whole trip fits under the guarantee,
        p when nothing does. That is the linear price a back-end without piecewise costs can
        use; OR-Tools prices the guarantee exactly instead (see its module).
        """
        pay = self.pay_per_delivery.astype(float)
        if per_trip is not None:
            q = np.maximum(np.asarray(per_trip, dtype=float), 1.0)
            k = self.free_deliveries()
            pay = pay * np.clip(1.0 - k / q, 0.0, 1.0)
        return pay + self.decline_pay()

    def pay_parts(self, n: object) -> tuple[float, float]:
        """(per-delivery pay, guarantee top-up) of ``n`` deliveries per courier in this problem.

        Per-delivery pay is p × n; the top-up is what each courier is still owed under its
        guarantee after them, max(0, G − p × (done + n)), over every courier of the problem.
        Their sum is max(p × (done + n), G) − p × done: the exact marginal pay plus a constant
        (max(p × done, G) − p × done), so two plans of one problem compare by it exactly.
        """
        n = np.asarray(n, dtype=float)
        p = self.pay_per_delivery
        top = np.maximum(self.guarantee - p * (self.deliveries_done + n), 0.0)
        return float((p * n).sum()), float(top.sum())


__all__ = ["CROWD", "FLEET", "KINDS", "DispatchInputError", "DispatchProblem"]
