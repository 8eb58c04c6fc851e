"""Loading and validation: valid instances load; each defect is reported with file, line, column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from engine.errors import InstanceError
from engine.instance import load_instance, validate_instance
from tests.helpers import REPO, edit_csv, set_cell, tiny_copy

SHIPPED = sorted(p.name for p in (REPO / "instances").iterdir() if (p / "instance.toml").exists())


def test_every_shipped_instance_is_checked() -> None:
    assert {"metro-small", "metro-medium", "metro-river", "olist-sp", "olist-sp-city"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_instances_are_valid(name: str) -> None:
    inst = load_instance(REPO / "instances" / name)
    assert inst.name == name
    assert (inst.warehouses["kind"] == "central").sum() == 1
    assert len(inst.forward_warehouses) >= 1
    assert inst.demand["quantity"].ge(0).all()
    assert inst.demand["date"].max() < pd.Timestamp(inst.manifest.planning.start_date)
    assert len(inst.orders) > 0


def test_typed_columns(tmp_path: Path) -> None:
    inst = load_instance(tiny_copy(tmp_path))
    assert inst.skus["fragile"].dtype == bool
    assert str(inst.demand["date"].dtype).startswith("datetime64")
    assert inst.fleet["capacity_m3"].dtype == float
    assert inst.orders["quantity"].dtype == "int64"


def _remove(name: str):
    def apply(root: Path) -> None:
        (root / name).unlink()
    return apply


def _drop_column(name: str, column: str):
    def apply(root: Path) -> None:
        edit_csv(root / name, lambda f: f.drop(columns=[column]))
    return apply


def _cell(name: str, line: int, column: str, value: str):
    def apply(root: Path) -> None:
        set_cell(root / name, line, column, value)
    return apply


def _duplicate_row(name: str, line: int):
    def apply(root: Path) -> None:
        edit_csv(root / name, lambda f: pd.concat([f, f.iloc[[line - 2]]], ignore_index=True))
    return apply


def _empty(name: str):
    def apply(root: Path) -> None:
        edit_csv(root / name, lambda f: f.iloc[0:0])
    return apply


def _manifest(old: str, new: str):
    def apply(root: Path) -> None:
        p = root / "instance.toml"
        text = p.read_text()
        assert old in text
        p.write_text(text.replace(old, new))
    return apply


# (defect, expected file, line, column, code)
CASES = [
    ("missing file", _remove("skus.csv"), "skus.csv", None, None, "missing_file"),
    ("missing column", _drop_column("zones.csv", "lat"), "zones.csv", 1, "lat", "missing_column"),
    ("non-numeric quantity", _cell("demand.csv", 5, "quantity", "abc"), "demand.csv", 5, "quantity", "not_a_number"),
    ("NaN coordinate", _cell("zones.csv", 3, "lat", "nan"), "zones.csv", 3, "lat", "not_finite"),
    ("out-of-range coordinate", _cell("zones.csv", 2, "lon", "190"), "zones.csv", 2, "lon", "out_of_range"),
    ("duplicate id", _duplicate_row("skus.csv", 3), "skus.csv", 10, "id", "duplicate_key"),
    ("duplicate demand key", _duplicate_row("demand.csv", 4), "demand.csv", None, "date,sku,zone", "duplicate_key"),
    ("unknown courier warehouse", _cell("fleet.csv", 2, "warehouse", "FW99"), "fleet.csv", 2, "warehouse", "unknown_reference"),
    ("unknown demand sku", _cell("demand.csv", 7, "sku", "S99999"), "demand.csv", 7, "sku", "unknown_reference"),
    ("window open after close", _cell("crowd.csv", 3, "available_from_min", "1439"), "crowd.csv", 3, "available_to_min", "window_order"),
    ("shift ends before it starts", _cell("fleet.csv", 2, "shift_end_min", "100"), "fleet.csv", 2, "shift_end_min", "window_order"),
    ("negative capacity", _cell("fleet.csv", 3, "capacity_m3", "-1"), "fleet.csv", 3, "capacity_m3", "out_of_range"),
    ("negative warehouse capacity", _cell("warehouses.csv", 2, "capacity_m3", "-0.5"), "warehouses.csv", 2, "capacity_m3", "out_of_range"),
    ("empty demand history", _empty("demand.csv"), "demand.csv", None, None, "empty_table"),
    ("bad boolean", _cell("skus.csv", 2, "fragile", "maybe"), "skus.csv", 2, "fragile", "not_a_bool"),
    ("bad date", _cell("demand.csv", 2, "date", "2026-13-40"), "demand.csv", 2, "date", "not_a_date"),
    ("bad kind", _cell("warehouses.csv", 3, "kind", "satellite"), "warehouses.csv", 3, "kind", "bad_choice"),
    ("empty cell", _cell("skus.csv", 4, "unit_value", ""), "skus.csv", 4, "unit_value", "missing_value"),
    ("unknown segment", _cell("orders.csv", 2, "segment", "vip"), "orders.csv", 2, "segment", "unknown_reference"),
    ("manifest start date missing", _manifest("start_date = ", "startdate = "), "instance.toml", None, "planning.start_date", "missing_key"),
    ("manifest wrong type", _manifest("horizon_days = 7", 'horizon_days = "seven"'), "instance.toml", None, "planning.horizon_days", "wrong_type"),
]


@pytest.mark.parametrize(("label", "defect", "file", "line", "column", "code"), CASES, ids=[c[0] for c in CASES])
def test_one_defect_is_reported_precisely(tmp_path: Path, label, defect, file, line, column, code) -> None:
    root = tiny_copy(tmp_path)
    defect(root)
    with pytest.raises(InstanceError) as info:
        load_instance(root)
    issues = info.value.issues
    hits = [i for i in issues if i.file == file and i.code == code and i.column == column and (line is None or i.row == line)]
    assert hits, f"{label}: expected {file}:{line}:{column} [{code}], got:\n" + "\n".join(map(str, issues))
    assert str(hits[0]).startswith(file)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    _cell("zones.csv", 2, "lat", "north")(root)
    _cell("fleet.csv", 2, "capacity_m3", "-3")(root)
    _cell("crowd.csv", 2, "acceptance_probability", "1.5")(root)
    _cell("demand.csv", 3, "quantity", "-2")(root)
    issues = validate_instance(root)
    found = {(i.file, i.row, i.column) for i in issues}
    assert {("zones.csv", 2, "lat"), ("fleet.csv", 2, "capacity_m3"),
            ("crowd.csv", 2, "acceptance_probability"), ("demand.csv", 3, "quantity")} <= found


def test_many_bad_rows_are_summarised(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    edit_csv(root / "demand.csv", lambda f: f.assign(quantity="x"))
    issues = validate_instance(root)
    listed = [i for i in issues if i.code == "not_a_number" and i.row is not None]
    summary = [i for i in issues if i.code == "not_a_number" and i.row is None]
    assert len(listed) == 25 and len(summary) == 1 and "more rows" in summary[0].message


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InstanceError) as info:
        load_instance(tmp_path / "nope")
    assert info.value.issues[0].code == "not_a_directory"


def test_coverage_is_by_travel_time(tmp_path: Path) -> None:
    inst = load_instance(tiny_copy(tmp_path))
    cov = inst.coverage()
    mins = inst.warehouse_zone_minutes()
    assert cov.shape == (len(inst.forward_warehouses), len(inst.zones))
    assert ((mins <= inst.manifest.instant_tier.coverage_min) == cov).all().all()
