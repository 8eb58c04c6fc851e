"""auto under a time share: the candidates run are chosen by estimated work, never by the clock."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pandas as pd
import pytest

from engine.forecast import build_panel, fit_panel
from engine.forecast.core import AUTO_CANDIDATES, estimate_seconds, fit, fit_origins
from engine.solver import Settings

from .helpers import synthetic


def _history() -> pd.DataFrame:
    # smooth and intermittent SKUs, so that every default candidate is in play
    a = synthetic(n_sku=3, n_zone=2, days=150, seed=3)
    b = synthetic(n_sku=3, n_zone=2, days=150, seed=4, intermittent=True)
    b["sku"] = "I" + b["sku"]
    return pd.concat([a, b], ignore_index=True)


def _same(a, b) -> None:  # noqa: ANN001
    np.testing.assert_array_equal(a.mean, b.mean)
    a, b = getattr(a, "sku_fit", a), getattr(b, "sku_fit", b)  # hierarchical: the SKU-level choice
    np.testing.assert_array_equal(np.asarray(a.chosen), np.asarray(b.chosen))
    assert a.notes == b.notes


@pytest.mark.parametrize("method", ["auto", "hierarchical"])
def test_a_slow_clock_does_not_change_the_forecast(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    hist = _history()
    s = Settings(backend=method, seed=5)
    ref = fit(hist, horizon=7, settings=s, time_limit=30.0)
    real = time.perf_counter
    jumps = itertools.count()
    # every reading of the clock is 100 s later than the one before: under the old deadline
    # rule auto would stop after its first candidate
    monkeypatch.setattr(time, "perf_counter", lambda: real() + 100.0 * next(jumps))
    slow = fit(hist, horizon=7, settings=s, time_limit=30.0)
    assert next(jumps) > 2  # the clock was read, and jumped
    _same(ref, slow)
    base = ref.sku_fit if method == "hierarchical" else ref
    assert not any("skipped" in n and "share" in n for n in base.notes)
    assert len(set(np.asarray(base.chosen)) - {"zero"}) >= 2  # several candidates competed


def _panel_and_estimates():
    panel = build_panel(_history(), horizon=7)
    origins, _, _ = fit_origins(panel, {})
    est = {nm: estimate_seconds(nm, panel, origins, {}) for nm in AUTO_CANDIDATES}
    return panel, est


def test_a_small_share_skips_the_costly_candidates_and_says_so() -> None:
    panel, est = _panel_and_estimates()
    assert est["global"] > est["ets"] > est["ses"] > est["moving_average"] > 0
    cheap = ["seasonal_naive", "seasonal_naive_yearly", "moving_average", "ses"]
    share = sum(est[nm] for nm in cheap) * (1 + 1e-9)
    runs = [fit_panel(panel, "auto", {}, budget=share) for _ in range(2)]
    _same(*runs)
    f = runs[0]
    assert set(np.asarray(f.chosen)) <= {"seasonal_naive", "moving_average", "ses", "zero"}
    for nm in ("ets", "croston", "sba", "tsb", "global"):
        note = next(n for n in f.notes if n.startswith(f"auto skipped {nm}: estimated"))
        assert f"estimated {est[nm]:.3g} s, share {share:.3g} s" in note
    assert not any(n.startswith("auto skipped ses") for n in f.notes)
    # a larger share lets ETS in; the choice still never reads the clock
    more = fit_panel(panel, "auto", {}, budget=share + est["ets"])
    assert not any(n.startswith("auto skipped ets") for n in more.notes)


def test_no_share_at_all_still_runs_the_cheapest_sensible_candidate() -> None:
    panel, est = _panel_and_estimates()
    f = fit_panel(panel, "auto", {}, budget=0.0)
    # 150 days: seasonal_naive_yearly cannot run, so the cheapest that can is chosen
    ok = {nm: e for nm, e in est.items() if nm != "seasonal_naive_yearly"}
    cheapest = min(ok, key=ok.__getitem__)
    assert set(np.asarray(f.chosen)) <= {cheapest, "zero"}
    assert any(n.startswith(f"auto: no candidate fits the share of 0 s: ran the cheapest, {cheapest}")
               for n in f.notes)
    assert np.isfinite(f.mean).all() and (f.mean >= 0).all()


def test_estimates_grow_with_the_panel() -> None:
    small = build_panel(synthetic(n_sku=2, n_zone=2, days=120, seed=1), horizon=7)
    big = build_panel(synthetic(n_sku=8, n_zone=2, days=240, seed=1), horizon=7)
    for nm in AUTO_CANDIDATES:
        if nm == "seasonal_naive_yearly":
            continue
        a = estimate_seconds(nm, small, fit_origins(small, {})[0], {})
        b = estimate_seconds(nm, big, fit_origins(big, {})[0], {})
        assert b >= a, nm


def test_plan_stock_gives_the_forecast_the_same_share_however_long_start_up_took(metro_small) -> None:  # noqa: ANN001
    from engine.stocking.plan import FORECAST_SHARE, plan_stock

    # newsvendor: a quick, exact stocking rule, so that only the forecast can differ
    runs = [plan_stock(metro_small, backend="newsvendor", scenarios=6, time_limit=10.0, process_start_age=age)
            for age in (0.0, 3.0)]
    shares = [next(s for s in r.stages if s.name == "forecast").budget_s for r in runs]
    assert shares == [FORECAST_SHARE * 10.0] * 2
    for key in ("notes", "chosen", "total_mean"):
        assert runs[0].forecast[key] == runs[1].forecast[key]
    np.testing.assert_array_equal(runs[0].result.units, runs[1].result.units)
