"""Building from an instance and a forecast; the `nearstock stock` command."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from engine.errors import ConfigError

SMALL = Path(__file__).resolve().parents[2] / "instances" / "metro-small"


@pytest.fixture(scope="module")
def inst(metro_small):
    return metro_small


def _fake_forecast(inst, K=6, H=3, value=1):
    mi = pd.MultiIndex.from_product([inst.skus["id"].to_numpy(), inst.zones["id"].to_numpy()], names=["sku", "zone"])
    pairs = mi.to_frame(index=False)
    sc = np.full((K, len(pairs), H), value)
    return SimpleNamespace(series=pairs, scenarios=sc)


def test_build_problem_maps_series_and_economics(inst):
    from engine.stocking import build_problem

    fc = _fake_forecast(inst)
    p = build_problem(inst, fc, cycle_days=2, scenarios=4)
    S, W, Z, K = p.shape
    assert (S, Z, K) == (len(inst.skus), len(inst.zones), 4)
    assert W == len(inst.forward_warehouses)
    assert np.all(p.demand == 2.0)  # one unit a day over a 2-day cycle
    st = inst.manifest.stocking
    assert np.allclose(p.fast_value, st.fast_value_base + st.fast_value_rate * inst.skus["unit_value"].to_numpy())
    hv = inst.skus["high_value"].to_numpy(bool)
    no_hv = ~inst.forward_warehouses["allows_high_value"].to_numpy(bool)
    assert not p.allowed[np.ix_(hv, no_hv)].any()


def test_build_problem_rejects_bad_forecasts(inst):
    from engine.stocking import build_problem

    with pytest.raises(ConfigError, match="no demand scenarios"):
        build_problem(inst, SimpleNamespace(series=_fake_forecast(inst).series, scenarios=np.zeros((0, 1, 1))))
    with pytest.raises(ConfigError, match="only 6"):
        build_problem(inst, _fake_forecast(inst), scenarios=50)
    with pytest.raises(ConfigError, match="cycle_days"):
        build_problem(inst, _fake_forecast(inst), cycle_days=9)


def test_stock_command_writes_plan_and_matches_library(inst, tmp_path):
    from typer.testing import CliRunner

    from engine.cli import app

    out = tmp_path / "plan"
    r = CliRunner().invoke(app, ["stock", str(SMALL), "--backend", "newsvendor", "--scenarios", "10",
                                 "--forecast", "seasonal_naive", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["stats"]["backend"] == "newsvendor"
    plan = pd.read_csv(out / "plan.csv")
    assert set(plan.columns) == {"sku", "warehouse", "units", "volume_m3", "value"}
    assert int(plan["units"].sum()) == data["stocked_units"]
    assert (out / "warehouses.csv").exists() and (out / "result.json").exists()


def test_stock_command_bad_backend_exits_1(inst):
    from typer.testing import CliRunner

    from engine.cli import app

    r = CliRunner().invoke(app, ["stock", str(SMALL), "--backend", "nope", "--forecast", "seasonal_naive",
                                 "--scenarios", "5"])
    assert r.exit_code == 1
    assert "unknown stocking back-end" in r.output
