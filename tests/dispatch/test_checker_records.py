"""The checker's violations as records (courier, trip, order), and trips without deliveries."""

from __future__ import annotations

from engine.dispatch import PlanCheckError, Violation, check_solution, dispatch, find_violations
from engine.errors import EngineError
from engine.solver import Settings
from tests.dispatch.helpers import tiny_problem


def _plan():  # type: ignore[no-untyped-def]
    P = tiny_problem(7, n=10)
    r = dispatch(P, Settings(backend="ortools", time_limit=0.3))
    assert find_violations(P, r) == []
    return P, r


def test_a_late_stop_names_its_courier_trip_and_order() -> None:
    P, r = _plan()
    rt = r.routes.copy()
    stop = rt[rt.kind == "delivery"].iloc[0]
    trip = (rt.courier == stop.courier) & (rt.trip == stop.trip)
    rt.loc[trip, ["arrive_min", "depart_min"]] += 600.0
    bad = type(r)(assignments=r.assignments, routes=rt, cost=r.cost, stats=r.stats)
    found = find_violations(P, bad)
    assert [v.message for v in found] == check_solution(P, bad)
    late = [v for v in found if "after its deadline" in v.message]
    assert late and {v.courier for v in late} == {stop.courier} and {v.trip for v in late} == {int(stop.trip)}
    assert stop.order in {v.order for v in late}
    err = PlanCheckError(found)
    assert isinstance(err, EngineError) and err.violations == tuple(found)
    assert f"{len(found)} violation(s)" in str(err) and late[0].message in str(err)


def test_a_trip_left_without_deliveries_is_a_violation_not_a_crash() -> None:
    P, r = _plan()
    rt = r.routes
    trips = rt[rt.kind == "delivery"].groupby(["courier", "trip"]).size()
    courier, trip = trips.index[0]
    drop = (rt.courier == courier) & (rt.trip == trip) & (rt.kind == "delivery")
    bad = type(r)(assignments=r.assignments, routes=rt[~drop], cost=r.cost, stats=r.stats)
    found = find_violations(P, bad)
    assert Violation(f"courier {courier} trip {trip}: stops must be start, pickup, one or more deliveries, end; "
                     "got ['start', 'pickup', 'end']", courier=str(courier), trip=int(trip)) in found
    assert any("served orders and delivery stops differ" in v.message for v in found)


def test_many_violations_are_summarised() -> None:
    found = [Violation(f"order o{i}: wrong", order=f"o{i}") for i in range(25)]
    text = str(PlanCheckError(found, what="the test plan"))
    assert text.startswith("the test plan fails the independent feasibility check with 25 violation(s)")
    assert "order o19: wrong" in text and "order o20: wrong" not in text and "... and 5 more" in text
