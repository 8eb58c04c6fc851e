"""Indicators move with decisions: hand-made outcomes that differ in one decided column, and one
real executed day under two policies."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from engine.instance import DEFAULT_WEIGHTS, load_instance
from engine.quality import (
    Context,
    build_scorecard,
    courier_manifest,
    export_privacy,
    responsive_indicators,
)
from engine.simulate import allocate_orders
from engine.simulate.replicate import OUTCOME_COLUMNS, execute_day
from engine.solver import Settings
from tests.helpers import tiny_copy

PEAK = ((1140.0, 1260.0),)
N = 20


def base() -> pd.DataFrame:
    """A day of 20 forward orders created in the peak, two identical replications."""
    i = np.arange(N, dtype=float)
    created = np.full(N, 1150.0)
    o = pd.DataFrame({c: np.zeros(N) for c in OUTCOME_COLUMNS})
    o = o.assign(order=[f"O{k}" for k in range(N)], source="forward", warehouse="W1", segment="standard",
                 special=i < 4, fragile=i < 2, high_value=i < 2, served_by_plan=True, courier="F1",
                 courier_kind="fleet", allowed_courier=True, created_min=created, ready_min=created,
                 due_min=created + 60, assigned_min=created + 1 + i, planned_arrive_min=created + 40,
                 delivered_min=created + 40 + (i % 7) - 3, late_min=0.0, declined=False, no_show=False,
                 state="delivered", on_time=True, instant=True, eta_error_min=np.nan, trail_complete=True,
                 returned=i < 2, return_picked_on_time=i < 2, claim=False, claim_resolved_on_time=False, reason="")
    return pd.concat([o.assign(replication=0), o.assign(replication=1)], ignore_index=True)


def card(o: pd.DataFrame, privacy: float = 1.0):
    return build_scorecard(o, Context(PEAK, export_privacy=privacy), targets={}, weights=DEFAULT_WEIGHTS)


def _tail(o: pd.DataFrame, k: int) -> np.ndarray:
    return (o["order"].str[1:].astype(int) >= N - k).to_numpy()


VARIANTS = {
    # the stocking plan: five orders ship from the central DC instead (they leave the couriers' peak)
    "source": (lambda o: o.assign(source=np.where(_tail(o, 5), "central", "forward")),
               {"forward_fill_rate", "peak_assignment_p95_min"}),
    # the dispatch policy / period: the same orders accepted ten minutes later
    "assigned_min": (lambda o: o.assign(assigned_min=o["assigned_min"] + 10), {"peak_assignment_p95_min"}),
    # the ETA a different plan gives at the accepted assignment
    "planned_arrive_min": (lambda o: o.assign(planned_arrive_min=o["planned_arrive_min"] - 8), {"eta_error_p90_min"}),
    # the courier mix: the special / high-value order 0 carried by a courier not allowed to
    "allowed_courier": (lambda o: o.assign(allowed_courier=o["order"] != "O0"),
                        {"special_handling_compliance", "special_goods_on_time", "high_value_intact_rate"}),
}


@pytest.mark.parametrize("column", list(VARIANTS))
def test_outcomes_differing_in_one_decided_column_move_exactly_its_indicators(column: str) -> None:
    change, expected = VARIANTS[column]
    a = base()
    b = change(a)
    assert [c for c in a.columns if not a[c].equals(b[c])] == [column]
    assert set(responsive_indicators(card(a), card(b))) == expected


def test_an_export_decision_moves_data_protection_only() -> None:
    asg = pd.DataFrame({"order": ["A"], "status": ["served"], "courier": ["F1"], "trip": [1], "stop_seq": [1],
                        "warehouse": ["W1"]})
    alloc = pd.DataFrame({"id": ["A"], "lat": [30.123456], "lon": [120.987654], "zone": ["Z1"], "due_min": [700.0],
                          "size_m3": [0.01], "special": [False]})
    tight = export_privacy({"courier_manifest.csv": courier_manifest(asg, alloc)}).score
    loose = export_privacy({"courier_manifest.csv": courier_manifest(asg, alloc, decimals=6)}).score
    assert tight == 1.0 > loose
    o = base()
    assert responsive_indicators(card(o, tight), card(o, loose)) == ("export_privacy",)


def test_identical_scorecards_have_no_responsive_indicator_and_nan_to_value_counts() -> None:
    o = base()
    assert responsive_indicators(card(o), card(o)) == ()
    no_returns = o.assign(returned=False)
    assert "returns_tracked_rate" in responsive_indicators(card(o), card(no_returns))


@pytest.fixture(scope="module")
def tiny_day(tmp_path_factory):
    inst = load_instance(tiny_copy(tmp_path_factory.mktemp("resp")))
    day = inst.orders["date"].min()
    orders = inst.orders[inst.orders["date"] == day].reset_index(drop=True)
    stock = pd.DataFrame([(s, w, 3) for s in inst.skus["id"] for w in inst.forward_warehouses["id"]],
                         columns=["sku", "warehouse", "units"])
    alloc = allocate_orders(inst, orders, stock)[0]
    fwd = alloc[alloc["source"] == "forward"]
    # the two busiest hours of the forward orders are the peak
    hours = np.bincount((fwd["created_min"].to_numpy() // 60).astype(int), minlength=24)
    peaks = tuple((float(h * 60), float(h * 60 + 60)) for h in sorted(np.argsort(-hours, kind="stable")[:2]))
    return inst, alloc, Context(peaks, export_privacy=1.0)


def test_an_executed_day_under_two_policies_moves_the_dispatch_indicators(tiny_day) -> None:
    inst, alloc, ctx = tiny_day
    greedy = execute_day(inst, alloc, policy="greedy", period=5, replications=1, seed=4)
    fleet_waves = execute_day(replace(inst, crowd=inst.crowd.iloc[0:0]), alloc, policy="waves", period=30,
                              settings=Settings(backend="pyvrp", time_limit=0.3), replications=1, seed=4)
    a = build_scorecard(greedy.outcomes, ctx, targets={}, weights=DEFAULT_WEIGHTS)
    b = build_scorecard(fleet_waves.outcomes, ctx, targets={}, weights=DEFAULT_WEIGHTS)
    moved = set(responsive_indicators(a, b))
    # other epochs, other couriers, other trips: when orders are accepted, their ETAs and arrivals differ
    assert {"peak_assignment_p95_min", "eta_error_p90_min", "on_time_rate"} <= moved, moved
    waves = fleet_waves.outcomes
    taken = waves["assigned_min"].notna()
    assert np.allclose(waves.loc[taken, "assigned_min"] % 30, waves.loc[taken, "assigned_min"].iloc[0] % 30)
    # the same stock and the same export: what only those decisions move stays put
    assert not moved & {"forward_fill_rate", "export_privacy"}
