"""The vectorised checker finds what the earlier pandas checker found, on tampered plans."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.dispatch import dispatch, find_violations
from engine.dispatch.problem import DispatchProblem
from engine.dispatch.result import DispatchResult
from engine.solver import Settings
from tests.dispatch.helpers import tiny_problem
from tests.dispatch.reference_check import reference_violations

TAMPERS = ("shift", "order", "swap", "drop", "courier", "kind", "warehouse", "loc", "ckind", "status",
           "reason", "a_courier", "late", "capacity", "max_work", "end_min", "none")


@cache
def _plan(seed: int) -> tuple[DispatchProblem, DispatchResult]:
    P = tiny_problem(seed, n=12)
    return P, dispatch(P, Settings(backend="ortools", time_limit=0.2, seed=seed))


def _tamper(P: DispatchProblem, res: DispatchResult, how: str, rng: np.random.Generator,
            ) -> tuple[DispatchProblem, DispatchResult]:
    a, r = res.assignments.copy(), res.routes.copy()
    i = int(rng.integers(len(r)))
    dl = np.flatnonzero(r["kind"].to_numpy() == "delivery")
    j = int(rng.choice(dl))
    if how == "shift":
        r.loc[i, ["arrive_min", "depart_min"]] += float(rng.choice([-400.0, -30.0, -1.0, 1.0, 30.0, 400.0]))
    elif how == "order":
        r.loc[j, "order"] = str(rng.choice([*P.order_ids, "nobody"]))
    elif how == "swap":
        k = int(rng.choice(dl))
        r.loc[[j, k], "seq"] = r.loc[[k, j], "seq"].to_numpy()
    elif how == "drop":
        r = r.drop(index=i).reset_index(drop=True)
    elif how == "courier":
        trip = (r["courier"] == r.at[i, "courier"]) & (r["trip"] == r.at[i, "trip"])
        r.loc[trip, "courier"] = str(rng.choice([*P.courier_ids, "X9"]))
    elif how == "kind":
        r.loc[i, "kind"] = str(rng.choice(["start", "pickup", "delivery", "end", "detour"]))
    elif how == "warehouse":
        pick = np.flatnonzero(r["kind"].to_numpy() == "pickup")
        r.loc[int(rng.choice(pick)), "warehouse"] = str(rng.choice([*P.warehouse_ids, "W99"]))
    elif how == "loc":
        r.loc[i, "loc"] = int(rng.integers(len(P.loc_lat)))
    elif how == "ckind":
        r.loc[i, "courier_kind"] = str(rng.choice(["fleet", "crowd"]))
    elif how == "status":
        a.loc[int(rng.integers(len(a))), "status"] = str(rng.choice(["served", "unserved", "lost"]))
    elif how == "reason":
        a.loc[int(rng.integers(len(a))), ["status", "reason"]] = ["unserved", str(rng.choice(["", "far"]))]
    elif how == "a_courier":
        a.loc[int(rng.integers(len(a))), "courier"] = str(rng.choice(P.courier_ids))
    elif how == "late":
        a.loc[int(rng.integers(len(a))), "late_min"] = float(rng.choice([np.nan, 0.0, 5.0]))
    elif how == "capacity":
        P = replace(P, capacity=P.capacity * float(rng.uniform(0.2, 1.0)))
    elif how == "max_work":
        P = replace(P, max_work=P.max_work * float(rng.uniform(0.05, 1.0)))
    elif how == "end_min":
        P = replace(P, end_min=P.end_min - float(rng.uniform(0.0, 400.0)))
    return P, DispatchResult(assignments=a, routes=r, cost=res.cost, stats=res.stats)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=st.integers(0, 2), tampers=st.lists(st.sampled_from(TAMPERS), min_size=1, max_size=3),
       seed=st.integers(0, 2**16))
def test_fast_checker_agrees_with_the_reference_on_tampered_plans(plan: int, tampers: list[str], seed: int) -> None:
    P, res = _plan(plan)
    rng = np.random.default_rng(seed)
    for how in tampers:
        P, res = _tamper(P, res, how, rng)
    try:
        expected = reference_violations(P, res)
    except TypeError:  # the old checker broke sorting ids when a stop had none; the new one reports it
        assert find_violations(P, res)
        return
    assert find_violations(P, res) == expected


def test_a_delivery_stop_without_an_order_is_reported_not_a_crash() -> None:
    P, res = _plan(0)
    r = res.routes.copy()
    start = r.index[r["kind"] == "start"][0]
    r.loc[start, "kind"] = "delivery"  # a stop with no order id among the deliveries
    bad = DispatchResult(assignments=res.assignments, routes=r, cost=res.cost, stats=res.stats)
    found = [v.message for v in find_violations(P, bad)]
    assert any(m.startswith("served orders and delivery stops differ") for m in found)
    assert any("stops must be start, pickup" in m for m in found)


def test_untouched_plans_pass_both() -> None:
    for plan in range(3):
        P, res = _plan(plan)
        assert find_violations(P, res) == reference_violations(P, res) == []


def test_an_empty_plan_reports_every_order_missing_from_the_routes() -> None:
    P, res = _plan(0)
    empty = DispatchResult(assignments=res.assignments, routes=res.routes.iloc[:0], cost=res.cost, stats=res.stats)
    found = find_violations(P, empty)
    assert found == reference_violations(P, empty)
    assert any("served orders and delivery stops differ" in v.message for v in found)
