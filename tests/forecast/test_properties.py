"""Hypothesis properties of forecast(): finite, non-negative, monotone, right shape, seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.forecast import fit, forecast
from engine.solver import Settings

FAST = ["auto", "seasonal_naive", "moving_average", "ses", "ets", "croston", "sba", "tsb"]


@st.composite
def histories(draw: st.DrawFn) -> pd.DataFrame:
    days = draw(st.integers(1, 60))
    n = draw(st.integers(1, 4))
    zones = draw(st.integers(1, 3))
    rate = draw(st.sampled_from([0.0, 0.05, 0.5, 3.0, 40.0]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2025-03-01", periods=days)
    rows = []
    for s in range(n):
        for z in range(zones):
            q = rng.poisson(rate * (1 + s), days)
            keep = rng.random(days) < draw(st.sampled_from([1.0, 0.7]))  # missing rows = zero demand
            keep[0] = True
            rows.append(pd.DataFrame({"date": dates[keep], "sku": f"s{s}", "zone": f"z{z}", "quantity": q[keep]}))
    return pd.concat(rows, ignore_index=True)


@st.composite
def calendars(draw: st.DrawFn) -> pd.DataFrame | None:
    if not draw(st.booleans()):
        return None
    days = draw(st.lists(st.integers(0, 75), min_size=1, max_size=8))
    kinds = draw(st.lists(st.sampled_from(["promotion", "livestream"]), min_size=len(days), max_size=len(days)))
    return pd.DataFrame({
        "date": pd.Timestamp("2025-03-01") + pd.to_timedelta(days, unit="D"),
        "name": [f"e{i}" for i in range(len(days))], "kind": kinds, "start_min": 600, "end_min": 720,
    })


@settings(max_examples=20, deadline=None)
@given(hist=histories(), horizon=st.integers(1, 10), method=st.sampled_from(FAST), k=st.integers(0, 6),
       events=calendars())
def test_forecast_is_a_valid_distribution(
    hist: pd.DataFrame, horizon: int, method: str, k: int, events: pd.DataFrame | None
) -> None:
    s = Settings(backend=method, seed=3)
    r = forecast(hist, horizon=horizon, n_scenarios=k, settings=s, events=events)
    n = len(r.series)
    assert r.mean.shape == (n, horizon) and len(r.dates) == horizon
    assert np.isfinite(r.mean).all() and (r.mean >= 0).all()
    assert np.isfinite(r.quantiles).all() and (r.quantiles >= 0).all()
    assert (np.diff(r.quantiles, axis=2) >= 0).all()  # monotone in the level
    assert r.scenarios.shape == (k, n, horizon) and (r.scenarios >= 0).all()
    frame = r.to_frame()
    assert len(frame) == n * horizon and not frame[["mean", "q10", "q90"]].isna().any().any()
    # same seed, same scenarios; fit-then-predict equals the one-shot call
    again = fit(hist, horizon=horizon, settings=s, events=events).predict(n_scenarios=k, seed=3)
    np.testing.assert_array_equal(again.scenarios, r.scenarios)
    np.testing.assert_array_equal(again.mean, r.mean)
    np.testing.assert_array_equal(again.quantiles, r.quantiles)
    assert again.chosen == r.chosen


@settings(max_examples=10, deadline=None)
@given(hist=histories(), seed=st.integers(0, 1000))
def test_different_seed_changes_only_scenarios(hist: pd.DataFrame, seed: int) -> None:
    a = forecast(hist, horizon=5, n_scenarios=8, settings=Settings(backend="ets", seed=seed))
    b = forecast(hist, horizon=5, n_scenarios=8, settings=Settings(backend="ets", seed=seed + 1))
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.quantiles, b.quantiles)
