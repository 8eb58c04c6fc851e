"""End to end on a tiny instance: forecast → stocking → dispatch → simulate → scorecard → files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from engine import RunSettings, Settings, load_instance, run
from engine.cli import app
from engine.errors import ConfigError
from engine.quality import INDICATORS
from tests.helpers import tiny_copy

FAST = dict(forecast=Settings(backend="seasonal_naive"), stocking=Settings(backend="highs", time_limit=5),
            dispatch=Settings(backend="ortools", time_limit=0.5), replications=2, scenarios=10)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    inst = load_instance(tiny_copy(tmp_path_factory.mktemp("run")))
    return inst, run(inst, RunSettings(seed=3, **FAST))


def test_every_order_accounted_for(tiny_run) -> None:
    inst, res = tiny_run
    day_orders = inst.orders[inst.orders["date"] == pd.Timestamp(inst.manifest.planning.start_date)]
    assert set(res.allocated["id"]) == set(day_orders["id"])
    asg = res.dispatch.assignments
    assert len(asg) == len(res.allocated) and asg["order"].is_unique
    unserved = asg[asg["status"] == "unserved"]
    assert unserved["reason"].notna().all() and (unserved["reason"] != "").all()
    assert res.simulation.outcomes.groupby("replication").size().eq(len(res.allocated)).all()


def test_stock_within_capacity(tiny_run) -> None:
    inst, res = tiny_run
    plan = res.stocking.to_frame()
    vol = plan.merge(inst.skus[["id", "unit_volume_m3"]], left_on="sku", right_on="id")
    used = (vol["units"] * vol["unit_volume_m3"]).groupby(vol["warehouse"]).sum()
    cap = inst.forward_warehouses.set_index("id")["capacity_m3"]
    assert (used <= cap.reindex(used.index) + 1e-9).all()


def test_scorecard_complete(tiny_run) -> None:
    _, res = tiny_run
    assert list(res.scorecard.rows["indicator"]) == [i.name for i in INDICATORS]
    assert 0 <= res.scorecard.index <= 100
    summary = res.summary()
    for stage in ("forecast", "stocking", "dispatch"):
        assert {"backend", "status", "objective", "bound", "gap", "wall_seconds"} <= set(summary[stage])


def test_write_is_complete_and_json_safe(tiny_run, tmp_path: Path) -> None:
    _, res = tiny_run
    out = res.write(tmp_path / "out")
    names = {p.name for p in out.iterdir()}
    assert {"run.json", "forecast.csv", "stock_plan.csv", "assignments.csv", "routes.csv", "outcomes.csv",
            "tracking_events.csv", "scorecard.csv", "courier_manifest.csv"} <= names
    data = json.loads((out / "run.json").read_text())
    assert data["summary"]["orders"] == len(res.allocated)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_unknown_day_is_a_clear_error(tiny_run) -> None:
    import datetime as dt

    inst, _ = tiny_run
    with pytest.raises(ConfigError, match="no orders on 1999-01-01"):
        run(inst, RunSettings(day=dt.date(1999, 1, 1), **FAST))


def test_cli_run_and_report(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["run", str(root), "--out", str(out), "--forecast", "seasonal_naive",
                                   "--stocking", "highs", "--dispatch", "ortools", "--dispatch-time-limit", "0.5",
                                   "--replications", "2", "--scenarios", "10", "--seed", "1"])
    assert res.exit_code == 0, res.output
    assert "service quality index" in res.output
    res = CliRunner().invoke(app, ["report", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "report.html").stat().st_size > 10_000


def test_cli_run_unknown_backend(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    res = CliRunner().invoke(app, ["run", str(root), "--out", str(tmp_path / "x"), "--stocking", "gurobi"])
    assert res.exit_code == 1
    assert "unknown stocking back-end 'gurobi'" in res.output
    assert not (tmp_path / "x").exists()


def test_second_day_plans_with_the_first_days_orders_as_history(tiny_run) -> None:
    import datetime as dt

    from engine.pipeline import history_until

    inst, _ = tiny_run
    start = inst.manifest.planning.start_date
    day2 = start + dt.timedelta(days=1)
    hist = history_until(inst, day2)
    first = inst.orders[inst.orders["date"] == pd.Timestamp(start)]
    assert hist.loc[hist["date"] == pd.Timestamp(start), "quantity"].sum() == first["quantity"].sum()
    assert history_until(inst, start) is inst.demand
    res = run(inst, RunSettings(day=day2, seed=3, **FAST))
    assert res.day == day2
    assert pd.to_datetime(res.forecast.to_frame()["date"]).min() == pd.Timestamp(day2)
