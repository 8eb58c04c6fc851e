"""`nearstock import olist` (JSON equal to the library call) and the baseline comparison table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from engine.cli import app
from engine.importers import baseline_comparison, config_for, import_olist
from engine.instance import load_instance

runner = CliRunner()
ARGS = ["--region", "sp-city", "--scale", "1", "--history-days", "60", "--start-date", "2018-06-01",
        "--max-skus", "4", "--warehouses", "2"]


def test_cli_import_json_equals_library(olist_slice: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    res = runner.invoke(app, ["import", "olist", str(olist_slice), "--out", str(out), *ARGS, "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    assert got["summary"] == load_instance(out).summary()
    lib = import_olist(olist_slice, tmp_path / "lib", config_for(
        "sp-city", scale=1.0, scale_reason="not scaled", history_days=60,
        start_date=pd.Timestamp("2018-06-01").date(), max_skus=4, warehouses=2))
    assert got["summary"] | {"name": ""} == lib.instance.summary() | {"name": ""}
    assert got["notes"]["volume"]["factor"] == 1.0
    for name in ("demand.csv", "zones.csv", "orders.csv", "warehouses.csv"):
        assert (out / name).read_bytes() == (tmp_path / "lib" / name).read_bytes()


def test_cli_bad_source_exits_1(tmp_path: Path) -> None:
    res = runner.invoke(app, ["import", "olist", str(tmp_path / "none"), "--out", str(tmp_path / "x")])
    assert res.exit_code == 1
    assert "not a directory" in " ".join(res.output.split())  # rich wraps long lines
    res = runner.invoke(app, ["import", "olist", str(tmp_path), "--out", str(tmp_path / "x"), "--region", "mars"])
    assert res.exit_code == 1 and "unknown region" in " ".join(res.output.split())


def test_baseline_comparison_puts_real_beside_plan() -> None:
    notes = {"baseline": {
        "orders": 100, "late_share": 0.08, "on_time_share": 0.92,
        "delivery_days_quantiles": {"p10": 3.0, "p25": 5.0, "p50": 10.0, "p75": 14.0, "p90": 20.0},
        "delivery_days_histogram": {"edges_days": [0, 2, 4], "orders": [10, 30, 60]},
    }}
    rows = pd.DataFrame({"indicator": ["on_time_rate"], "value": [0.97]})
    outcomes = pd.DataFrame({"created_min": [0.0, 0.0, 60.0, 0.0], "delivered_min": [30.0, 1440.0, 4380.0, np.nan],
                             "state": ["delivered", "delivered", "delivered", "lost"]})
    t = baseline_comparison(notes, rows, outcomes).set_index("measure")
    assert t.loc["late share", "real"] == 0.08 and abs(t.loc["late share", "plan"] - 0.03) < 1e-12
    assert t.loc["order-to-delivery p50", "real"] == 10.0 and t.loc["order-to-delivery p50", "plan"] == 1.0
    assert t.loc["delivered within 2 days", "real"] == 0.1
    assert abs(t.loc["delivered within 2 days", "plan"] - 2 / 3) < 1e-12
    assert t.loc["orders", "plan"] == 3
    assert baseline_comparison({}, rows).empty
