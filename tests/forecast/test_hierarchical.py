"""Top-down forecasting for sparse (SKU, zone) demand: coherent levels, sparse scenarios."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.forecast import build_panel, forecast, hier
from engine.forecast import distribution as dist
from engine.forecast.core import fit
from engine.forecast.panel import build_sparse_history
from engine.forecast.scenarios import SparseScenarios
from engine.solver import Settings
from tests.forecast.helpers import synthetic

H = 7


@pytest.fixture(scope="module")
def history():
    # 5 SKUs x 4 zones, sparse enough that some days are zero, with a shared SKU shock
    return synthetic(n_sku=5, n_zone=4, days=140, seed=3, level=2.0, common=0.3)


@pytest.fixture(scope="module")
def fitted(history):
    return fit(history, horizon=H, settings=Settings(backend="hierarchical", options={"hier_base": "ets"}))


def _sku_sums(values: np.ndarray, sku_index: np.ndarray, n_sku: int) -> np.ndarray:
    out = np.zeros((n_sku,) + values.shape[1:])
    np.add.at(out, sku_index, values)
    return out


def test_zone_means_add_up_to_the_sku_forecast(fitted):
    mean = fitted.mean
    n_sku = fitted.sku_mean.shape[0]
    assert mean.shape == (20, H)
    np.testing.assert_allclose(_sku_sums(mean, fitted.sku_index, n_sku), fitted.sku_mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.bincount(fitted.sku_index, weights=fitted.share), 1.0)


def test_every_scenario_adds_up_to_its_sku_draw(fitted):
    res = fitted.predict(n_scenarios=40, seed=5)
    assert isinstance(res.scenarios, SparseScenarios)
    f = fitted.sku_fit
    skus = f.panel.series["sku"].to_numpy().astype(str)
    sku_draws = dist.sample_scenarios(f.mean, f.alpha, f.dependence, skus, 40, 5)
    dense = res.scenarios.to_dense()  # (K, N, H)
    by_sku = np.zeros_like(sku_draws)
    np.add.at(by_sku, (slice(None), fitted.sku_index), dense)
    np.testing.assert_array_equal(by_sku, sku_draws)
    # same seed, same scenarios; another seed, others
    assert res.scenarios.equals(fitted.predict(n_scenarios=40, seed=5).scenarios)
    assert not res.scenarios.equals(fitted.predict(n_scenarios=40, seed=6).scenarios)


def test_quantiles_are_the_thinned_negative_binomial(fitted):
    res = fitted.predict(n_scenarios=0)
    alpha = fitted.sku_fit.alpha[fitted.sku_index]
    want = dist.nb_quantiles(res.mean, alpha, np.asarray(res.quantile_levels))
    np.testing.assert_array_equal(res.quantiles, want)
    np.testing.assert_allclose(res.dispersion, alpha)


def test_sparse_and_dense_history_give_the_same_parts(history):
    opts: dict = {}
    sh = build_sparse_history(history, horizon=H)
    panel = build_panel(history, horizon=H)
    a, b = hier.parts_from_sparse(sh, opts), hier.parts_from_panel(panel, opts)
    np.testing.assert_allclose(a.sku_panel.y, b.sku_panel.y)
    np.testing.assert_allclose(a.recent, b.recent)
    np.testing.assert_allclose(a.zone_weight, b.zone_weight)
    np.testing.assert_array_equal(a.sku_index, b.sku_index)
    assert list(a.segment) == list(b.segment)
    assert a.series.equals(b.series)


def test_auto_goes_top_down_past_the_cell_threshold(history):
    small = forecast(history, horizon=H, settings=Settings(backend="seasonal_naive"))
    assert small.method == "seasonal_naive"
    big = fit(history, horizon=H, settings=Settings(options={"hier_auto_cells": 100, "hier_base": "ses"}))
    assert isinstance(big, hier.HierarchicalFit)
    assert any("auto chose hierarchical" in n for n in big.notes)


def test_hierarchical_runs_in_the_backtest(history):
    from engine.forecast import backtest

    res = backtest(history, horizon=H, folds=1, methods=("hierarchical", "ses"),
                   settings=Settings(options={"hier_base": "ses"}))
    row = res.overall().set_index("method")
    assert np.isfinite(row.loc["hierarchical", "wmape"]) and np.isfinite(row.loc["hierarchical", "pinball"])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.floats(0.0, 20.0), st.integers(0, 2**31 - 1))
def test_shares_are_a_distribution_per_sku(n_sku, zones, prior, seed):
    rng = np.random.default_rng(seed)
    sku_index = np.repeat(np.arange(n_sku), rng.integers(1, zones + 1, n_sku))
    recent = rng.exponential(1.0, len(sku_index)) * (rng.random(len(sku_index)) < 0.6)
    zone_weight = rng.exponential(1.0, len(sku_index)) * (rng.random(len(sku_index)) < 0.8)
    share = hier.zone_shares(sku_index, recent, zone_weight, n_sku, prior)
    assert (share >= 0).all()
    np.testing.assert_allclose(np.bincount(sku_index, weights=share, minlength=n_sku), 1.0, rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(1, 30), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_sparse_scenarios_behave_like_the_dense_array(K, N, Hd, seed):
    rng = np.random.default_rng(seed)
    dense = rng.poisson(0.3, (K, N, Hd)) * (rng.random((K, N, Hd)) < 0.5)
    sp = SparseScenarios.from_dense(dense)
    assert sp.shape == dense.shape and sp.nnz == int((dense > 0).sum())
    np.testing.assert_array_equal(sp.to_dense(), dense)
    np.testing.assert_array_equal(np.asarray(sp), dense)
    for axis in (0, 1, 2):
        np.testing.assert_array_equal(sp.sum(axis=axis), dense.sum(axis=axis))
    days = int(rng.integers(1, Hd + 1))
    kk = int(rng.integers(1, K + 1))
    np.testing.assert_array_equal(sp.cycle_totals(days, kk).toarray(), dense[:kk, :, :days].sum(axis=2).T)
    assert sp.head(kk).equals(dense[:kk])
