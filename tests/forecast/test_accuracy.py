"""Accuracy smoke tests on small slices of real data (skipped when ../shared/data is absent)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from engine.forecast import backtest, build_panel, forecast
from engine.solver import Settings

from .helpers import KAGGLE, OLIST, ROOT_DIR, kaggle_slice


@pytest.mark.skipif(not KAGGLE.exists(), reason="shared demand data not present")
def test_kaggle_slice_auto_beats_naive_and_is_calibrated() -> None:
    df = kaggle_slice(items=5, stores=4)
    df["date"] = pd.to_datetime(df["date"])
    cut = df["date"].max() - pd.Timedelta(days=27)
    hist = df[df["date"] < cut]
    actual = build_panel(df, horizon=1).y[:, -28:]
    out = {}
    for m in ("auto", "seasonal_naive"):
        r = forecast(hist, horizon=28, settings=Settings(backend=m, options={"gbm_max_rows": 10_000, "gbm_max_iter": 60}))
        out[m] = np.abs(r.mean - actual).sum() / actual.sum()
        if m == "auto":
            cover = ((actual >= r.quantiles[:, :, 0]) & (actual <= r.quantiles[:, :, -1])).mean()
    assert out["auto"] < 0.2 and out["auto"] < 0.8 * out["seasonal_naive"]
    assert 0.65 <= cover <= 0.95


@pytest.mark.skipif(not (OLIST / "olist_orders_dataset.csv.gz").exists(), reason="shared olist data not present")
def test_olist_weekly_runs_on_thin_series() -> None:
    sys.path.insert(0, str(ROOT_DIR))
    from benchmarks.forecast.data import olist_weekly

    df = olist_weekly()
    top = df.groupby(["sku", "zone"])["quantity"].sum().nlargest(40).index
    df = df.set_index(["sku", "zone"]).loc[top].reset_index()
    b = backtest(df, horizon=8, folds=2, methods=["auto", "tsb"], settings=Settings(options={"gbm_max_rows": 5_000}))
    o = b.overall()
    assert np.isfinite(o["wmape"]).all() and (o["coverage_80"] > 0.6).all()
    r = forecast(df, horizon=8, n_scenarios=5)
    assert (pd.DatetimeIndex(list(r.dates)).day_of_week == 0).all()  # weekly grid kept (Mondays)
