"""Sparse scenario storage into the stocking problem; the whole-command time limit."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pytest

from engine.forecast import forecast
from engine.forecast.scenarios import SparseScenarios
from engine.solver import Settings
from engine.stocking import build_problem
from engine.stocking.plan import plan_stock

SMALL = Path(__file__).resolve().parents[2] / "instances" / "metro-small"


def _forecast(inst, method: str, k: int = 12):
    m = inst.manifest
    return forecast(inst.demand, horizon=m.planning.horizon_days, start=m.planning.start_date, events=inst.events,
                    n_scenarios=k, settings=Settings(backend=method, seed=4, options={"hier_base": "ses"}))


@pytest.mark.parametrize("method", ["hierarchical", "seasonal_naive"])
def test_sparse_scenarios_build_the_same_problem_as_dense(metro_small, method):
    fc = _forecast(metro_small, method)
    dense_sc = np.asarray(fc.scenarios)
    sparse_sc = fc.scenarios if isinstance(fc.scenarios, SparseScenarios) else SparseScenarios.from_dense(dense_sc)
    a = build_problem(metro_small, dataclasses.replace(fc, scenarios=dense_sc), cycle_days=2, scenarios=10)
    b = build_problem(metro_small, dataclasses.replace(fc, scenarios=sparse_sc), cycle_days=2, scenarios=10)
    assert a.demand.shape == b.demand.shape == (len(metro_small.skus), len(metro_small.zones), 10)
    np.testing.assert_array_equal(a.demand, b.demand)
    assert a.demand.sum() > 0


def test_tiny_limit_returns_a_plan_with_its_status_within_the_stated_margin(metro_small):
    limit = 1.5
    t0 = time.perf_counter()
    run = plan_stock(metro_small, backend="decomp", scenarios=10, time_limit=limit, process_start_age=0.0)
    wall = time.perf_counter() - t0
    assert run.result.units.shape == (len(metro_small.skus), len(metro_small.forward_warehouses))
    assert run.result.stats.status in ("optimal", "feasible", "time_limit")
    assert run.result.stats.objective is not None
    # never past the limit by more than the stated margin (the solver's minimum + the write reserve)
    assert run.overrun_margin_s == pytest.approx(3.0)
    # load, build and the first forecast candidate cannot be interrupted: on a machine so busy that
    # they alone pass the limit, the margin counts from their end
    before_solve = sum(s.seconds for s in run.stages if s.name != "solve")
    assert wall <= max(limit, before_solve) + run.overrun_margin_s, run.stage_frame().to_string()
    names = [s.name for s in run.stages]
    assert names == ["load", "forecast", "build", "solve"]
    assert all(s.peak_rss_mb > 0 and s.seconds >= 0 for s in run.stages)
    solve = run.stages[-1]
    assert solve.budget_s is not None and solve.budget_s >= 1.0


def test_the_solver_gets_what_the_earlier_stages_leave(metro_small):
    run = plan_stock(metro_small, backend="decomp", scenarios=10, time_limit=8.0, process_start_age=0.0,
                     forecast_method="seasonal_naive")
    by = {s.name: s for s in run.stages}
    used = by["load"].seconds + by["forecast"].seconds + by["build"].seconds
    assert by["solve"].budget_s == pytest.approx(max(0.9 * (8.0 - used - 2.0), 1.0), abs=0.05)
    assert run.within_limit


def test_stock_command_json_shows_stages_and_memory(tmp_path):
    from typer.testing import CliRunner

    from engine.cli import app

    out = tmp_path / "plan"
    r = CliRunner().invoke(app, ["stock", str(SMALL), "--backend", "newsvendor", "--scenarios", "8",
                                 "--forecast", "hierarchical", "--time-limit", "3600", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    run = data["run"]
    # in-process, the clock counts from the start of the test process (a real command: its own start)
    assert run["time_limit"] == 3600 and run["within_limit"] is True
    assert run["scenario_storage"] == "sparse"
    stages = [s["stage"] for s in run["stages"]]
    assert stages[-5:] == ["load", "forecast", "build", "solve", "write"]
    assert all(s["peak_rss_mb"] > 0 for s in run["stages"])
    saved = json.loads((out / "result.json").read_text())
    assert [s["stage"] for s in saved["run"]["stages"]][-4:] == ["load", "forecast", "build", "solve"]
    assert data["forecast"]["method"] == "hierarchical"
