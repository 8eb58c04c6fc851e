"""Backtest metrics, the CSV entry point and the CLI commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.forecast import ForecastInputError, backtest, read_demand_csv
from engine.forecast.metrics import per_series, summarise

from .helpers import synthetic

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "instances" / "metro-small"


def test_metrics_by_hand() -> None:
    actual = np.array([[2.0, 4.0]])
    mean = np.array([[3.0, 3.0]])
    q = np.array([[[1.0, 3.0, 5.0], [1.0, 3.0, 3.5]]])
    hist = np.array([[1.0, 3.0, 1.0, 3.0]])
    rows = per_series(actual, mean, q, (0.1, 0.5, 0.9), hist, season=1)
    rows["method"] = "m"
    out = summarise(rows, ["method"]).iloc[0]
    assert out["wmape"] == pytest.approx(2 / 6)
    assert out["bias"] == pytest.approx(0.0)
    assert out["mase"] == pytest.approx(1.0 / 2.0)  # MAE 1 over in-sample naive MAE 2
    assert out["coverage_80"] == pytest.approx(0.5)  # 4 > q90 = 3.5
    # pinball: day 1 (y=2): .1*1, .5*1, .1*3 ; day 2 (y=4): .1*3, .5*1, .9*.5 -> mean over levels and days
    assert out["pinball"] == pytest.approx(((0.1 + 0.5 + 0.3) / 3 + (0.3 + 0.5 + 0.45) / 3) / 2)


def test_backtest_table() -> None:
    h = synthetic(n_sku=3, n_zone=2, days=90, level=10)
    r = backtest(h, horizon=7, folds=2, methods=["seasonal_naive", "ets"])
    m = r.to_frame()
    assert set(m["method"]) == {"seasonal_naive", "ets"}
    assert {"all", "0", "1"} <= set(m["fold"]) and "all" in set(m["segment"])
    o = r.overall()
    assert len(o) == 2 and o["wmape"].between(0, 2).all() and o["coverage_80"].between(0, 1).all()
    assert len(r.origins) == 2 and (r.origins[1] - r.origins[0]).days == 7
    json.dumps(r.to_dict())


def test_backtest_too_short() -> None:
    with pytest.raises(ForecastInputError, match="too short"):
        backtest(synthetic(days=20), horizon=14, folds=3)


def test_read_demand_csv(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    synthetic(days=30).drop(columns="zone").to_csv(p, index=False)
    df = read_demand_csv(p)
    assert list(df.columns) == ["date", "sku", "quantity"]
    with pytest.raises(ForecastInputError, match="no such"):
        read_demand_csv(tmp_path / "nope.csv")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ForecastInputError, match="missing column"):
        read_demand_csv(tmp_path / "bad.csv")


def test_cli_backtest_on_csv(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    synthetic(n_sku=2, days=60).to_csv(p, index=False)
    out = tmp_path / "m.csv"
    res = CliRunner().invoke(app, ["backtest", "--demand", str(p), "--methods", "seasonal_naive,ses",
                                   "--horizon", "7", "--folds", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    m = pd.read_csv(out)
    assert set(m["method"]) == {"seasonal_naive", "ses"} and "ses " in res.output
    bad = CliRunner().invoke(app, ["backtest", "--demand", str(p), "--methods", "nope"])
    assert bad.exit_code == 1 and "unknown forecast back-end" in bad.output


@pytest.mark.skipif(not SMALL.exists(), reason="shipped instance not present")
def test_cli_forecast_instance(tmp_path: Path) -> None:
    out = tmp_path / "fc"
    res = CliRunner().invoke(app, ["forecast", str(SMALL), "--horizon", "3", "--out", str(out),
                                   "--method", "ets", "--scenarios", "5"])
    assert res.exit_code == 0, res.output
    fc = pd.read_csv(out / "forecast.csv")
    sc = pd.read_csv(out / "scenarios.csv.gz")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["horizon"] == 3 and summary["n_scenarios"] == 5
    assert fc["mean"].notna().all() and (fc["q90"] >= fc["q10"]).all()
    assert len(sc) == 5 * len(fc) and (sc["quantity"] >= 0).all()


def test_result_frames_and_json() -> None:
    from engine.forecast import forecast

    r = forecast(synthetic(n_sku=2, n_zone=2, days=50), horizon=4, n_scenarios=3)
    f = r.to_frame()
    assert list(f.columns[:4]) == ["date", "sku", "zone", "mean"] and "q50" in f and "method" in f
    sf = r.scenario_frame()
    assert len(sf) == 3 * 4 * 4 and sf["quantity"].sum() == r.scenarios.sum()
    d = json.loads(json.dumps(r.to_dict()))
    assert d["horizon"] == 4 and d["stats"]["status"] == "feasible" and sum(d["chosen"].values()) == 4


def test_backtest_checks_scenario_totals() -> None:
    h = synthetic(n_sku=4, n_zone=3, days=120, level=15, common=0.3, seed=5)
    r = backtest(h, horizon=7, folds=2, methods=["ets"], n_scenarios=200)
    o = r.overall().iloc[0]
    assert 0.4 <= o["sum_coverage_80"] <= 1.0 and 0.0 <= o["sku_sum_coverage_80"] <= 1.0


def test_randomized_pit_is_uniform_for_the_true_distribution() -> None:
    from engine.forecast.metrics import randomized_pit

    rng = np.random.default_rng(3)
    mean = rng.uniform(0.05, 3.0, size=(2000, 5))  # sparse counts: discrete intervals over-cover
    y = rng.poisson(mean).astype(float)
    u = randomized_pit(y, mean, np.full(2000, 1e-3))
    assert abs(((u >= 0.1) & (u <= 0.9)).mean() - 0.8) < 0.02
