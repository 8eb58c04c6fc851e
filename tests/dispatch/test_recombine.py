"""PyVRP route recombination: pooled routes are exact, the set-partitioning plan is feasible and
never worse than the search's best, and the option is checked."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.dispatch import dispatch
from engine.dispatch.backend_pyvrp import _cost, _recombine, _route_cost, _RoutePool, build_model
from engine.dispatch.check import check_solution
from engine.dispatch.schedule import screen
from engine.errors import ConfigError
from engine.solver import Settings
from tests.dispatch.helpers import tiny_problem
from tests.dispatch.test_vrptw import DATA, needs_data


def _search(seed: int, n: int, optional: bool, iterations: int = 300):
    import pyvrp
    from pyvrp import IteratedLocalSearchParams, SolveParams
    from pyvrp.stop import MaxIterations

    P = tiny_problem(seed, n=n, n_fleet=2, n_crowd=3, special_share=0.2)
    cand, _ = screen(P)
    model = build_model(P, cand, optional=optional)
    assert model is not None
    pool = _RoutePool()
    res = pyvrp.solve(model.data, MaxIterations(iterations), seed=seed, collect_stats=False,
                      params=SolveParams(ils=IteratedLocalSearchParams(callbacks=pool.callbacks)))
    return P, model, pool, res


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(4, 16), optional=st.booleans())
def test_pooled_routes_are_feasible_and_priced_exactly(seed: int, n: int, optional: bool) -> None:
    import pyvrp

    P, model, pool, res = _search(seed, n, optional)
    assert pool.routes, "the search produced no feasible route"
    for (vt, visits), cost in list(pool.routes.items())[:200]:
        route = pyvrp.Route(model.data, list(visits), vt)
        assert route.is_feasible()
        assert _route_cost(route) == cost
    if res.best.is_feasible():
        # the objective the model minimises is PyVRP's own: route costs add up
        assert _cost(res.best) == res.cost()
        assert sum(_route_cost(r) for r in res.best.routes()) + res.best.uncollected_prizes() == res.cost()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(8, 30), optional=st.booleans())
def test_recombined_plan_is_feasible_and_cheaper(seed: int, n: int, optional: bool) -> None:
    # a short search leaves room: about half such runs find a cheaper combination
    P, model, pool, res = _search(seed, n, optional, iterations=20)
    if not res.best.is_feasible():
        return
    combined = _recombine(model.data, pool, res.best, time_limit=5.0)
    if combined is None:  # nothing cheaper in the pool
        return
    assert combined.is_feasible()
    assert _cost(combined) < _cost(res.best)
    visited = [a.idx for r in combined.routes() for a in r if a.is_client()]
    assert len(visited) == len(set(visited)), "a client visited twice"
    required = [i for i, c in enumerate(model.data.clients()) if c.required]
    assert set(required) <= set(visited)
    used = [r.vehicle_type() for r in combined.routes()]
    for t in set(used):
        assert used.count(t) <= model.data.vehicle_type(t).num_available


def test_recombination_finds_cheaper_plans_on_courier_problems() -> None:
    improved = 0
    for seed in range(8):
        P, model, pool, res = _search(seed, 24, True, iterations=20)
        combined = _recombine(model.data, pool, res.best, time_limit=5.0)
        if combined is not None:
            assert combined.is_feasible() and _cost(combined) < _cost(res.best)
            improved += 1
    assert improved >= 2


@needs_data
def test_recombination_improves_a_poor_search_on_a_real_instance() -> None:
    """Solomon RC101 after a short search: the pool holds a cheaper combination, and the
    combination is one of PyVRP's feasible solutions whose cost is the model's objective."""
    import pyvrp
    from pyvrp import IteratedLocalSearchParams, SolveParams
    from pyvrp.stop import MaxIterations

    data = pyvrp.read(DATA / "vrplib_format" / "RC101.vrp", round_func="dimacs")
    pool = _RoutePool()
    res = pyvrp.solve(data, MaxIterations(1500), seed=1, collect_stats=False,
                      params=SolveParams(ils=IteratedLocalSearchParams(callbacks=pool.callbacks)))
    assert res.best.is_feasible()
    combined = _recombine(data, pool, res.best, time_limit=20.0)
    assert combined is not None and combined.is_feasible()
    assert _cost(combined) < res.cost()
    assert sorted(a.idx for r in combined.routes() for a in r if a.is_client()) == list(range(data.num_clients))


def test_dispatch_with_recombination_is_feasible() -> None:
    P = tiny_problem(3, n=14)
    r = dispatch(P, Settings(backend="pyvrp", time_limit=1.0, seed=2, options={"recombine": 0.5}))
    assert check_solution(P, r) == []
    assert "pooled routes" in r.stats.message
    assert len(r.assignments) == P.n_orders


@pytest.mark.parametrize("bad", [1.0, -0.1, "half", True])
def test_recombine_option_is_checked(bad: object) -> None:
    P = tiny_problem(1, n=6)
    with pytest.raises(ConfigError, match="recombine"):
        dispatch(P, Settings(backend="pyvrp", time_limit=0.3, options={"recombine": bad}))


def test_many_distinct_crowd_pays_are_grouped_with_a_bounded_error() -> None:
    import numpy as np

    from engine.dispatch.backend_pyvrp import _MAX_COST_CLASSES, _pay_classes
    from engine.dispatch.study import synthetic_problem

    P, _ = synthetic_problem(4, n_orders=30, n_fleet=4, n_crowd=40)
    vehicles = np.arange(P.n_couriers)
    exact = P.planning_pay()
    pay, note = _pay_classes(P, vehicles)
    keys = {(int(p), round(float(c), 6), round(float(x), 6))
            for p, c, x in zip(P.courier_profile, P.cost_per_km, pay, strict=True)}
    assert len(keys) <= _MAX_COST_CLASSES < len(set(np.round(exact, 6)))
    crowd = P.courier_profile == 1
    span = exact[crowd].max() - exact[crowd].min()
    assert np.abs(pay - exact).max() <= span / (2 * (_MAX_COST_CLASSES - 1)) + 1e-9
    assert "classes" in note
    # a problem with few distinct pays is modelled exactly
    small = tiny_problem(2, n=8)
    same, note = _pay_classes(small, np.arange(small.n_couriers))
    assert np.array_equal(same, small.planning_pay()) and note == ""
