"""PyVRP back-end: its iterated local search over the same problem, then route recombination.

Search: PyVRP's iterated local search for ``(1 - recombine)`` of the time limit, collecting
every feasible route it produces. Recombination: a set-partitioning model over those routes
(:func:`_recombine`) picks the cheapest combination, and the search goes on from it for any
time left. On the 56 Solomon instances at 10 s this takes the mean gap from 0.17 % to 0.07 %
on one core (``benchmarks/dispatch/RESULTS.md``).

Mapping (integer-scaled, see :mod:`engine.dispatch.scaling`):

* depots = warehouses (+ extra end locations) + one dummy free-end depot for crowd couriers;
  a warehouse's pickup service is its depot's ``service_duration``, which PyVRP 0.14 runs at
  the start of the trip after waiting for the release times, as the model wants;
  clients = the orders that passed screening, optional, with the unserved penalty as prize,
  ``release_time`` = ready (the trip leaves the warehouse only when all its orders are ready);
* one vehicle type per courier (identical couriers share one): own start/end depot, start window (available + ride to the
  warehouse; ``start_late`` = ``pickup_end``: the route starts when the pickup does, after the
  release wait), shift end, shift duration = max work, fixed cost (+ the ride's km pay),
  cost per hour as unit duration cost;
* a routing profile per courier cost class: its "distance" matrix is money (per-km cost
  + per-delivery pay and expected decline cost on every arc into a client), unit distance
  cost 1; crowd profiles reach the dummy end for free. A guaranteed hourly minimum is not
  piecewise here: a courier with k deliveries left under it and room for q in a trip pays
  p × max(0, q − k) / q per delivery (the mean marginal pay of a full trip; an
  approximation, the plan is costed exactly afterwards);
* load dimensions: one per warehouse (a courier has capacity only in its own warehouse's
  dimension, so it can carry only that warehouse's orders) + one "special goods" dimension
  (capacity 0 for couriers not allowed to carry them).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from engine.dispatch.problem import FLEET, DispatchProblem
from engine.dispatch.scaling import (
    BIG,
    MONEY_SCALE,
    load_down,
    load_up,
    service_weight,
    t_down,
    t_up,
)
from engine.solver import Settings, SolveStatus

OPTIONS = {"display", "optional_orders", "money_scale", "max_iterations", "no_improvement", "solve_params",
           "recombine", "service_weight"}
_HUGE = 10**9
# recombination: share of the time limit kept for it, and the shortest time limit it is used at
_RECOMBINE_SHARE = 0.25
_RECOMBINE_MIN_SECONDS = 2.0
_POOL_LIMIT = 30_000  # routes kept for the set-partitioning model
_MAX_COST_CLASSES = 12  # distinct per-delivery cost classes before pays are grouped


def _solve_params(spec: object) -> Any:
    """PyVRP's ``SolveParams`` from a mapping laid out like PyVRP's own parameter TOML files:
    tables ``ils``, ``penalty``, ``neighbourhood``, ``perturbation`` (e.g.
    ``{"ils": {"history_length": 500}}``); unknown names are a :class:`ConfigError`."""
    from pyvrp import IteratedLocalSearchParams, PenaltyParams, SolveParams
    from pyvrp.search import NeighbourhoodParams, PerturbationParams

    from engine.errors import ConfigError

    if spec is None:
        return SolveParams()
    parts = {"ils": IteratedLocalSearchParams, "penalty": PenaltyParams,
             "neighbourhood": NeighbourhoodParams, "perturbation": PerturbationParams}
    if not isinstance(spec, dict) or set(spec) - set(parts):
        raise ConfigError(f"dispatch pyvrp: solve_params must be a table with some of {', '.join(parts)}, "
                          f"got {spec!r}")
    built = {}
    for key, cls in parts.items():
        try:
            built[key] = cls(**dict(spec.get(key, {})))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"dispatch pyvrp: solve_params.{key}: {exc}") from None
    return SolveParams(ils=built["ils"], penalty=built["penalty"], neighbourhood=built["neighbourhood"],
                       perturbation=built["perturbation"])


def _route_key(route: object) -> tuple[int, tuple[int, ...]]:
    return route.vehicle_type(), tuple(a.idx for a in route if a.is_client())  # type: ignore[attr-defined]


def _route_cost(route: object) -> int:
    return int(route.fixed_vehicle_cost() + route.distance_cost() + route.duration_cost())  # type: ignore[attr-defined]


class _Deadline:
    """PyVRP stopping criterion: stop at a wall-clock instant (``time.perf_counter()``)."""

    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self, best_cost: float) -> bool:
        return time.perf_counter() >= self.at


class _RoutePool:
    """Collects the feasible routes of every solution the local search produces.

    A route's cost and feasibility in PyVRP depend on the route alone (its vehicle type, visits
    and schedule), so any set of pooled routes that visits each client at most once, and each
    required client exactly once, within the vehicle counts is a feasible solution of the same
    cost: the set-partitioning model of :func:`_recombine` may combine routes of different
    solutions. The callback is cheap: a route already seen (same type, distance, duration,
    load, start and number of visits) is skipped before its visits are read.
    """

    def __init__(self, limit: int = _POOL_LIMIT) -> None:
        from pyvrp.IteratedLocalSearch import IteratedLocalSearchCallbacks

        pool = self

        class _Callbacks(IteratedLocalSearchCallbacks):
            def on_iteration(self, current: object, candidate: object, best: object, cost_evaluator: object) -> None:
                pool.add(candidate)

        self.callbacks = _Callbacks()
        self.routes: dict[tuple[int, tuple[int, ...]], int] = {}
        self._seen: set[tuple] = set()
        self._limit = limit

    def add(self, solution: object) -> None:
        if len(self.routes) >= self._limit:
            return
        for r in solution.routes():  # type: ignore[attr-defined]
            if not r.is_feasible():
                continue
            sig = (r.vehicle_type(), r.distance(), r.duration(), r.num_clients(), tuple(r.delivery()), r.start_time())
            if sig in self._seen:
                continue
            self._seen.add(sig)
            self.routes.setdefault(_route_key(r), _route_cost(r))


def _cost(solution: object) -> int:
    """PyVRP's objective of a feasible solution: route costs plus the prizes left uncollected."""
    return int(solution.fixed_vehicle_cost() + solution.distance_cost() + solution.duration_cost()  # type: ignore[attr-defined]
               + solution.uncollected_prizes())  # type: ignore[attr-defined]


def _recombine(data: Any, pool: _RoutePool, incumbent: Any, time_limit: float) -> Any | None:
    """Best combination of pooled routes: a set-partitioning model solved by SCIP (OR-Tools).

    ``min sum_r (cost_r - prizes_r) x_r`` subject to each required client covered exactly once,
    each optional client at most once, and at most ``num_available`` routes per vehicle type;
    the incumbent's routes are given as a hint. Returns the combined solution when it is
    cheaper than the incumbent, else None. (SCIP rather than HiGHS: highspy cannot be loaded
    next to OR-Tools, which bundles its own HiGHS build.)
    """
    import pyvrp
    from ortools.linear_solver import pywraplp

    started = time.perf_counter()
    for r in incumbent.routes():  # type: ignore[attr-defined]
        pool.routes.setdefault(_route_key(r), _route_cost(r))
    keys = list(pool.routes)
    clients = data.clients()  # type: ignore[attr-defined]
    solver = pywraplp.Solver.CreateSolver("SCIP")
    if solver is None:
        return None
    x = [solver.BoolVar(f"r{j}") for j in range(len(keys))]
    cover: list[list[object]] = [[] for _ in clients]
    by_type: list[list[object]] = [[] for _ in range(data.num_vehicle_types)]  # type: ignore[attr-defined]
    obj = []
    for j, (vt, visits) in enumerate(keys):
        for c in visits:
            cover[c].append(x[j])
        by_type[vt].append(x[j])
        obj.append(pool.routes[keys[j]] - sum(clients[c].prize for c in visits))
    for c, xs in zip(clients, cover, strict=True):
        if xs:
            solver.Add(solver.Sum(xs) == 1 if c.required else solver.Sum(xs) <= 1)
        elif c.required:  # a required client no pooled route visits: nothing to combine
            return None
    for t, xs in enumerate(by_type):
        if xs:
            solver.Add(solver.Sum(xs) <= data.vehicle_type(t).num_available)  # type: ignore[attr-defined]
    solver.Minimize(solver.Sum([c * xi for c, xi in zip(obj, x, strict=True)]))
    chosen = {_route_key(r) for r in incumbent.routes()}  # type: ignore[attr-defined]
    solver.SetHint(x, [1.0 if k in chosen else 0.0 for k in keys])
    solver.SetNumThreads(1)
    left = time_limit - (time.perf_counter() - started)
    if left <= 0.05:
        return None
    solver.SetTimeLimit(int(left * 1000))
    if solver.Solve() not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return None
    routes = [pyvrp.Route(data, list(keys[j][1]), keys[j][0]) for j in range(len(keys)) if x[j].solution_value() > 0.5]
    combined = pyvrp.Solution(data, routes)
    if not combined.is_feasible() or _cost(combined) >= _cost(incumbent):
        return None
    return combined


@dataclass(frozen=True)
class PyVRPModel:
    """The PyVRP instance of a dispatch problem and the way back to the problem's indices."""

    data: Any  # pyvrp.ProblemData
    active: np.ndarray  # problem order index of each PyVRP client
    vehicles: np.ndarray  # couriers that may serve some client
    members: list[list[int]]  # the couriers behind each PyVRP vehicle type
    note: str = ""  # what the model approximates, if anything

    @property
    def type_of(self) -> dict[int, int]:
        return {v: t for t, vs in enumerate(self.members) for v in vs}

    def sequences(self, solution: Any, n_couriers: int) -> list[list[int]]:
        """Order sequence per courier of a PyVRP solution (identical couriers taken in turn)."""
        seqs: list[list[int]] = [[] for _ in range(n_couriers)]
        left = [list(vs) for vs in self.members]
        for route in solution.routes():
            v = left[route.vehicle_type()].pop(0)
            seqs[v] = [int(self.active[a.idx]) for a in route.schedule() if a.is_client()]
        return seqs


def trip_room(P: DispatchProblem, cand: np.ndarray) -> np.ndarray:
    """How many deliveries one trip of each courier can hold: its candidate orders, at most
    as many of the smallest of them as its capacity takes."""
    count = cand.sum(axis=0).astype(float)
    smallest = np.where(cand, P.size[:, None], np.inf).min(axis=0, initial=np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = np.where(smallest > 0, np.floor(P.capacity / smallest + 1e-9), np.inf)
    return np.minimum(count, fit)


def _pay_classes(P: DispatchProblem, vehicles: np.ndarray,
                 per_trip: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """Per-delivery planning cost of each courier, grouped when there are too many distinct ones.

    Per-delivery pay sits on the arcs into clients, so each distinct (routing profile, cost per
    km, pay) needs its own pair of L x L matrices in PyVRP. With many crowd couriers that all
    differ a little (pay 6.10, 6.35, ... plus their expected decline cost) that is one pair per
    courier: 60 couriers and 1 500 orders took 10 s and 2 GB to build. Beyond
    ``_MAX_COST_CLASSES`` classes the pays of each (profile, cost per km) group are put into
    equal-width bins and each bin priced at the middle of its pays; the plan is still costed exactly afterwards.
    """
    pay = P.planning_pay(per_trip).astype(float).copy()
    prof, cpk = P.courier_profile[vehicles], np.round(P.cost_per_km[vehicles], 6)

    def n_classes(pays: np.ndarray) -> int:
        return len({(int(a), float(b), round(float(c), 6)) for a, b, c in zip(prof, cpk, pays[vehicles], strict=True)})

    if n_classes(pay) <= _MAX_COST_CLASSES:
        return pay, ""
    groups = {g: vehicles[(prof == g[0]) & (cpk == g[1])] for g in sorted({(int(a), float(b))
                                                                            for a, b in zip(prof, cpk, strict=True)})}
    # bins per group: groups with few distinct pays keep them all, the others share the rest
    need = {g: len(np.unique(np.round(pay[vs], 6))) for g, vs in groups.items()}
    budget, left_groups, bins = _MAX_COST_CLASSES, sorted(groups, key=lambda g: need[g]), {}
    for i, g in enumerate(left_groups):
        bins[g] = max(1, min(need[g], budget // (len(left_groups) - i)))
        budget -= bins[g]
    worst = 0.0
    for g, vs in groups.items():
        vals = pay[vs]
        lo, hi = float(vals.min()), float(vals.max())
        if bins[g] >= need[g] or hi - lo < 1e-9:
            continue
        # equal-width bins: no pay moves by more than half a bin width
        which = np.minimum(((vals - lo) / (hi - lo) * bins[g]).astype(int), bins[g] - 1)
        for b in np.unique(which):
            sel = vs[which == b]
            mid = 0.5 * float(pay[sel].min() + pay[sel].max())  # midrange: the smallest largest error
            worst = max(worst, float(np.abs(pay[sel] - mid).max()))
            pay[sel] = mid
    return pay, (f"per-delivery pay of {len(vehicles)} couriers planned in {n_classes(pay)} classes "
                 f"(at most {worst:.2f} off per delivery; costs reported exactly)")


def _can_start(P: DispatchProblem) -> np.ndarray:
    """Couriers whose earliest pickup start, in solver units, is not after their last one
    (rounding the one up and the other down can cross them by a fraction of a minute)."""
    return t_up(P.start_min + P.reach_min()) <= t_down(np.minimum(P.pickup_end, P.end_min))


def build_model(P: DispatchProblem, cand: np.ndarray, scale: float = MONEY_SCALE,
                optional: bool = True, weight: float = 1.0) -> PyVRPModel | None:
    """PyVRP's model of ``P`` restricted to the candidate pairs ``cand``; None if nothing can be routed.

    Money is scaled by ``scale`` integer units per currency unit; ``optional`` makes orders
    optional with their unserved penalty × ``weight`` (the service weight) as prize (else
    every order is required).
    """
    import pyvrp

    def money(x: object) -> np.ndarray:  # money in solver units
        return np.rint(np.asarray(x, dtype=float) * scale).astype(np.int64)

    cand = cand & _can_start(P)[None, :]
    active = np.flatnonzero(cand.any(axis=1))
    vehicles = np.flatnonzero(cand[active].any(axis=0)) if len(active) else np.zeros(0, int)
    if len(active) == 0 or len(vehicles) == 0:
        return None
    W = len(P.warehouse_ids)
    ends = P.end_loc[vehicles]
    extra_end = sorted(set(int(e) for e in ends if e >= 0) - set(int(x) for x in P.warehouse_loc))
    depot_loc = np.concatenate([P.warehouse_loc, np.asarray(extra_end, dtype=np.int64)])
    nd = len(depot_loc)
    dummy = nd  # depot index of the free end
    k = len(active)
    real_loc = np.concatenate([depot_loc, P.order_loc[active]])
    n_real = len(real_loc)
    # a dummy free-end depot only when some courier needs it (an extra depot widens PyVRP's
    # search for nothing on plain depot-to-depot problems such as the VRPTW benchmarks)
    free_end = bool((ends < 0).any())
    L = n_real + (1 if free_end else 0)  # dummy location placed after the clients
    dummy_loc = n_real
    # pyvrp: depots first (incl. dummy), then clients; location list in our own order
    loc_index_depot = [*range(nd), *([dummy_loc] if free_end else [])]
    client_loc = list(range(nd, nd + k))
    xy = np.concatenate([P.loc_lon[real_loc], [P.loc_lon[real_loc].mean()] * free_end]), np.concatenate(
        [P.loc_lat[real_loc], [P.loc_lat[real_loc].mean()] * free_end])
    locations = [pyvrp.Location(x=float(x), y=float(y)) for x, y in zip(*xy, strict=True)]
    # the pickup service of a warehouse is its depot's service duration: PyVRP runs it at the
    # start of a trip, after the wait for the release times (the trip's latest ready order)
    handover = [int(t_up(P.pickup_service[w])) for w in range(W)]
    depots = [pyvrp.Depot(location=loc, service_duration=handover[d] if d < W else 0)
              for d, loc in enumerate(loc_index_depot)]

    # a special-goods dimension only when some order needs it and some courier may not carry it
    use_special = bool(P.special[active].any() and not P.may_carry_special[vehicles].all())
    dims = W + (1 if use_special else 0)
    size = load_up(P.size[active])
    clients = []
    for j, o in enumerate(active):
        dl = [0] * dims
        dl[int(P.order_wh[o])] = int(size[j])
        if use_special:
            dl[W] = 1 if P.special[o] else 0
        clients.append(pyvrp.Client(
            location=client_loc[j], delivery=dl, service_duration=int(t_up(P.service[o])),
            tw_early=int(t_up(P.open_min[o])), tw_late=int(t_down(P.due[o])),
            release_time=int(t_up(P.ready[o])), prize=int(max(money(P.penalty[o] * weight), 1)) if optional else 0,
            required=not optional,
        ))

    ix = np.ix_(real_loc, real_loc)
    is_client = np.zeros(L, bool)
    is_client[nd:nd + k] = True
    # the guaranteed minimum has no piecewise cost in PyVRP: a courier still below it is priced
    # at the mean marginal pay of a full trip (DispatchProblem.planning_pay)
    guaranteed = bool((P.guarantee[vehicles] > 0).any())
    pay, pay_note = _pay_classes(P, vehicles, trip_room(P, cand) if guaranteed else None)
    classes: dict[tuple[int, float, float], int] = {}
    dist_mats, dur_mats = [], []
    base_km: dict[int, np.ndarray] = {}  # per routing profile: km between the model's locations
    base_t: dict[int, np.ndarray] = {}  # per routing profile: the duration matrix, shared by its classes
    reach_min, reach_km = P.reach_min(), P.reach_km()
    groups: dict[tuple, list[int]] = {}  # identical couriers share one vehicle type
    for v in vehicles:
        p = int(P.courier_profile[v])
        key = (p, round(float(P.cost_per_km[v]), 6), round(float(pay[v]), 6))
        if p not in base_km:
            base_km[p] = P.dist_km[p][ix]
            tm = np.zeros((L, L), dtype=np.int64)
            tm[:n_real, :n_real] = t_up(P.time_min[p][ix])
            if free_end:  # fleet never uses the free end; crowd reaches it for free
                tm[:, dummy_loc] = _HUGE if p == FLEET else 0
            np.fill_diagonal(tm, 0)
            base_t[p] = tm
        if key not in classes:
            dm = np.zeros((L, L), dtype=np.int64)
            dm[:n_real, :n_real] = money(P.cost_per_km[v] * base_km[p])
            dm[:, is_client] += int(money(pay[v]))
            if free_end:
                dm[:, dummy_loc] = _HUGE if p == FLEET else 0
            np.fill_diagonal(dm, 0)
            classes[key] = len(dist_mats)
            dist_mats.append(dm)
            dur_mats.append(base_t[p])
        cap = [0] * dims
        cap[int(P.courier_warehouse[v])] = int(min(load_down(P.capacity[v]), BIG))
        if use_special:
            cap[W] = k + 1 if P.may_carry_special[v] else 0
        e = int(P.end_loc[v])
        end_depot = dummy if e < 0 else (int(np.flatnonzero(depot_loc == e)[0]))
        kw = {}
        if np.isfinite(P.max_work[v]):
            kw["shift_duration"] = int(max(t_down(P.max_work[v] - reach_min[v]), 0))
        if np.isfinite(P.end_min[v]):
            kw["tw_late"] = int(t_down(P.end_min[v]))
        if np.isfinite(P.pickup_end[v]) and P.pickup_end[v] < P.end_min[v]:
            kw["start_late"] = int(t_down(P.pickup_end[v]))  # the route start is the pickup start
        kw.update(capacity=tuple(cap), start_depot=int(P.courier_warehouse[v]), end_depot=end_depot,
                  fixed_cost=int(money(P.fixed_cost[v] + P.cost_per_km[v] * reach_km[v])),
                  tw_early=int(t_up(P.start_min[v] + reach_min[v])), unit_distance_cost=1,
                  unit_duration_cost=int(money(P.cost_per_hour[v] / 600.0)), profile=classes[key])
        groups.setdefault(tuple(sorted(kw.items())), []).append(int(v))
    members = list(groups.values())
    vtypes = [pyvrp.VehicleType(num_available=len(vs), **{**dict(key), "capacity": list(dict(key)["capacity"])})
              for key, vs in groups.items()]
    data = pyvrp.ProblemData(locations, clients, depots, vtypes, dist_mats, dur_mats)

    return PyVRPModel(data=data, active=active, vehicles=vehicles, members=members, note=pay_note)


def solve_pyvrp(
    P: DispatchProblem,
    settings: Settings,
    cand: np.ndarray,
    initial: Sequence[Sequence[int]] | None = None,
) -> tuple[list[list[int]], SolveStatus, float | None, str]:
    import pyvrp

    started = time.perf_counter()  # the time limit counts the model build too
    settings.check_options(OPTIONS, where="dispatch pyvrp")
    scale = float(settings.option("money_scale", MONEY_SCALE))
    model = build_model(P, cand, scale, optional=bool(settings.option("optional_orders", True)),
                        weight=service_weight(settings.option("service_weight"), "dispatch pyvrp"))
    if model is None:
        return [[] for _ in range(P.n_couriers)], SolveStatus.FEASIBLE, None, "nothing to route"
    data, active, vehicles, type_of = model.data, model.active, model.vehicles, model.type_of
    init = None
    if initial is not None:
        pos = {int(o): j for j, o in enumerate(active)}
        try:
            routes = [pyvrp.Route(data, [pos[o] for o in initial[v] if o in pos and cand[o, v]], type_of[int(v)])
                      for v in vehicles if any(o in pos and cand[o, v] for o in initial[v])]
            init = pyvrp.Solution(data, routes)
        except (ValueError, IndexError, RuntimeError):
            init = None
    T = float(settings.time_limit)
    share = settings.option("recombine", _RECOMBINE_SHARE if T >= _RECOMBINE_MIN_SECONDS
                            and not settings.option("max_iterations") else 0.0)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 <= share < 1.0:
        from engine.errors import ConfigError

        raise ConfigError(f"dispatch pyvrp: recombine must be a share of the time limit in [0, 1), got {share!r}")
    share = float(share)
    seed = int(settings.seed) % (2**31)
    params = base_params = _solve_params(settings.option("solve_params"))
    pool = _RoutePool() if share > 0 else None
    if pool is not None:
        from pyvrp import SolveParams

        params = SolveParams(ils=replace(params.ils, callbacks=pool.callbacks), penalty=params.penalty,
                             neighbourhood=params.neighbourhood, operators=params.operators,
                             perturbation=params.perturbation)
    # the search stops at a deadline, so PyVRP's own set-up (neighbour lists, first solution)
    # counts too; it always gets a little time, even when the build ate the limit
    search_end = max(started + T * (1.0 - share), time.perf_counter() + 0.05 * T)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stop: Any = _Deadline(search_end)
        if settings.option("max_iterations"):  # iteration budget: same seed -> same plan on any load
            from pyvrp.stop import MaxIterations, MultipleCriteria

            stop = MultipleCriteria([MaxIterations(int(settings.option("max_iterations"))), stop])
        if settings.option("no_improvement"):  # converged: stop before the deadline
            from pyvrp.stop import MultipleCriteria, NoImprovement

            stop = MultipleCriteria([NoImprovement(int(settings.option("no_improvement"))), stop])
        res = pyvrp.solve(data, stop=stop, seed=seed, display=bool(settings.option("display", False)),
                          collect_stats=False, initial_solution=init, params=params)
        best, iterations, extra = res.best, res.num_iterations, ""
        if pool is not None and best.is_feasible():
            combined = _recombine(data, pool, best, T - (time.perf_counter() - started) - 0.05)
            extra = f"; {len(pool.routes)} pooled routes"
            if combined is not None:
                extra += f", recombined {_cost(best) / scale:.6g} -> {_cost(combined) / scale:.6g}"
                best = combined
            left = T - (time.perf_counter() - started)
            if left > 0.1:  # time the model did not use: local search from the (recombined) best
                more = pyvrp.solve(data, stop=_Deadline(started + T), seed=seed + 1, collect_stats=False,
                                   initial_solution=best, params=base_params)
                iterations += more.num_iterations
                if more.best.is_feasible() and _cost(more.best) < _cost(best):
                    best = more.best
    note = "; penalty bound reached (hard to find a feasible plan)" if any(
        "penalty" in str(w.message).lower() for w in caught) else ""
    if not best.is_feasible():
        return [[] for _ in range(P.n_couriers)], SolveStatus.NO_SOLUTION, None, "PyVRP found no feasible solution in the time limit" + note
    if model.note:
        note += f"; {model.note}"
    return model.sequences(best, P.n_couriers), SolveStatus.TIME_LIMIT, _cost(best) / scale, f"{iterations} iterations{extra}{note}"
