"""Data protection: every exported file checked field by field against the declared policy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.dispatch.result import ASSIGNMENT_COLUMNS, ROUTE_COLUMNS
from engine.errors import EngineError
from engine.quality import EXPORT_POLICY, FilePolicy, courier_manifest, export_privacy, read_export
from engine.quality.privacy import CLASSES, PrivacyPolicyError, find_emails, find_phones
from engine.simulate import horizon
from engine.simulate.execute import EVENT_COLUMNS, STOP_COLUMNS
from engine.simulate.fulfil import ALLOCATED_COLUMNS
from engine.simulate.replicate import OUTCOME_COLUMNS

ASG = pd.DataFrame({"order": ["A", "B", "C"], "status": ["served", "unserved", "served"], "courier": ["F1", None, "C2"],
                    "trip": [1, None, 1], "stop_seq": [1, None, 1], "warehouse": ["W1", None, "W2"]})
ALLOC = pd.DataFrame({"id": ["A", "B", "C"], "lat": [30.123456, 30.2, 30.3456789], "lon": [120.987654, 120.1, 120.5],
                      "zone": ["Z1", "Z1", "Z2"], "due_min": [700.0, 710.0, 720.0], "size_m3": [0.01, 0.02, 0.03],
                      "special": [False, True, False], "segment": ["member", "standard", "standard"]})


def clean_tables() -> dict[str, pd.DataFrame]:
    """One small, clean table per exported file, with the columns the code writes."""
    n = 3
    outcomes = pd.DataFrame({c: [0] * n for c in OUTCOME_COLUMNS})
    outcomes["order"] = ["A", "B", "C"]
    outcomes["reason"] = ["", "no courier could deliver it before its hard limit (due + max_late_min)", ""]
    outcomes["courier"] = ["F1", "", "C2"]
    events = pd.DataFrame({c: [0] * n for c in EVENT_COLUMNS}).assign(kind="created", order=["A", "B", "C"],
                                                                      lat=[30.123456] * n, lon=[120.98765] * n)
    return {
        "forecast.csv": pd.DataFrame({"date": ["2026-06-01"] * n, "sku": "S1", "zone": "Z1", "mean": 1.5, "q10": 0.0,
                                      "q2.5": 0.0, "q90": 3.0, "method": "ets", "segment": "smooth"}),
        "stock_plan.csv": pd.DataFrame({"sku": ["S1"], "warehouse": ["W1"], "units": [3], "volume_m3": [0.1], "value": [9.0]}),
        "stock_left.csv": pd.DataFrame({"sku": ["S1"], "warehouse": ["W1"], "start_units": [3], "units_left": [1]}),
        "orders_allocated.csv": pd.DataFrame({c: [1.0] * n for c in ALLOCATED_COLUMNS}).assign(id=["A", "B", "C"]),
        "assignments.csv": pd.DataFrame({c: [1.0] * n for c in ASSIGNMENT_COLUMNS}).assign(order=["A", "B", "C"]),
        "routes.csv": pd.DataFrame({c: [1.0] * n for c in [*ROUTE_COLUMNS, "warehouse", "loc"]}),
        "courier_manifest.csv": courier_manifest(ASG, ALLOC),
        "outcomes.csv": outcomes,
        "tracking_events.csv": pd.DataFrame({"order": ["A"], "event": ["created"], "minute": [600.0]}),
        "events.csv": events,
        "indicators_by_replication.csv": pd.DataFrame({"replication": [0], "indicator": ["on_time_rate"],
                                                       "value": [0.9]}),
        "epochs.csv": pd.DataFrame({"t": [420.0], "pending": [3], "available": [2], "offered": [1], "accepted": [1],
                                    "declined": [0], "seconds": [0.05], "status": ["feasible"], "error": [""],
                                    "replication": [0]}),
        "stops.csv": pd.DataFrame({c: [1.0] * n for c in STOP_COLUMNS}).assign(courier="F1"),
        "scorecard.csv": pd.DataFrame({"indicator": ["on_time_rate"], "value": [0.9], "measured_as": ["orders on time"],
                                       "moved_by": ["stocking plan, courier mix"]}),
        "damage_by_courier.csv": pd.DataFrame({"courier_kind": ["fleet"], "orders": [3.0], "damaged": [0.0], "lost": [0.0],
                                               "damage_loss_rate": [0.0]}),
        "warehouses.csv": pd.DataFrame({"id": ["W1"], "kind": ["forward"], "lat": [30.12345], "lon": [120.12345],
                                        "capacity_m3": [10.0], "handling_cost_per_unit": [0.3],
                                        "holding_cost_per_m3_day": [2.0], "allows_high_value": [True]}),
        "zones.csv": pd.DataFrame({"id": ["Z1"], "lat": [30.12345], "lon": [120.12345], "radius_km": [1.0], "weight": [1.0]}),
        "history_top.csv": pd.DataFrame({"date": ["2026-05-01"], "sku": ["S1"], "zone": ["Z1"], "quantity": [2.0]}),
        # nearstock simulate's tables: counts, rates and costs (ids only for sku and warehouse)
        "days.csv": pd.DataFrame({c: [1.0] for c in horizon.DAY_COLUMNS}).assign(date="2026-06-01"),
        "segments.csv": pd.DataFrame({c: [1.0] for c in horizon.SEGMENT_COLUMNS}).assign(segment="member"),
        "stock_days.csv": pd.DataFrame({c: [1] for c in horizon.STOCK_COLUMNS}).assign(sku="S1", warehouse="W1"),
        "index_by_replication.csv": pd.DataFrame({"date": ["2026-06-01"], "replication": [0],
                                                  "service_index": [80.0]}),
        "timings.csv": pd.DataFrame({c: [1.0] for c in horizon.TIMING_COLUMNS}).assign(date="2026-06-01"),
    }


def failed(report) -> set[tuple[str, str, str]]:
    f = report.failures
    return set(zip(f["file"], f["column"], f["check"], strict=True))


def test_a_clean_export_passes_every_check() -> None:
    tables = clean_tables()
    rep = export_privacy(tables)
    assert rep.passed and rep.score == 1.0, rep.failures
    assert set(rep.checks["file"]) == set(tables)
    assert list(rep.to_frame().columns) == ["file", "column", "check", "passed", "detail"]
    assert rep.to_dict()["failed"] == 0
    # the courier-facing file gets the audience and rounding checks, every text column the content scan
    man = rep.checks[rep.checks["file"] == "courier_manifest.csv"]
    assert {"audience_allows", "coordinates_rounded", "no_email", "no_phone"} <= set(man["check"])


def test_the_policy_declares_every_file_and_the_columns_the_code_writes() -> None:
    assert set(EXPORT_POLICY) == {
        "forecast.csv", "stock_plan.csv", "stock_left.csv", "orders_allocated.csv", "assignments.csv", "routes.csv",
        "courier_manifest.csv", "outcomes.csv", "tracking_events.csv", "events.csv", "epochs.csv", "stops.csv",
        "scorecard.csv", "indicators_by_replication.csv",
        "damage_by_courier.csv", "warehouses.csv", "zones.csv", "history_top.csv",
        "days.csv", "segments.csv", "stock_days.csv", "index_by_replication.csv", "timings.csv"}
    for file, cols in [("outcomes.csv", OUTCOME_COLUMNS), ("events.csv", EVENT_COLUMNS), ("stops.csv", STOP_COLUMNS),
                       ("orders_allocated.csv", ALLOCATED_COLUMNS), ("assignments.csv", ASSIGNMENT_COLUMNS),
                       ("routes.csv", ROUTE_COLUMNS)]:
        assert all(EXPORT_POLICY[file].field_class(c) is not None for c in cols), file
    assert EXPORT_POLICY["courier_manifest.csv"].audience == "courier"
    assert {p.audience for f, p in EXPORT_POLICY.items() if f != "courier_manifest.csv"} == {"planner"}
    assert not any(cls == "personal" for p in EXPORT_POLICY.values() for cls in p.columns.values())


def test_a_planted_phone_column_in_outcomes_fails_named() -> None:
    tables = clean_tables()
    tables["outcomes.csv"] = tables["outcomes.csv"].assign(phone="n/a")
    rep = export_privacy(tables)
    assert failed(rep) == {("outcomes.csv", "phone", "column_declared"), ("outcomes.csv", "phone", "not_personal")}
    assert rep.score < 1.0 and not rep.passed


def test_an_email_inside_a_text_cell_fails_named() -> None:
    tables = clean_tables()
    o = tables["outcomes.csv"].copy()
    o.loc[1, "reason"] = "customer ana.souza@example.com.br asked to leave it at the door"
    tables["outcomes.csv"] = o
    rep = export_privacy(tables)
    assert failed(rep) == {("outcomes.csv", "reason", "no_email")}
    assert "ana.souza@example.com.br" in rep.failures.loc[0, "detail"]


def test_a_phone_number_inside_a_text_cell_fails_named() -> None:
    tables = clean_tables()
    tables["tracking_events.csv"] = tables["tracking_events.csv"].assign(event="call +55 (11) 91234-5678 on arrival")
    assert failed(export_privacy(tables)) == {("tracking_events.csv", "event", "no_phone")}


def test_unrounded_manifest_coordinates_fail_named() -> None:
    tables = clean_tables()
    tables["courier_manifest.csv"] = courier_manifest(ASG, ALLOC, decimals=6)
    rep = export_privacy(tables)
    assert failed(rep) == {("courier_manifest.csv", "lat", "coordinates_rounded"),
                           ("courier_manifest.csv", "lon", "coordinates_rounded")}
    assert "more than 3 decimals" in rep.failures.loc[0, "detail"]


def test_more_detail_in_the_manifest_is_an_export_decision_that_fails() -> None:
    tables = clean_tables()
    tables["courier_manifest.csv"] = courier_manifest(ASG, ALLOC, extra_columns=("segment",))
    assert failed(export_privacy(tables)) == {("courier_manifest.csv", "segment", "column_declared")}
    # exact coordinates are fine for planners, not in the courier-facing file
    policy = dict(EXPORT_POLICY)
    policy["courier_manifest.csv"] = FilePolicy("courier", {**EXPORT_POLICY["courier_manifest.csv"].columns,
                                                            "lat": "exact_location"})
    rep = export_privacy({"courier_manifest.csv": courier_manifest(ASG, ALLOC)}, policy)
    assert failed(rep) == {("courier_manifest.csv", "lat", "audience_allows")}
    with pytest.raises(EngineError, match="no column 'phone'"):
        courier_manifest(ASG, ALLOC, extra_columns=("phone",))


def test_the_default_manifest_keeps_only_served_orders_rounded() -> None:
    m = courier_manifest(ASG, ALLOC)
    assert list(m["order"]) == ["C", "A"]  # sorted by courier, trip, stop
    assert m.set_index("order").loc["A", "lat"] == pytest.approx(30.123)
    assert "segment" not in m


def test_an_undeclared_file_fails_and_is_still_scanned() -> None:
    tables = clean_tables()
    tables["customers.csv"] = pd.DataFrame({"order": ["A"], "email": ["x@y.org"]})
    assert failed(export_privacy(tables)) == {("customers.csv", "", "file_declared"),
                                              ("customers.csv", "email", "not_personal"),
                                              ("customers.csv", "email", "no_email")}


def test_a_policy_with_an_unknown_class_is_refused() -> None:
    with pytest.raises(PrivacyPolicyError, match="unknown class 'secret'"):
        FilePolicy("planner", {"x": "secret"})
    with pytest.raises(PrivacyPolicyError, match="unknown audience"):
        FilePolicy("public", {"x": CLASSES[0]})


def test_a_written_export_is_checked_as_read_back(tmp_path) -> None:
    tables = clean_tables()
    for name, frame in tables.items():
        frame.to_csv(tmp_path / name, index=False)
    assert export_privacy(read_export(tmp_path)).passed
    leaky = tables["courier_manifest.csv"].assign(lat=ALLOC.set_index("id").loc[["C", "A"], "lat"].to_numpy())
    leaky.to_csv(tmp_path / "courier_manifest.csv", index=False)
    assert ("courier_manifest.csv", "lat", "coordinates_rounded") in failed(export_privacy(read_export(tmp_path)))


@pytest.mark.parametrize("text", ["+55 11 91234-5678", "(11) 3456-7890", "011 555 1234", "+1-202-555-0143",
                                  "555.123.4567", "11912345678"])
def test_phone_numbers_are_found(text: str) -> None:
    assert find_phones(f"ring {text} twice")


@pytest.mark.parametrize("text", ["2026-06-01", "2026-06-01 10:56:33", "O000123", "S00001-FW01", "1476.81193497",
                                  "due + 120 min", "e481f51cbdc54678b7cc49136f2d6af7", "Z004", "01001"])
def test_ids_dates_and_numbers_are_not_phone_numbers(text: str) -> None:
    assert find_phones(text) == []
    assert find_emails(text) == []


@settings(max_examples=60, deadline=None)
@given(lat=st.floats(-89.0, 89.0), lon=st.floats(-179.0, 179.0), decimals=st.integers(0, 3))
def test_property_rounding_at_or_below_the_policy_passes(lat: float, lon: float, decimals: int) -> None:
    alloc = ALLOC.assign(lat=[lat, 0.0, lat], lon=[lon, 0.0, lon])
    rep = export_privacy({"courier_manifest.csv": courier_manifest(ASG, alloc, decimals=decimals)})
    assert rep.passed, rep.failures
    fine = courier_manifest(ASG, alloc.assign(lat=np.round(lat, 3) + 0.0004), decimals=4)
    assert not export_privacy({"courier_manifest.csv": fine}).passed


@settings(max_examples=30, deadline=None)
@given(file=st.sampled_from(sorted(EXPORT_POLICY)),
       column=st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12), value=st.integers(0, 99))
def test_property_any_planted_field_fails_with_its_file_and_column(file: str, column: str, value: int) -> None:
    tables = clean_tables()
    if column in tables[file].columns or EXPORT_POLICY[file].field_class(column) is not None:
        return  # a declared column is not a planted one
    tables[file] = tables[file].assign(**{column: value})
    rep = export_privacy(tables)
    assert (file, column, "column_declared") in failed(rep)
    assert {(f, c) for f, c, _ in failed(rep)} == {(file, column)}
