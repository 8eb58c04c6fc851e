"""Whole-day planning on the shipped small instance."""

from __future__ import annotations

import pytest

from engine.dispatch import build_problem, check_solution, dispatch, orders_for_day, plan_day
from engine.solver import Settings


@pytest.fixture(scope="module")
def small(metro_small):
    inst = metro_small
    day = inst.orders["date"].min()
    orders = orders_for_day(inst, day)
    return inst, orders


def test_build_problem_static(small) -> None:
    inst, orders = small
    peak = orders[(orders.created_min >= 1080) & (orders.created_min < 1110)]
    P = build_problem(inst, peak, start_min=1110)
    assert P.n_orders == len(peak) and P.n_couriers == len(inst.fleet) + len(inst.crowd)
    r = dispatch(P, Settings(backend="ortools", time_limit=0.5))
    assert check_solution(P, r) == []


@pytest.mark.parametrize("mode", ["waves", "rolling"])
def test_plan_day_feasible(small, mode: str) -> None:
    inst, orders = small
    kw = {"wave_min": 30} if mode == "waves" else {"rolling": 10}
    r = plan_day(inst, orders, Settings(backend="pyvrp", time_limit=0.3, seed=1), **kw)
    assert check_solution(r.problem, r) == []
    a = r.assignments
    assert len(a) == len(orders) and set(a["order"]) == set(orders["id"])
    assert (a.status == "served").sum() > 0.3 * len(a)
    assert (a.loc[a.status == "unserved", "reason"] != "").all()
    assert r.meta["mode"] == mode
    # several trips per fleet courier over the day
    assert r.routes[r.routes.courier_kind == "fleet"].groupby("courier")["trip"].max().max() > 1


def test_plan_day_hard_cases(small) -> None:
    from dataclasses import replace

    inst, orders = small
    part = orders.head(30).copy()
    part.loc[part.index[0], "due_min"] = part.loc[part.index[0], "ready_min"] - 1
    none = replace(inst, fleet=inst.fleet.iloc[0:0], crowd=inst.crowd.iloc[0:0])
    r = plan_day(none, part, Settings(backend="ortools", time_limit=0.2))
    assert (r.assignments["status"] == "unserved").all()
    reasons = r.assignments.set_index("order")["reason"]
    assert reasons.iloc[0] == "deadline before ready time"
    assert (reasons.iloc[1:] == "no courier available at its warehouse").all()
    r = plan_day(inst, part, Settings(backend="pyvrp", time_limit=0.2))
    assert r.assignments.set_index("order")["reason"].iloc[0] == "deadline before ready time"
    assert check_solution(r.problem, r) == []


def test_plan_day_rejects_missing_columns(small) -> None:
    from engine.dispatch import DispatchInputError

    inst, orders = small
    with pytest.raises(DispatchInputError, match="missing column"):
        plan_day(inst, orders.drop(columns=["ready_min"]), Settings())


def test_an_unpickled_day_problem_shares_its_checked_matrices(small) -> None:
    """A replication worker gets the day problem by pickle; its sub-problems must share the travel
    matrices, not re-check and re-view them each epoch (that once cost a worker 1.8x the CPU)."""
    import pickle

    import numpy as np

    from engine.dispatch.day import subproblem

    inst, orders = small
    P = pickle.loads(pickle.dumps(build_problem(inst, orders, assign_crowd=False)))
    assert not P.time_min.flags.writeable and not P.dist_km.flags.writeable
    o, c = np.arange(min(5, P.n_orders)), np.arange(min(3, P.n_couriers))
    S = subproblem(P, o, c, start_loc=P.start_loc[c], start_min=P.start_min[c], max_work=P.max_work[c],
                   fixed_cost=P.fixed_cost[c], warehouse=P.courier_warehouse[c], plan_min=0.0)
    assert S.time_min is P.time_min and S.dist_km is P.dist_km
    assert np.array_equal(S.time_min, P.time_min)
