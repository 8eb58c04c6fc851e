"""The ``matching`` policy: bundles matched to couriers each epoch, committed only when due.

Days are executed through the MDRP reader on small hand-made instances (files written in
tmp_path) and re-checked by the independent stops checker of tests/bench/test_mdrp.py, which reads
only the instance's text files.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.bench.mdrp import read_mdrp, run_mdrp
from engine.dispatch.matching import MatchingPolicy, time_model
from engine.dispatch.policy import POLICIES, make_policy
from engine.errors import ConfigError
from engine.simulate.execute import FINAL
from engine.simulate.logcheck import check_execution
from engine.solver import Settings
from tests.bench.test_mdrp import (
    SMALLEST,
    check_stops,
    needs_data,
    random_instance,
    tiny,
    write_instance,
)

TOL = 1e-6


def _ctd(run) -> np.ndarray:  # noqa: ANN001
    o = run.day.orders
    return o["arrived_min"].to_numpy(float) - run.instance.created


def test_registered_by_name() -> None:
    assert "matching" in POLICIES
    pol = make_policy("matching", period=2)
    assert isinstance(pol, MatchingPolicy) and pol.name == "matching" and pol.period == 2
    with pytest.raises(ConfigError, match="period"):
        MatchingPolicy(period=0)


def test_matching_beats_first_come_first_served_on_a_hand_made_case(tmp_path: Path) -> None:
    # rA (0,0) and rB (0,3200); both orders placed at 0, ready at 1; o1 is first in line.
    # c1 at (0,640): 2 min to rA, 8 to rB; c2 at (0,-960): 3 min to rA, 13 to rB.
    # greedy gives o1 to c1 (2 < 3) and o2 to c2 (13): doors at 2+4+5 = 11 and 13+4+5 = 22;
    # the matching gives o1 to c2 and o2 to c1: doors at 3+4+5 = 12 and 8+4+5 = 17.
    path = write_instance(
        tmp_path / "swap",
        orders=[("o1", 1600, 0, 0, "rA", 1), ("o2", 0, 4800, 0, "rB", 1)],
        restaurants=[("rA", 0, 0), ("rB", 0, 3200)],
        couriers=[("c1", 0, 640, 0, 200), ("c2", 0, -960, 0, 200)],
    )
    inst = read_mdrp(path)
    greedy, match = run_mdrp(inst, "greedy", period=2), run_mdrp(inst, "matching", period=2)
    assert _ctd(greedy).tolist() == [11.0, 22.0]
    assert _ctd(match).tolist() == [12.0, 17.0]
    assert match.row["click_to_door_mean"] < greedy.row["click_to_door_mean"]
    assert dict(zip(match.day.orders["order"], match.day.orders["courier"], strict=True)) == {"o1": "c2", "o2": "c1"}
    for run in (greedy, match):
        assert check_stops(path, run.stops) == []


def test_a_courier_is_not_sent_long_before_the_food_is_ready(tmp_path: Path) -> None:
    # o1 placed at 0, ready at 30; the courier is 2 min from the restaurant: it is committed
    # only when leaving at the next epoch would bring it there after the ready minute
    path = write_instance(
        tmp_path / "wait",
        orders=[("o1", 1600, 0, 0, "r1", 30)],
        restaurants=[("r1", 0, 0)],
        couriers=[("c1", 640, 0, 0, 200)],
    )
    inst = read_mdrp(path)
    greedy, match = run_mdrp(inst, "greedy", period=2), run_mdrp(inst, "matching", period=2)
    assert greedy.day.orders["assigned_min"].tolist() == [0.0]
    assert match.day.orders["assigned_min"].tolist() == [28.0]  # 28 + 2 = 30, exactly when ready
    # and the order is not later for it: pickup 30-34, ride 5 -> door at 39
    assert _ctd(match).tolist() == _ctd(greedy).tolist() == [39.0]
    assert check_stops(path, match.stops) == []


def test_orders_of_one_restaurant_are_bundled_when_couriers_are_few(tmp_path: Path) -> None:
    # three orders ready together at r1, doors on one street, one courier: one trip of three
    orders = [(f"o{k}", 320 * (k + 2), 0, 0, "r1", 10) for k in range(1, 4)]
    path = write_instance(tmp_path / "b", orders, [("r1", 0, 0)], [("c1", 0, 0, 0, 200)])
    run = run_mdrp(read_mdrp(path), "matching", period=2)
    assert run.row["delivered"] == 3 and run.row["orders_per_trip"] == 3
    # drop-off order by cheapest insertion: nearest door first (doors at 3, 4, 5 min from r1)
    drops = run.stops[run.stops["kind"] == "dropoff"]
    assert drops["order"].tolist() == ["o1", "o2", "o3"]
    assert drops["arrive_min"].tolist() == [10 + 4 + 3, 21 + 1, 26 + 1]
    assert check_stops(path, run.stops) == []


def test_no_bundle_that_makes_an_order_much_later(tmp_path: Path) -> None:
    # two orders of r1 ready together, doors in opposite directions 10 min away: a bundle would
    # make the second 24 min later than alone; with two couriers each goes alone
    orders = [("o1", 3200, 0, 0, "r1", 10), ("o2", -3200, 0, 0, "r1", 10)]
    cour = [("c1", 0, 0, 0, 200), ("c2", 0, 0, 0, 200)]
    path = write_instance(tmp_path / "nb", orders, [("r1", 0, 0)], cour)
    run = run_mdrp(read_mdrp(path), "matching", period=2)
    assert run.row["orders_per_trip"] == 1 and _ctd(run).tolist() == [24.0, 24.0]


@pytest.mark.parametrize("seed", [0, 1])
def test_tiny_day_obeys_every_checker_and_is_deterministic(tmp_path: Path, seed: int) -> None:
    path = tiny(tmp_path / "t")
    a = run_mdrp(read_mdrp(path), "matching", period=2, seed=seed)
    b = run_mdrp(read_mdrp(path), "matching", period=2, seed=seed)
    assert check_stops(path, a.stops) == [] and check_execution(a.day) == []
    assert a.stops.equals(b.stops) and a.day.orders.equals(b.day.orders)
    assert a.row["delivered"] == 5 and a.row["orders_per_trip"] > 1


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 14))
def test_random_days_serve_every_order_once_or_report_it(
    tmp_path_factory: pytest.TempPathFactory, seed: int, n: int
) -> None:
    path = random_instance(tmp_path_factory.mktemp("mdrp"), seed, n)
    inst = read_mdrp(path)
    run = run_mdrp(inst, "matching", period=2)
    assert check_stops(path, run.stops) == [] and check_execution(run.day) == []
    o = run.day.orders
    assert o["state"].isin(FINAL).all()
    assert (o.loc[o["state"] != "delivered", "reason"] != "").all()  # not delivered: said why
    drops = run.stops[run.stops["kind"] == "dropoff"]
    assert sorted(drops["order"]) == sorted(o.loc[o["state"] == "delivered", "order"])
    # no pickup starts before the food is ready (the pickup service ends at picked_min)
    ok = o["state"] == "delivered"
    start = o["picked_min"].to_numpy(float) - inst.rules.pickup_service_min
    assert (start[ok] >= o["ready_min"].to_numpy(float)[ok] - TOL).all()
    assert (_ctd(run)[ok] >= inst.lower_bound()[ok] - TOL).all()


def test_time_model_reads_the_problem_and_falls_back_without_the_fields(tmp_path: Path) -> None:
    # an MDRP problem carries the pickup service (4 min per restaurant) and the off times (#15.1)
    P = read_mdrp(tiny(tmp_path / "t")).problem
    tm = time_model(P, 2.0)
    assert tm.pickup_planned.tolist() == [4, 4] and tm.pickup_extra.tolist() == [0, 0]
    assert tm.latest_pickup.tolist() == [120, 200]  # the couriers' off times
    # a problem without those fields: no pickup service in the plan, the fallback added on top
    Q = SimpleNamespace(warehouse_ids=P.warehouse_ids, n_couriers=P.n_couriers)
    tm = time_model(Q, 2.0)  # type: ignore[arg-type]
    assert tm.pickup_planned.tolist() == [0, 0] and tm.pickup_extra.tolist() == [2, 2]
    assert np.isinf(tm.latest_pickup).all()


def test_knobs_reach_the_policy_through_the_settings(tmp_path: Path) -> None:
    # with bundles of one order only, the three orders of r1 go on three trips
    orders = [(f"o{k}", 320 * (k + 2), 0, 0, "r1", 10) for k in range(1, 4)]
    path = write_instance(tmp_path / "k", orders, [("r1", 0, 0)], [("c1", 0, 0, 0, 200)])
    run = run_mdrp(read_mdrp(path), "matching", period=2, settings=Settings(options={"max_bundle": 1}))
    assert run.row["orders_per_trip"] == 1 and run.row["delivered"] == 3


@needs_data
def test_smallest_shared_instance_obeys_the_rules_and_beats_greedy() -> None:
    inst = read_mdrp(SMALLEST)
    match, greedy = run_mdrp(inst, "matching", period=2), run_mdrp(inst, "greedy", period=2)
    assert check_stops(SMALLEST, match.stops) == [] and check_execution(match.day) == []
    assert match.row["delivered"] >= greedy.row["delivered"]
    assert match.row["click_to_door_mean"] < greedy.row["click_to_door_mean"]


# ---- beyond MDRP: fleet couriers with a home warehouse, noise, declines, no-shows -------------------


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 14), n_fleet=st.integers(0, 2), n_crowd=st.integers(0, 3),
       cv=st.sampled_from([0.0, 0.3]), late=st.sampled_from([0.0, 30.0]))
def test_mixed_fleets_execute_consistent_days(seed: int, n: int, n_fleet: int, n_crowd: int, cv: float,
                                              late: float) -> None:
    from engine.dispatch import problem_from_frames
    from engine.simulate.execute import ExecutionParams, execute_problem_day
    from tests.dispatch.helpers import tiny_frames

    wh, orders, couriers = tiny_frames(seed, n=n, n_fleet=n_fleet, n_crowd=n_crowd)
    P = problem_from_frames(wh, orders, couriers, assign_crowd=False)
    created = orders["ready_min"].to_numpy(float) - 8.0
    params = ExecutionParams(travel_noise_cv=cv, max_late_min=late, crowd_no_show=0.2, pickup_service_min=2.0)
    day = execute_problem_day(P, created, make_policy("matching", period=5), params, seed=seed)  # checked each epoch
    assert check_execution(day) == []
    assert day.orders["state"].isin(FINAL).all()


def test_an_instance_day_with_replications(tmp_path: Path) -> None:
    from engine.instance import load_instance
    from engine.simulate.replicate import execute_day
    from tests.helpers import tiny_copy
    from tests.simulate.test_replicate import _allocated

    inst = load_instance(tiny_copy(tmp_path))
    alloc = _allocated(inst)
    a = execute_day(inst, alloc, policy="matching", replications=2, seed=3)
    b = execute_day(inst, alloc, policy="matching", replications=2, seed=3)
    assert a.outcomes.equals(b.outcomes) and len(a.outcomes) == 2 * len(alloc)
    for day in a.days:
        assert check_execution(day) == []


def test_the_commands_accept_it(tmp_path: Path) -> None:
    import pandas as pd
    from typer.testing import CliRunner

    from engine.cli import app
    from engine.pipeline import RunSettings

    assert RunSettings(policy="matching").policy == "matching"  # nearstock run --policy matching
    path = tiny(tmp_path / "inst" / "t")
    out, stops = tmp_path / "r.csv", tmp_path / "s.csv"
    res = CliRunner().invoke(app, ["bench", "mdrp", str(path), "--policy", "matching", "--out", str(out),
                                   "--stops-out", str(stops)])
    assert res.exit_code == 0, res.output
    assert pd.read_csv(out)[["policy", "delivered"]].values.tolist() == [["matching", 5]]
    assert check_stops(path, pd.read_csv(stops)) == []
