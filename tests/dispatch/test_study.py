"""Rolling mode, the greedy baseline and the fleet/crowd restriction on a small synthetic peak."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.dispatch import check_solution
from engine.dispatch.day import plan_problem_day
from engine.dispatch.study import greedy_dispatch, restrict, service_metrics, synthetic_problem
from engine.solver import Settings


def test_greedy_baseline_is_feasible_and_single_order_trips() -> None:
    P, created = synthetic_problem(1, n_orders=40, n_fleet=3, n_crowd=4, window_min=30)
    g = greedy_dispatch(P, created, seed=1, simulate_declines=True)
    assert check_solution(g.problem, g) == []
    served = g.assignments[g.assignments.status == "served"]
    assert (served["stop_seq"] == 1).all()
    m = service_metrics(g, created)
    assert m["orders"] == 40 and m["orders_per_trip"] == 1.0


def test_rolling_beats_greedy_on_time_and_is_feasible() -> None:
    P, created = synthetic_problem(2, n_orders=60, n_fleet=4, n_crowd=6, window_min=30)
    g = greedy_dispatch(P, created)
    r = plan_problem_day(P, Settings(backend="ortools", time_limit=0.3, seed=2), period=3, rolling=True,
                         created=created, simulate_declines=True)
    assert check_solution(P, r) == []
    mg, mr = service_metrics(g, created), service_metrics(r, created)
    assert mr["on_time_share"] >= mg["on_time_share"]
    assert r.meta["replans"] > 5
    # planned deliveries never late (hard promise), greedy's may be
    assert mr["late_orders"] == 0


def test_restrict_pools() -> None:
    P, _ = synthetic_problem(3, n_orders=5, n_fleet=2, n_crowd=3)
    assert set(restrict(P, "fleet").courier_kind) == {"fleet"}
    assert set(restrict(P, "crowd").courier_kind) == {"crowd"}
    assert restrict(P, "mixed").n_couriers == 5
    np.testing.assert_array_equal(restrict(P, "crowd").accept_prob, P.accept_prob[2:])


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 1000), rolling=st.booleans(), backend=st.sampled_from(["ortools", "pyvrp"]),
       n_fleet=st.integers(0, 3), n_crowd=st.integers(0, 4))
def test_property_day_plans_are_feasible(seed: int, rolling: bool, backend: str, n_fleet: int, n_crowd: int) -> None:
    P, created = synthetic_problem(seed, n_orders=25, n_fleet=n_fleet, n_crowd=n_crowd, window_min=30, n_wh=2)
    r = plan_problem_day(P, Settings(backend=backend, time_limit=0.1, seed=seed), period=5.0, rolling=rolling,
                         created=created, simulate_declines=True)
    assert check_solution(P, r) == []
    assert len(r.assignments) == 25
    served = r.assignments["status"] == "served"
    assert (r.assignments.loc[~served, "reason"] != "").all()
