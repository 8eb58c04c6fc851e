"""Hand-checkable behaviour of the kernels and the predictive distribution."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.forecast import FORECASTERS, build_panel, fit_panel, forecast
from engine.forecast.distribution import Dependence, nb_quantiles, sample_scenarios
from engine.forecast.panel import classify
from engine.solver import Settings

from .helpers import synthetic


def _panel(y: np.ndarray, h: int, start: str = "2024-01-01"):
    n, t = y.shape
    dates = pd.date_range(start, periods=t)
    df = pd.DataFrame({"date": np.tile(dates, n), "sku": np.repeat([f"s{i}" for i in range(n)], t),
                       "quantity": y.reshape(-1)})
    return build_panel(df, horizon=h)


def _point(name: str, y: np.ndarray, h: int) -> np.ndarray:
    p = _panel(y, h)
    return FORECASTERS.get(name)(p, [p.t], h, {}, [])[0]


def test_seasonal_naive_repeats_last_week() -> None:
    y = np.arange(1, 22, dtype=float)[None, :]
    np.testing.assert_array_equal(_point("seasonal_naive", y, 9)[0], [15, 16, 17, 18, 19, 20, 21, 15, 16])


def test_croston_and_sba_on_a_regular_pattern() -> None:
    y = np.tile([0, 0, 6.0], 30)[None, :]  # 6 units every third day: rate 2
    np.testing.assert_allclose(_point("croston", y, 3)[0], 2.0)
    np.testing.assert_allclose(_point("sba", y, 3)[0], 2.0 * 0.95)


def test_tsb_decays_after_demand_stops() -> None:
    y = np.concatenate([np.tile([0, 4.0], 20), np.zeros(30)])[None, :]
    assert _point("tsb", y, 1)[0, 0] < 0.5 * _point("croston", y, 1)[0, 0]


def test_ets_constant_and_trend() -> None:
    assert np.allclose(_point("ets", np.full((1, 60), 7.0), 5), 7.0)
    trend = np.arange(100, dtype=float)[None, :] + 10
    f = _point("ets", trend, 5)[0]
    assert f[0] > 100 and np.all(np.diff(f) > 0)


def test_ets_learns_weekly_profile() -> None:
    h = synthetic(n_sku=1, n_zone=1, days=140, level=200)
    r = forecast(h, horizon=7, settings=Settings(backend="ets"))
    dow = pd.DatetimeIndex(list(r.dates)).day_of_week
    sat = r.mean[0][dow == 5][0]
    mon = r.mean[0][dow == 0][0]
    assert sat / mon == pytest.approx(1.4 / 0.8, rel=0.15)


def test_segments() -> None:
    y = np.array([[5, 6, 5, 7, 5, 6] * 5, [0, 0, 0, 9, 0, 0] * 5, [0] * 30, [1, 30, 2, 40, 1, 25] * 5], dtype=float)
    assert list(classify(y)) == ["smooth", "intermittent", "zero", "erratic"]


def test_nb_quantiles_are_calibrated_for_poisson() -> None:
    rng = np.random.default_rng(1)
    mu = rng.uniform(0.2, 30, size=(3000, 1))
    y = rng.poisson(mu)
    q = nb_quantiles(mu, np.full(3000, 1e-3), np.array([0.1, 0.5, 0.9]))
    cover = ((y >= q[:, :, 0]) & (y <= q[:, :, 2])).mean()
    assert 0.8 <= cover <= 0.9  # discrete intervals cover at least the nominal 80%


def test_scenarios_match_marginals_and_correlation() -> None:
    mean = np.full((2, 5), 20.0)
    alpha = np.full(2, 0.05)
    dep = Dependence(rho_sku=np.array([0.8]), level_share=0.3, phi=0.5)
    sc = sample_scenarios(mean, alpha, dep, np.array(["a", "a"]), 4000, seed=7)
    assert sc.mean() == pytest.approx(20.0, rel=0.03)
    assert sc.var() == pytest.approx(20 + 0.05 * 400, rel=0.1)
    zone_corr = np.corrcoef(sc[:, 0, 0], sc[:, 1, 0])[0, 1]
    day_corr = np.corrcoef(sc[:, 0, 0], sc[:, 0, 1])[0, 1]
    assert zone_corr > 0.5 and day_corr > 0.3
    np.testing.assert_array_equal(sc, sample_scenarios(mean, alpha, dep, np.array(["a", "a"]), 4000, seed=7))


def test_cross_zone_correlation_is_estimated_from_history() -> None:
    corr = synthetic(n_sku=6, n_zone=4, days=150, level=40, common=0.35, seed=2)
    iid = synthetic(n_sku=6, n_zone=4, days=150, level=40, common=0.0, seed=2)
    a = forecast(corr, horizon=14, settings=Settings(backend="ets"))
    b = forecast(iid, horizon=14, settings=Settings(backend="ets"))
    assert a.dependence["cross_zone_corr_mean"] > b.dependence["cross_zone_corr_mean"] + 0.2
    # and the scenario sums over zones of one SKU are wider than independent sampling would give
    s = forecast(corr, horizon=14, n_scenarios=300, settings=Settings(backend="ets", seed=1)).scenarios
    sku_tot = s[:, :4, 0].sum(axis=1)
    assert sku_tot.var() > 1.5 * s[:, :4, 0].var(axis=0).sum()


def test_market_factor_moves_all_skus_together() -> None:
    mean = np.full((4, 7), 30.0)
    dep = Dependence(rho_sku=np.array([0.5, 0.5]), level_share=0.0, phi=0.0, level_share_common=0.0,
                     rho_market=0.4, level_share_market=0.9)
    sc = sample_scenarios(mean, np.full(4, 0.05), dep, np.array(["a", "a", "b", "b"]), 3000, seed=2)
    tot = sc.sum(axis=2)  # (K, N) totals over the week
    assert np.corrcoef(tot[:, 0], tot[:, 2])[0, 1] > 0.25  # different SKUs, one market
    assert np.corrcoef(tot[:, 0], tot[:, 1])[0, 1] > np.corrcoef(tot[:, 0], tot[:, 2])[0, 1]


@pytest.mark.parametrize("method", ["global", "ets", "tsb"])
def test_event_days_are_lifted(method: str) -> None:
    """Global model: events are features; local methods: lift divided out and put back."""
    h = synthetic(n_sku=5, n_zone=2, days=300, level=20, seed=4)
    dates = pd.date_range("2024-01-01", periods=300 + 14)
    promo = dates[::10]
    h = h.merge(pd.DataFrame({"date": promo, "boost": 3}), on="date", how="left").fillna({"boost": 1})
    h["quantity"] = (h["quantity"] * h.pop("boost")).astype(int)
    ev = pd.DataFrame({"date": promo, "name": "p", "kind": "promotion", "start_min": 0, "end_min": 1440})
    with_ev = fit_panel(build_panel(h, horizon=14, events=ev), method, {})
    fut = with_ev.panel.dates[with_ev.panel.t:]
    on = np.isin(fut, promo)
    assert on.any()
    ratio = with_ev.mean[:, on].mean() / with_ev.mean[:, ~on].mean()
    assert ratio > 2.0
