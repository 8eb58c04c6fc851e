"""Static dispatch problems: both back-ends, the checker, hard cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.dispatch import (
    DISPATCH,
    DispatchInputError,
    check_solution,
    dispatch,
    problem_from_frames,
)
from engine.errors import BackendError, ConfigError
from engine.solver import Settings
from tests.dispatch.helpers import tiny_frames, tiny_problem

BACKENDS = DISPATCH.available()


@pytest.mark.parametrize("backend", BACKENDS)
def test_tiny_problem_feasible_and_complete(backend: str) -> None:
    P = tiny_problem(1, n=14)
    r = dispatch(P, Settings(backend=backend, time_limit=0.5))
    assert check_solution(P, r) == []
    a = r.assignments
    assert list(a["order"]) == list(P.order_ids)
    assert r.stats.status.has_solution and r.stats.bound is None
    assert (a.loc[a.status == "unserved", "reason"] != "").all()
    # special goods never on a crowd courier here (none may carry them)
    sp = a[a["order"].isin(np.array(P.order_ids)[P.special]) & (a.status == "served")]
    assert (sp["courier_kind"] == "fleet").all()
    d = r.to_dict()
    assert d["headline"]["orders"] == 14 and len(d["assignments"]) == 14


def test_backends_agree_on_cost() -> None:
    P = tiny_problem(2, n=10)
    costs = [dispatch(P, Settings(backend=b, time_limit=0.5)).cost["total"] for b in BACKENDS]
    assert max(costs) <= 1.1 * min(costs)


def test_same_seed_same_plan() -> None:
    P = tiny_problem(3, n=10)
    a = dispatch(P, Settings(backend="pyvrp", time_limit=0.3, seed=7)).assignments
    b = dispatch(P, Settings(backend="pyvrp", time_limit=0.3, seed=7)).assignments
    pd.testing.assert_frame_equal(a, b)


def test_hard_cases_are_unserved_with_reasons() -> None:
    wh, orders, couriers = tiny_frames(4, n=6)
    orders.loc[0, "due_min"] = orders.loc[0, "ready_min"] - 5  # deadline before ready
    orders.loc[1, ["lat", "lon"]] = [35.0, 110.0]  # far outside every courier's reach
    orders.loc[2, "size_m3"] = 5.0  # larger than any courier
    P = problem_from_frames(wh, orders, couriers)
    r = dispatch(P, Settings(backend="ortools", time_limit=0.3))
    reason = r.assignments.set_index("order")["reason"]
    assert reason["o0"] == "deadline before ready time"
    assert "reach" in reason["o1"]
    assert "capacity" in reason["o2"]
    assert check_solution(P, r) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_couriers(backend: str) -> None:
    wh, orders, couriers = tiny_frames(5, n=4)
    P = problem_from_frames(wh, orders, couriers.iloc[0:0])
    r = dispatch(P, Settings(backend=backend, time_limit=0.2))
    assert (r.assignments["status"] == "unserved").all()
    assert (r.assignments["reason"] == "no courier available at its warehouse").all()
    assert r.cost["unserved_penalty"] == pytest.approx(P.penalty.sum())


def test_bad_input_messages() -> None:
    wh, orders, couriers = tiny_frames(6, n=3)
    with pytest.raises(DispatchInputError, match="missing column"):
        problem_from_frames(wh, orders.drop(columns="due_min"), couriers)
    bad = orders.copy()
    bad.loc[0, "warehouse"] = "NOPE"
    with pytest.raises(DispatchInputError, match="unknown warehouse"):
        problem_from_frames(wh, bad, couriers)
    with pytest.raises(BackendError, match="unknown dispatch back-end"):
        dispatch(tiny_problem(0, n=3), Settings(backend="gurobi"))
    with pytest.raises(ConfigError, match="unknown option"):
        dispatch(tiny_problem(0, n=3), Settings(backend="ortools", options={"nope": 1}))


def test_checker_catches_violations() -> None:
    P = tiny_problem(7, n=10)
    r = dispatch(P, Settings(backend="ortools", time_limit=0.3))
    served = r.assignments[r.assignments.status == "served"]
    assert len(served) >= 2
    # 1: an order reported unserved although it is delivered
    a = r.assignments.copy()
    a.loc[a.index[a.status == "served"][0], "status"] = "unserved"
    bad = type(r)(assignments=a, routes=r.routes, cost=r.cost, stats=r.stats)
    assert any("served orders and delivery stops differ" in s for s in check_solution(P, bad))
    # 2: a delivery stop moved before it can physically happen
    rt = r.routes.copy()
    i = rt.index[rt.kind == "delivery"][0]
    rt.loc[i, "arrive_min"] -= 60
    bad = type(r)(assignments=r.assignments, routes=rt, cost=r.cost, stats=r.stats)
    assert any("earliest possible" in s for s in check_solution(P, bad))
    # 3: a tighter capacity makes the same plan overloaded
    from dataclasses import replace

    loaded = r.routes.groupby("courier")["load_m3"].max()
    v = P.courier_ids.index(loaded.idxmax())
    cap = P.capacity.copy()
    cap[v] = loaded.max() / 2
    assert any("exceeds capacity" in s for s in check_solution(replace(P, capacity=cap), r))


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 9), n_fleet=st.integers(0, 2), n_crowd=st.integers(0, 3),
       backend=st.sampled_from(BACKENDS))
def test_property_every_plan_is_feasible(seed: int, n: int, n_fleet: int, n_crowd: int, backend: str) -> None:
    P = tiny_problem(seed, n=n, n_fleet=n_fleet, n_crowd=n_crowd, special_share=0.4)
    r = dispatch(P, Settings(backend=backend, time_limit=0.1, seed=seed))
    assert check_solution(P, r) == []
    assert len(r.assignments) == n
    assert r.cost["total"] == pytest.approx(r.cost["operating"] + r.cost["unserved_penalty"] + r.cost["lateness"])


def test_untrusted_backend_output_is_repaired() -> None:
    """A back-end that returns an infeasible plan: the checker-driven repair makes it feasible."""
    if "broken-test" not in DISPATCH:
        @DISPATCH.register("broken-test", description="everything on courier 0")
        def _broken(P, settings, cand, initial=None):  # type: ignore[no-untyped-def]
            from engine.solver import SolveStatus

            seqs = [[] for _ in range(P.n_couriers)]
            seqs[0] = [o for o in range(P.n_orders) if P.order_wh[o] == P.courier_warehouse[0]]
            return seqs, SolveStatus.FEASIBLE, None, "deliberately overloaded"

    P = tiny_problem(8, n=14)
    r = dispatch(P, Settings(backend="broken-test"))
    assert check_solution(P, r) == []
    assert "repaired" in r.stats.message


def test_pyvrp_iteration_budget_is_reproducible() -> None:
    P = tiny_problem(9, n=14)
    s = Settings(backend="pyvrp", time_limit=30, seed=3, options={"max_iterations": 300})
    a, b = dispatch(P, s), dispatch(P, s)
    pd.testing.assert_frame_equal(a.assignments, b.assignments)
    assert check_solution(P, a) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_portfolio_of_two_runs_keeps_the_cheaper_feasible_plan(backend: str) -> None:
    P = tiny_problem(10, n=12)
    r = dispatch(P, Settings(backend=backend, time_limit=1.0, threads=2, seed=5))
    assert check_solution(P, r) == []
    assert "best of 2 runs" in r.stats.message
    costs = [float(c) for c in r.stats.message.split("costs [")[1].split("]")[0].split(",")]
    # the kept plan is the cheaper of the two members (planning cost = total + expected declines)
    assert r.stats.objective == pytest.approx(min(costs), abs=0.01)


def test_ortools_operator_sets() -> None:
    P = tiny_problem(11, n=12)
    for ops in ("tuned", "ortools"):
        r = dispatch(P, Settings(backend="ortools", time_limit=0.5, options={"operators": ops}))
        assert check_solution(P, r) == []
        assert (r.assignments["status"] == "served").sum() > 0
    with pytest.raises(ConfigError, match="operators"):
        dispatch(P, Settings(backend="ortools", time_limit=0.5, options={"operators": "fast"}))


@pytest.mark.parametrize("backend", BACKENDS)
def test_fleet_only_problem(backend: str) -> None:
    """Only depot-bound fleet couriers: PyVRP gets no free-end depot at all."""
    P = tiny_problem(12, n=10, n_crowd=0)
    r = dispatch(P, Settings(backend=backend, time_limit=0.5))
    assert check_solution(P, r) == []
    assert set(r.routes["courier"]) <= {c for c in P.courier_ids if c.startswith("F")}


def test_pyvrp_solve_params() -> None:
    P = tiny_problem(13, n=10)
    ok = Settings(backend="pyvrp", time_limit=0.3, options={"solve_params": {"ils": {"history_length": 50}}})
    assert check_solution(P, dispatch(P, ok)) == []
    for bad in ({"genetic": {}}, {"ils": {"history_length": 0}}, {"ils": {"no_such": 1}}):
        with pytest.raises(ConfigError, match="solve_params"):
            dispatch(P, Settings(backend="pyvrp", time_limit=0.3, options={"solve_params": bad}))


@pytest.mark.parametrize("backend", BACKENDS)
def test_couriers_without_a_warehouse_get_one(backend: str) -> None:
    """A day-level problem (crowd couriers free to pick any warehouse, -1) solved statically:
    each such courier is given one warehouse, never the last one by accident of indexing."""
    from engine.dispatch.study import synthetic_problem

    P, _ = synthetic_problem(2, n_orders=40, n_fleet=3, n_crowd=5)
    assert (P.courier_warehouse < 0).any()
    r = dispatch(P, Settings(backend=backend, time_limit=0.5, seed=1))
    assert check_solution(P, r) == []
    assert "without a warehouse" in r.stats.message
    served = r.assignments[r.assignments["status"] == "served"]
    assert len(served) > 0
    for c, g in served.groupby("courier"):  # one pickup warehouse per courier
        assert g["warehouse"].nunique() == 1, c
