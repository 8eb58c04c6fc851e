"""OR-Tools back-end: RoutingModel with time, release and capacity dimensions.

Model (integer-scaled, see :mod:`engine.dispatch.scaling`):

* nodes: the warehouses (every courier starts its trip at its warehouse; a crowd courier's
  ride from home is folded into its earliest start and its fixed cost), the orders that
  passed screening, extra end locations, and one dummy free-end node for crowd couriers;
* ``time`` dimension, one transit matrix per profile (service at the from-node + travel; out
  of a warehouse into an order that service is the warehouse's pickup service, so the start
  cumul is the pickup start: after the courier's arrival and the trip's release);
  start window = [available + ride to the warehouse, pickup_end], end ≤ shift end, span ≤ max work;
  span cost = cost per hour; order windows [open, due];
* ``release`` dimension (transit 0, slack 0: constant along a route) with cumul ≥ ready of
  each order on the route, and ``time(start) ≥ release(start)``: the courier leaves the
  warehouse only once every order it carries is ready;
* ``load`` dimension with per-vehicle capacity;
* the option ``service_weight`` (default 1) multiplies the unserved penalties and the cost
  per minute late against money;
* arc costs per courier cost class (per km + per-delivery pay incl. expected decline cost),
  except for a courier below its guaranteed hourly minimum: its ``deliveries`` cumul at the
  route end has a soft upper bound at the k deliveries it still has free, costing the
  per-delivery pay for each one beyond (pay = max(p × n, G) exactly, to 1/100 delivery),
  fixed cost per used courier, a disjunction with the unserved penalty for every order;
* allowed-vehicle sets: same warehouse, special goods only on allowed couriers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.dispatch.problem import DispatchProblem
from engine.dispatch.scaling import BIG, load_down, load_up, money, service_weight, t_down, t_up
from engine.solver import Settings, SolveStatus

OPTIONS = {"first_solution", "metaheuristic", "log", "search_params", "optional_orders", "operators",
           "service_weight"}

# Local-search operators. OR-Tools' defaults suit the general routing model; this model has no
# pickup-delivery pairs, sub-trips or visit types, so the operators for those only cost time.
# On Solomon instances at 10 s (benchmarks/dispatch/settings_study.py; RESULTS.md there, §1)
# the insertion-path LNS, Lin-Kernighan and expensive-chain operators also cost more than they
# found, while cross-exchange and relocate-neighbours paid off. Operators that make orders
# active or inactive only matter when orders are optional (disjunctions).
_NEVER_USEFUL = ("relocate_pair", "exchange_pair", "light_relocate_pair", "relocate_subtrip",
                 "exchange_subtrip", "global_cheapest_insertion_visit_types_lns",
                 "local_cheapest_insertion_visit_types_lns")
_TUNED_OFF = ("global_cheapest_insertion_path_lns", "local_cheapest_insertion_path_lns",
              "lin_kernighan", "relocate_expensive_chain")
_TUNED_ON = ("cross_exchange", "relocate_neighbors")
_DELIVERY_SCALE = 100  # units per delivery in the guarantee's count (k is priced to 1/100)
_ACTIVITY = ("make_active", "make_inactive", "make_chain_inactive", "swap_active",
             "shortest_path_swap_active", "swap_active_chain", "shortest_path_two_opt",
             "relocate_path_global_cheapest_insertion_insert_unperformed")


def _set_operators(params: object, choice: str, optional: bool) -> None:
    """Apply the operator set ``choice`` ("tuned" or "ortools" = the library defaults)."""
    from ortools.util import optional_boolean_pb2

    if choice == "ortools":
        return
    if choice != "tuned":
        from engine.errors import ConfigError

        raise ConfigError(f"dispatch ortools: operators must be 'tuned' or 'ortools', got {choice!r}")
    ops = params.local_search_operators  # type: ignore[attr-defined]
    off = _NEVER_USEFUL + _TUNED_OFF + (() if optional else _ACTIVITY)
    for name in off:
        setattr(ops, f"use_{name}", optional_boolean_pb2.BOOL_FALSE)
    for name in _TUNED_ON:
        setattr(ops, f"use_{name}", optional_boolean_pb2.BOOL_TRUE)


def solve_ortools(
    P: DispatchProblem,
    settings: Settings,
    cand: np.ndarray,
    initial: Sequence[Sequence[int]] | None = None,
) -> tuple[list[list[int]], SolveStatus, float | None, str]:
    """Solve; return per-courier order sequences, status, objective (currency) and a message."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    settings.check_options(OPTIONS, where="dispatch ortools")
    weight = service_weight(settings.option("service_weight"), "dispatch ortools")  # service vs money
    # a courier whose earliest pickup start, rounded, passes its last one cannot start at all
    cand = cand & (t_up(P.start_min + P.reach_min()) <= t_down(np.minimum(P.pickup_end, P.end_min)))[None, :]
    active = np.flatnonzero(cand.any(axis=1))
    vehicles = np.flatnonzero(cand[active].any(axis=0)) if len(active) else np.zeros(0, int)
    seqs: list[list[int]] = [[] for _ in range(P.n_couriers)]
    if len(active) == 0 or len(vehicles) == 0:
        return seqs, SolveStatus.FEASIBLE, None, "nothing to route"
    # depot nodes: only locations some courier starts or ends at (any other non-order node
    # would have to be visited); then the orders; then a free-end node if a courier needs it
    ends = P.end_loc[vehicles]
    start_locs = P.warehouse_loc[P.courier_warehouse[vehicles]]
    depot_locs = np.unique(np.concatenate([start_locs, ends[ends >= 0]])).astype(np.int64)
    W = len(depot_locs)
    k = len(active)
    node_loc = np.concatenate([depot_locs, P.order_loc[active]])
    n_real = len(node_loc)
    free_end = bool((ends < 0).any())
    dummy = n_real
    N = n_real + (1 if free_end else 0)
    order_of_node = np.full(N, -1)
    order_of_node[W:W + k] = active
    service = np.zeros(N)
    service[W:W + k] = P.service[active]
    loc_to_node = {int(x): i for i, x in enumerate(depot_locs)}
    starts = [loc_to_node[int(x)] for x in start_locs]
    end_nodes = [loc_to_node[int(e)] if e >= 0 else dummy for e in ends]
    manager = pywrapcp.RoutingIndexManager(N, len(vehicles), starts, end_nodes)
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()

    def full(mat: np.ndarray) -> list[list[int]]:
        out = np.zeros((N, N), dtype=np.int64)
        out[:n_real, :n_real] = mat
        return out.tolist()

    ix = np.ix_(node_loc, node_loc)
    # pickup service: on the arcs out of a warehouse (start) node into the orders only, so an
    # unused courier's empty route (start -> end) does not pay it
    handover = np.zeros((n_real, n_real))
    wh_service = {int(P.warehouse_loc[w]): float(P.pickup_service[w]) for w in range(len(P.warehouse_ids))}
    for i, x in enumerate(depot_locs):
        handover[i, W:W + k] = wh_service.get(int(x), 0.0)
    time_cb = {}
    for p in np.unique(P.courier_profile[vehicles]):
        tm = t_up(P.time_min[p][ix] + service[:n_real, None] + handover)
        time_cb[int(p)] = routing.RegisterTransitMatrix(full(tm))
    # arc-cost classes: same profile, per-km cost and per-delivery planning pay. A courier still
    # below its guaranteed minimum pays nothing on the arcs; the "deliveries" dimension below
    # charges p per delivery beyond the k it still has free (exact piecewise pay)
    pay = P.planning_pay()
    free = P.free_deliveries()
    piecewise = (P.guarantee > 0) & (P.pay_per_delivery > 0) & (free > 0)
    pay = np.where(piecewise | ((P.guarantee > 0) & (P.pay_per_delivery <= 0)), P.decline_pay(), pay)
    classes: dict[tuple[int, float, float], int] = {}
    is_order = np.zeros(n_real, bool)
    is_order[W:W + k] = True
    for j, v in enumerate(vehicles):
        key = (int(P.courier_profile[v]), round(float(P.cost_per_km[v]), 6), round(float(pay[v]), 6))
        if key not in classes:
            cm = money(P.cost_per_km[v] * P.dist_km[key[0]][ix]) + np.where(is_order, money(pay[v]), 0)[None, :]
            classes[key] = routing.RegisterTransitMatrix(full(cm))
        routing.SetArcCostEvaluatorOfVehicle(classes[key], j)
        reach_cost = P.cost_per_km[v] * P.reach_km()[v]
        routing.SetFixedCostOfVehicle(int(money(P.fixed_cost[v] + reach_cost)), j)

    reach = P.reach_min()
    finite_end = P.end_min[vehicles][np.isfinite(P.end_min[vehicles])]
    horizon = int(t_up(max([*finite_end.tolist(), float(P.due[active].max()) + P.max_late_min,
                            float(P.start_min.max(initial=0))]) + 24 * 60))
    routing.AddDimensionWithVehicleTransits([time_cb[int(P.courier_profile[v])] for v in vehicles],
                                            horizon, horizon, False, "time")
    time = routing.GetDimensionOrDie("time")
    for j, v in enumerate(vehicles):
        s, e = routing.Start(j), routing.End(j)
        # the start cumul is the pickup start (>= arrival and >= release): at most pickup_end
        last_pick = int(min(t_down(P.pickup_end[v]), horizon)) if np.isfinite(P.pickup_end[v]) else horizon
        time.CumulVar(s).SetRange(int(min(t_up(P.start_min[v] + reach[v]), horizon)), last_pick)
        time.CumulVar(e).SetMax(int(min(t_down(P.end_min[v]), horizon)))
        if np.isfinite(P.max_work[v]):
            time.SetSpanUpperBoundForVehicle(int(max(t_down(P.max_work[v] - reach[v]), 0)), j)
        coef = int(money(P.cost_per_hour[v] / 60.0 / 10))  # per scaled time unit (TIME_SCALE = 10)
        if coef:
            time.SetSpanCostCoefficientForVehicle(coef, j)
    late_ok = P.max_late_min > 0
    for node in range(W, W + k):
        o = order_of_node[node]
        idx = manager.NodeToIndex(node)
        hi = P.due[o] + (P.max_late_min if late_ok else 0.0)
        time.CumulVar(idx).SetRange(int(t_up(P.open_min[o])), int(min(t_down(hi), horizon)))
        if late_ok and P.late_weight[o] > 0:
            per_unit = money(P.late_weight[o] * weight / 10)  # per scaled minute (TIME_SCALE = 10)
            time.SetCumulVarSoftUpperBound(idx, int(t_down(P.due[o])), int(max(per_unit, 1)))

    # release: constant along a route, at least the ready time of every order on it
    min_start = float((P.start_min + reach)[vehicles].min())
    if (P.ready[active] > min_start + 1e-9).any():
        zero = routing.RegisterUnaryTransitVector([0] * N)
        routing.AddDimension(zero, 0, horizon, False, "release")
        rel = routing.GetDimensionOrDie("release")
        for node in range(W, W + k):
            rel.CumulVar(manager.NodeToIndex(node)).SetMin(int(t_up(P.ready[order_of_node[node]])))
        for j in range(len(vehicles)):
            solver.Add(time.CumulVar(routing.Start(j)) >= rel.CumulVar(routing.Start(j)))

    if piecewise[vehicles].any():
        # cumul at the route end = S x deliveries; soft bound S x k at p / S per unit
        S = _DELIVERY_SCALE
        one = np.zeros(N, dtype=np.int64)
        one[W:W + k] = S
        count_cb = routing.RegisterUnaryTransitVector(one.tolist())
        routing.AddDimension(count_cb, 0, S * (k + 1), True, "deliveries")
        count = routing.GetDimensionOrDie("deliveries")
        for j, v in enumerate(vehicles):
            if piecewise[v]:
                bound = int(min(np.floor(free[v] * S + 1e-9), S * (k + 1)))
                unit = int(max(np.rint(money(P.pay_per_delivery[v]) / S), 1))
                count.SetCumulVarSoftUpperBound(routing.End(j), bound, unit)

    demand = np.zeros(N, dtype=np.int64)
    demand[W:W + k] = load_up(P.size[active])
    cap_cb = routing.RegisterUnaryTransitVector(demand.tolist())
    routing.AddDimensionWithVehicleCapacity(cap_cb, 0, [int(min(load_down(P.capacity[v]), BIG)) for v in vehicles],
                                            True, "load")

    pen = money(P.penalty[active] * weight)
    # benchmarks where every order must be served can drop the disjunctions (smaller search)
    optional = bool(settings.option("optional_orders", True))
    for j_node, node in enumerate(range(W, W + k)):
        idx = manager.NodeToIndex(node)
        if optional:
            routing.AddDisjunction([idx], int(max(pen[j_node], 1)))
        allowed = np.flatnonzero(cand[active[j_node], vehicles])
        routing.VehicleVar(idx).SetValues([-1, *allowed.tolist()])

    params = pywrapcp.DefaultRoutingSearchParameters()
    fs = settings.option("first_solution", "LOCAL_CHEAPEST_INSERTION")
    mh = settings.option("metaheuristic", "GUIDED_LOCAL_SEARCH")
    try:
        params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, fs)
        params.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, mh)
    except AttributeError as exc:
        from engine.errors import ConfigError

        raise ConfigError(f"dispatch ortools: unknown strategy name: {exc}") from None
    _set_operators(params, str(settings.option("operators", "tuned")), optional)
    params.time_limit.FromMilliseconds(max(int(settings.time_limit * 1000), 10))
    params.log_search = bool(settings.option("log", False))
    extra = settings.option("search_params")
    if extra:  # expert knobs, protobuf text format, e.g. "ls_operator_neighbors_ratio: 0.3"
        from google.protobuf import text_format

        try:
            text_format.Merge(str(extra), params)
        except text_format.ParseError as exc:
            from engine.errors import ConfigError

            raise ConfigError(f"dispatch ortools: bad search_params: {exc}") from None
    routing.CloseModelWithParameters(params)

    solution = None
    if initial is not None:
        pos = {int(o): W + i for i, o in enumerate(active)}
        init_routes = [[pos[o] for o in initial[v] if o in pos and cand[o, v]] for v in vehicles]
        start_assign = routing.ReadAssignmentFromRoutes(init_routes, True)
        if start_assign is not None:
            solution = routing.SolveFromAssignmentWithParameters(start_assign, params)
    if solution is None:
        solution = routing.SolveWithParameters(params)
    code = routing.status()
    if solution is None:
        status = SolveStatus.NO_SOLUTION
        return seqs, status, None, f"OR-Tools found no solution (routing status {code})"
    # 1 success, 2 partial (time limit before local optimum), 7 optimal (never for VRP here)
    status = SolveStatus.FEASIBLE if code in (1, 7) else SolveStatus.TIME_LIMIT
    for j, v in enumerate(vehicles):
        idx = routing.Start(j)
        route = []
        while not routing.IsEnd(idx):
            node = manager.IndexToNode(idx)
            if order_of_node[node] >= 0:
                route.append(int(order_of_node[node]))
            idx = solution.Value(routing.NextVar(idx))
        seqs[int(v)] = route
    return seqs, status, solution.ObjectiveValue() / 1000.0, f"routing status {code}"
