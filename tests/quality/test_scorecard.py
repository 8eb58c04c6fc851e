"""Indicators on hand-made outcomes whose answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.instance import DEFAULT_WEIGHTS
from engine.quality import (
    DECISIONS,
    INDICATOR_BY_NAME,
    INDICATORS,
    Context,
    build_scorecard,
    default_targets,
    mean_ci,
)

CTX = Context(peak_windows=((1140.0, 1260.0),), export_privacy=1.0)
DEFAULT_TARGETS = default_targets()


def outcomes(n: int = 10, replication: int = 0, **cols) -> pd.DataFrame:
    base = dict(
        replication=replication, order=[f"O{i}" for i in range(n)], source="forward", special=False,
        high_value=False, allowed_courier=True, created_min=600.0, assigned_min=610.0, due_min=660.0,
        planned_arrive_min=640.0, delivered_min=641.0, state="delivered",
        on_time=True, instant=True, trail_complete=True, returned=False, return_picked_on_time=False,
        claim=False, claim_resolved_on_time=False, courier_kind="fleet",
    )
    base.update(cols)
    return pd.DataFrame({k: (v if isinstance(v, (list, np.ndarray)) else [v] * n) for k, v in base.items()})


def value(name: str, o: pd.DataFrame, ctx: Context = CTX) -> float:
    return INDICATOR_BY_NAME[name].compute(o, ctx)


def test_on_time_and_instant_shares() -> None:
    o = outcomes(on_time=[True] * 7 + [False] * 3, instant=[True] * 5 + [False] * 5)
    assert value("on_time_rate", o) == pytest.approx(0.7)
    assert value("instant_delivery_rate", o) == pytest.approx(0.5)


def test_forward_fill_and_damage() -> None:
    o = outcomes(source=["forward"] * 8 + ["central"] * 2, state=["delivered"] * 8 + ["damaged", "lost"])
    assert value("forward_fill_rate", o) == pytest.approx(0.8)
    assert value("damage_loss_rate", o) == pytest.approx(0.2)


def test_special_goods_only_among_special_orders() -> None:
    o = outcomes(special=[True] * 4 + [False] * 6, allowed_courier=[True, True, False, True] + [False] * 6,
                 on_time=[True, False, True, True] + [True] * 6, state=["delivered"] * 3 + ["damaged"] + ["delivered"] * 6)
    assert value("special_handling_compliance", o) == pytest.approx(2 / 4)  # allowed and undamaged
    assert value("special_goods_on_time", o) == pytest.approx(2 / 4)  # on time and allowed


def test_peak_assignment_p95_uses_peak_orders_only() -> None:
    created = np.array([600.0] * 5 + [1150.0] * 5)
    assigned = created + np.array([100.0] * 5 + [1, 2, 3, 4, 5])
    o = outcomes(created_min=created, assigned_min=assigned)
    assert value("peak_assignment_p95_min", o) == pytest.approx(np.percentile([1, 2, 3, 4, 5], 95))
    # central-DC orders are not coordinated by the couriers of the day
    o2 = outcomes(created_min=np.r_[created, 1150.0], assigned_min=np.r_[assigned, np.nan], n=11,
                  source=["forward"] * 10 + ["central"])
    assert value("peak_assignment_p95_min", o2) == pytest.approx(value("peak_assignment_p95_min", o))


def test_an_order_no_courier_accepted_counts_as_waiting_until_its_promise() -> None:
    created = np.full(10, 1150.0)
    assigned = created + np.arange(1.0, 11.0)
    due = created + 60.0
    fast = value("peak_assignment_p95_min", outcomes(created_min=created, assigned_min=assigned, due_min=due))
    assigned[-1] = np.nan  # moved to the slow tier without an accepted assignment
    left = value("peak_assignment_p95_min", outcomes(created_min=created, assigned_min=assigned, due_min=due))
    assert left > fast  # giving up on an order never improves coordination
    assert left == pytest.approx(np.percentile(np.r_[np.arange(1.0, 10.0), 60.0], 95))


def test_returns_share_is_over_returns() -> None:
    o = outcomes(returned=[True, True, False, False] + [False] * 6, return_picked_on_time=[True, False] + [False] * 8)
    assert value("returns_tracked_rate", o) == pytest.approx(0.5)


def test_scorecard_ci_targets_and_index() -> None:
    reps = [outcomes(replication=r, on_time=[True] * (8 + r % 2) + [False] * (2 - r % 2)) for r in range(4)]
    card = build_scorecard(pd.concat(reps), CTX, targets=DEFAULT_TARGETS, weights=DEFAULT_WEIGHTS)
    row = card.rows.set_index("indicator").loc["on_time_rate"]
    assert row["value"] == pytest.approx(0.85)
    assert row["ci_low"] < 0.85 < row["ci_high"]
    assert not row["passed"]  # target 0.98
    assert row["moved_by"] == INDICATOR_BY_NAME["on_time_rate"].moved_by
    assert row["score"] == pytest.approx(0.85 / 0.98)
    assert 0 <= card.index <= 100
    assert card.replications == 4
    d = card.to_dict()
    assert d["index"] == card.index and len(d["indicators"]) == len(card.rows)


def test_perfect_service_scores_100() -> None:
    o = outcomes(special=[True] * 2 + [False] * 8, high_value=[True] + [False] * 9,
                 returned=[True] + [False] * 9, return_picked_on_time=[True] + [False] * 9, created_min=1150.0)
    card = build_scorecard(pd.concat([o, o.assign(replication=1)]), CTX, targets=DEFAULT_TARGETS, weights=DEFAULT_WEIGHTS)
    measured = card.rows[card.rows["value"].notna()]
    assert measured["passed"].all()
    assert set(card.rows.loc[card.rows["value"].isna(), "indicator"]) == {"claims_resolved_rate"}  # no claims: n/a
    assert card.index == pytest.approx(100.0)


def test_mean_ci() -> None:
    m, lo, hi = mean_ci(np.array([1.0, 2.0, 3.0]))
    assert m == 2.0 and lo < 2.0 < hi
    assert mean_ci(np.array([5.0])) == (5.0, 5.0, 5.0)


def test_quality_doc_matches_indicators() -> None:
    from engine.quality.indicators import indicators_markdown
    from tests.helpers import REPO

    doc = (REPO / "docs" / "quality.md").read_text()
    start = doc.index("<!-- generated from engine/quality/indicators.py: indicators_markdown() -->")
    end = doc.index("<!-- end generated -->")
    assert doc[start:end].split("\n", 1)[1].strip() == indicators_markdown().strip()


def test_eta_error_p90_is_executed_arrival_against_the_eta_given_at_assignment() -> None:
    eta = np.full(10, 700.0)
    arrived = eta + np.array([1.0, -2.0, 3.0, -4.0, 5.0, 6.0, -7.0, 8.0, 9.0, np.nan])  # the last one was lost
    o = outcomes(planned_arrive_min=eta, delivered_min=arrived)
    assert value("eta_error_p90_min", o) == pytest.approx(np.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9], 90))
    # the DC carrier's orders had no ETA from a courier of the day: not counted
    o2 = outcomes(planned_arrive_min=np.r_[eta[:9], np.nan], delivered_min=np.r_[arrived[:9], 2000.0])
    assert value("eta_error_p90_min", o2) == pytest.approx(value("eta_error_p90_min", o))


def test_claims_and_damage_by_courier() -> None:
    from engine.quality.indicators import damage_by_courier

    o = outcomes(claim=[True, True, True, True] + [False] * 6, claim_resolved_on_time=[True, True, True, False] + [False] * 6,
                 state=["damaged", "lost", "damaged", "damaged"] + ["delivered"] * 6,
                 courier_kind=["crowd", "crowd", "fleet", "fleet"] + ["fleet"] * 4 + ["crowd"] * 2)
    assert value("claims_resolved_rate", o) == pytest.approx(0.75)
    d = damage_by_courier(pd.concat([o, o.assign(replication=1)])).set_index("courier_kind")
    assert d.loc["crowd", "orders"] == 4 and d.loc["crowd", "lost"] == 1 and d.loc["crowd", "damage_loss_rate"] == pytest.approx(0.5)
    assert d.loc["fleet", "damage_loss_rate"] == pytest.approx(2 / 6)


def test_every_indicator_names_the_decisions_that_move_it() -> None:
    for ind in INDICATORS:
        assert ind.decisions, ind.name
        assert set(ind.decisions) <= set(DECISIONS), (ind.name, ind.decisions)
    assert {d for i in INDICATORS for d in i.decisions} == set(DECISIONS)  # every decision moves something


def test_high_value_intact_rate_counts_damage_and_loss() -> None:
    o = outcomes(high_value=[True] * 4 + [False] * 6, state=["delivered", "damaged", "lost", "delivered"] + ["lost"] * 6)
    assert value("high_value_intact_rate", o) == pytest.approx(2 / 4)
    o = outcomes(high_value=[True] * 4 + [False] * 6, allowed_courier=[True, False, True, True] + [True] * 6)
    assert value("high_value_intact_rate", o) == pytest.approx(3 / 4)


def test_default_targets_agree_with_the_manifest_where_both_name_one() -> None:
    from engine.instance.manifest import DEFAULT_TARGETS as MANIFEST_TARGETS

    for name, target in default_targets().items():
        if name in MANIFEST_TARGETS:
            assert MANIFEST_TARGETS[name] == pytest.approx(target), name
    assert default_targets()["high_value_intact_rate"] == 0.995 and default_targets()["export_privacy"] == 1.0


def test_a_target_the_instance_does_not_set_falls_back_to_the_default() -> None:
    o = outcomes()
    targets = {k: v for k, v in DEFAULT_TARGETS.items() if k != "on_time_rate"}
    card = build_scorecard(pd.concat([o, o.assign(replication=1)]), CTX, targets=targets, weights=DEFAULT_WEIGHTS)
    assert card.rows.set_index("indicator").loc["on_time_rate", "target"] == 0.98


def test_quality_doc_says_how_decisions_move_every_indicator() -> None:
    from tests.helpers import REPO

    doc = (REPO / "docs" / "quality.md").read_text()
    section = doc[doc.index("## What moves each indicator"):doc.index("## Composite index")].lower()
    for ind in INDICATORS:
        assert ind.label.lower() in section, ind.label
    for decision in DECISIONS:
        assert f"**{decision}**" in section, decision


def test_scorecard_per_segment() -> None:
    seg = ["repeat"] * 2 + ["new"] * 8
    a = outcomes(segment=seg, on_time=[True, True] + [True] * 4 + [False] * 4)
    b = outcomes(replication=1, segment=seg, on_time=[True, False] + [True] * 6 + [False] * 2)
    card = build_scorecard(pd.concat([a, b], ignore_index=True), CTX, targets=DEFAULT_TARGETS,
                           weights=DEFAULT_WEIGHTS)
    per = card.to_frame(per_segment=True)
    assert card.to_frame() is card.rows
    assert set(per["segment"]) == {"repeat", "new"}
    assert "export_privacy" not in set(per["indicator"])  # a property of the export, not of orders
    on = per[per["indicator"] == "on_time_rate"].set_index("segment")
    assert on.loc["repeat", "value"] == pytest.approx((1.0 + 0.5) / 2)
    assert on.loc["new", "value"] == pytest.approx((0.5 + 0.75) / 2)
    assert on.loc["repeat", "orders"] == 2 and on.loc["new", "orders"] == 8
    assert on.loc["new", "ci_low"] < on.loc["new", "value"] < on.loc["new", "ci_high"]
    assert not on["passed"].any() and (on["target"] == DEFAULT_TARGETS["on_time_rate"]).all()
    # the whole day is the order-weighted mix of its segments
    day = card.rows.set_index("indicator").loc["on_time_rate", "value"]
    assert day == pytest.approx((on["value"] * on["orders"]).sum() / on["orders"].sum())
    recs = card.to_dict()["segments"]
    assert len(recs) == len(per) and {"segment", "orders", "indicator", "value"} <= set(recs[0])
