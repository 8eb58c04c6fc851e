"""The forecast pipeline: panel -> holdout check -> method (or auto's pick) -> distribution.

Every forecast is fitted at one or two holdout origins (``T - 2hv``, ``T - hv``: the last
periods hidden) and at the real origin ``T``, in the same call. The holdout errors choose the
method per segment (``auto``) and give the dispersion and copula parameters, so the spread of
the predictive distribution is out-of-sample by construction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from engine.errors import ConfigError
from engine.forecast import distribution as dist
from engine.forecast import hier as _hier
from engine.forecast.methods import FORECASTERS, MethodUnavailable
from engine.forecast.panel import Panel, build_sparse_history, classify
from engine.forecast.result import DEFAULT_QUANTILES, ForecastResult
from engine.solver import Settings, SolveStats, SolveStatus, stopwatch

AUTO_CANDIDATES = (
    "seasonal_naive", "seasonal_naive_yearly", "moving_average", "ses", "ets",
    "croston", "sba", "tsb", "global",
)
KNOWN_OPTIONS = {
    # input handling (panel.py)
    "freq", "negative", "duplicates", "gaps",
    # auto and holdout
    "candidates", "select", "holdout", "holdout_windows",
    # local methods
    "ma_window", "croston_alpha", "tsb_alpha", "tsb_beta", "intermittent_window",
    "ets_window", "ets_alphas", "ets_yearly", "yearly_harmonics", "yearly_min_years", "weekly_weeks",
    # global model
    "gbm_max_rows", "gbm_max_iter", "gbm_learning_rate", "gbm_leaves", "gbm_min_leaf", "gbm_refit",
    "gbm_train_years",
    # events for local methods
    "event_adjust", "event_prior_units",
    # distribution
    "dispersion_prior",
    # hierarchical (top-down) forecasting, hier.py
    *_hier.OPTIONS,
}
MIN_HOLDOUT_HISTORY = 8  # periods; below this there is no honest holdout

# The work rule of ``auto`` under a time share: each candidate's cost is estimated from the
# panel's shape (series x periods x origins) and the options, before anything runs, and a
# candidate starts only if the estimates of the ones started plus its own fit the share. The
# choice then depends on the inputs and the share alone, never on the clock or the machine's load.
#
# The coefficients are CPU seconds with one thread, measured once on this machine (2-vCPU AMD
# EPYC Firecracker VM, shared, 1-minute load 5-6) on 2026-12-01, best of 3: the 20 000-SKU
# city's SKU-total panel (19 999 series x 365 days, 2 origins) and metro-medium's (sku, zone)
# panel (3 600 x 365, 3 origins); `benchmarks/forecast/candidate_cost.py` measures them again
# against the estimate (benchmarks/forecast/RESULTS.md). On a busy machine the wall seconds are
# larger, and even the CPU seconds of this VM grow with the load (the tree ensemble's the most).
SEC_LOCAL_CELL = 1.8e-8  # any local method: cutting at an origin, event lifts; per series x period
SEC_CELL = {  # the method's own sweep over the periods it reads, per series x period
    "seasonal_naive": 0.0, "seasonal_naive_yearly": 0.0, "moving_average": 0.0,
    "croston": 2.0e-8, "sba": 2.0e-8, "tsb": 2.0e-8,
}
SEC_GRID_CELL = {"ses": 1.1e-8, "ets": 1.7e-8}  # smoothing recursions: per grid point x series x period
SEC_GBM_FIT = 0.5  # one tree ensemble on 40 000 rows x 100 iterations (scaled by rows x iterations)
SEC_GBM_ROW = 7e-6  # features and prediction per (series, step, origin) row
SEC_UNKNOWN_CELL = 2e-7  # a method registered without a cost model: per series x period x origin


def estimate_seconds(name: str, panel: Panel, origins: Sequence[int], opts: Mapping[str, Any]) -> float:
    """Estimated CPU seconds of running candidate ``name`` at ``origins`` on ``panel``.

    Depends on the panel's shape and the options only (see the coefficients above), so the
    candidates ``auto`` runs under a time share are the same on any machine, at any load.
    """
    from engine.forecast import ets as _ets

    n, h = panel.n, panel.h
    if name == "global":
        rows = min(int(opts.get("gbm_max_rows", 40_000)), n * panel.t * h)
        fits = len(origins) if opts.get("gbm_refit", False) else 1
        fit = SEC_GBM_FIT * rows / 40_000 * int(opts.get("gbm_max_iter", 100)) / 100
        return fits * fit + SEC_GBM_ROW * n * h * len(origins)
    if name == "seasonal_naive_yearly" and min(origins) < panel.season_year:
        return SEC_LOCAL_CELL * n * min(origins)  # stops at the first origin: no year of history
    total = 0.0
    for o in origins:
        total += SEC_LOCAL_CELL * n * o
        if name in SEC_GRID_CELL:
            alphas = [float(a) for a in opts.get("ets_alphas", _ets.ALPHAS)]
            trends = _ets.TRENDS if name == "ets" else _ets.TRENDS[:1]
            grid = sum(1 for a in alphas for (b, _) in trends if b <= a)
            if name == "ets" and panel.season_week:
                grid += sum(1 for g in _ets.GAMMAS if g > 0)
            win = min(o, int(opts.get("ets_window", 2 * panel.season_year)))
            total += SEC_GRID_CELL[name] * grid * n * win
        elif name in SEC_CELL:
            win = min(o, int(opts.get("intermittent_window", 3 * 364)))
            total += SEC_CELL[name] * n * win
        else:
            total += SEC_UNKNOWN_CELL * n * o
    return total


def fit_origins(panel: Panel, opts: Mapping[str, Any]) -> tuple[list[int], int, int]:
    """The origins a fit forecasts from (holdout origins, then ``panel.t``), the holdout length
    and the number of holdout windows (0 when the history is too short for a holdout)."""
    n, t, h = panel.n, panel.t, panel.h
    hv = int(opts.get("holdout", min(h, t // 3)))
    if not (t >= MIN_HOLDOUT_HISTORY and 1 <= hv < t):
        return [t], hv, 0
    # two consecutive holdout windows when the history allows (steadier choice and spread);
    # with many series one window already holds plenty of residuals, and costs a third less
    wins = max(1, int(opts.get("holdout_windows", 2 if n * h <= 100_000 else 1)))
    while wins > 1 and t - wins * hv < max(MIN_HOLDOUT_HISTORY, 2 * hv):
        wins -= 1
    return [t - j * hv for j in range(wins, 0, -1)] + [t], hv, wins


def _plan_candidates(
    names: list[str], panel: Panel, origins: list[int], opts: Mapping[str, Any], budget: float,
    notes: list[str],
) -> list[str]:
    """The candidates to run within ``budget`` estimated seconds, in their order; at least one."""
    est = {nm: estimate_seconds(nm, panel, origins, opts) for nm in names}
    plan: list[str] = []
    spent = 0.0
    skipped = []
    for nm in names:
        if spent + est[nm] <= budget:
            plan.append(nm)
            spent += est[nm]
        else:
            skipped.append(nm)
    if not plan:  # the cheapest that can run on this history always runs
        sensible = [nm for nm in names
                    if not (nm == "seasonal_naive_yearly" and min(origins) < panel.season_year)] or names
        cheapest = min(sensible, key=lambda nm: est[nm])
        plan = [cheapest]
        spent = est[cheapest]
        skipped = [nm for nm in skipped if nm != cheapest]
        notes.append(f"auto: no candidate fits the share of {budget:.3g} s: ran the cheapest, "
                     f"{cheapest} (estimated {est[cheapest]:.3g} s)")
    for nm in skipped:
        notes.append(f"auto skipped {nm}: estimated {est[nm]:.3g} s, share {budget:.3g} s "
                     f"({spent:.3g} s estimated for {', '.join(plan)})")
    return plan


def _check_quantiles(quantiles: Sequence[float]) -> tuple[float, ...]:
    levels = tuple(float(q) for q in quantiles)
    if not levels:
        raise ConfigError("quantiles must not be empty")
    if any(not (0.0 < q < 1.0) for q in levels):
        raise ConfigError(f"quantile levels must lie strictly between 0 and 1, got {levels}")
    if list(levels) != sorted(set(levels)):
        raise ConfigError(f"quantile levels must be increasing and distinct, got {levels}")
    return levels


def _score(mu: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Selection loss per series: absolute error plus absolute bias over the holdout.

    The bias term keeps intermittent series from picking forecasts that are merely low (the
    median of a sparse series is zero, but stocking needs its mean).
    """
    e = mu - y
    return np.abs(e).sum(axis=1) + np.abs(e.sum(axis=1))


@dataclass(frozen=True, slots=True)
class FittedForecast:
    """A fitted forecast: means per series for the horizon and the fitted distribution parameters."""

    panel: Panel
    method: str
    mean: np.ndarray  # (N, h)
    chosen: np.ndarray  # (N,) method per series
    segment: np.ndarray  # (N,)
    alpha: np.ndarray  # (N,) NB dispersion
    dependence: dist.Dependence
    notes: tuple[str, ...]
    holdout: dict[str, float]
    build_seconds: float
    fit_seconds: float

    def predict(
        self, *, quantiles: Sequence[float] = DEFAULT_QUANTILES, n_scenarios: int = 0, seed: int = 0
    ) -> ForecastResult:
        """Quantiles and ``n_scenarios`` joint sample paths around the fitted means."""
        levels = _check_quantiles(quantiles)
        if isinstance(n_scenarios, bool) or int(n_scenarios) != n_scenarios or n_scenarios < 0:
            raise ConfigError(f"n_scenarios must be a whole number >= 0, got {n_scenarios!r}")
        with stopwatch() as elapsed:
            q = dist.nb_quantiles(self.mean, self.alpha, np.asarray(levels))
            sku = self.panel.series["sku"].to_numpy().astype(str)
            scen = dist.sample_scenarios(self.mean, self.alpha, self.dependence, sku, int(n_scenarios), int(seed))
        p = self.panel
        dates = tuple(d.date() for d in p.dates[p.t :])
        stats = SolveStats(
            backend=self.method,
            status=SolveStatus.FEASIBLE,
            objective=self.holdout.get("wmape"),
            build_seconds=self.build_seconds,
            solve_seconds=self.fit_seconds + elapsed(),
            message="; ".join(self.notes),
        )
        return ForecastResult(
            method=self.method,
            series=p.series.copy(),
            dates=dates,
            mean=self.mean.copy(),
            quantile_levels=levels,
            quantiles=q,
            scenarios=scen,
            chosen=tuple(str(c) for c in self.chosen),
            segment=tuple(str(s) for s in self.segment),
            dispersion=self.alpha.copy(),
            notes=self.notes,
            stats=stats,
            dependence=self.dependence.to_dict(),
            holdout=dict(self.holdout),
        )


def _run_method(
    name: str, panel: Panel, origins: list[int], h: int, opts: Mapping[str, Any], notes: list[str]
) -> list[np.ndarray]:
    out = FORECASTERS.get(name)(panel, origins, h, opts, notes)
    clean = []
    for arr in out:
        bad = ~np.isfinite(arr)
        if bad.any():
            notes.append(f"{name}: {int(bad.any(axis=1).sum())} series had non-finite forecasts, set to zero")
        clean.append(np.clip(np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None))
    return clean


def fit_panel(
    panel: Panel, method: str, opts: Mapping[str, Any], *, build_seconds: float = 0.0, threads: int = 1,
    budget: float | None = None,
) -> FittedForecast:
    """Fit ``method`` (a registry name, or "auto") on a panel whose calendar runs ``panel.h`` ahead.

    ``threads`` caps the native thread pools (the tree ensemble's OpenMP); on a shared
    machine one thread is often faster than two contended ones. ``budget`` (seconds of work):
    ``auto`` runs only the candidates whose estimated costs (:func:`estimate_seconds`) add up
    to at most it, in their order (at least one, the cheapest), and names the others in the
    notes; the choice depends on the inputs and the budget, never on the clock.
    """
    FORECASTERS.info(method)  # unknown / unavailable names fail here, with the list of choices
    if method == _hier.NAME:
        return _hier.fit_parts(_hier.parts_from_panel(panel, opts), opts, threads=threads,  # type: ignore[return-value]
                               build_seconds=build_seconds, budget=budget)
    with threadpool_limits(limits=max(1, int(threads))):
        return _fit_panel(panel, method, opts, build_seconds, budget)


def _fit_panel(
    panel: Panel, method: str, opts: Mapping[str, Any], build_seconds: float, budget: float | None = None
) -> FittedForecast:
    notes = list(panel.notes)
    with stopwatch() as elapsed:
        n, t, h = panel.n, panel.t, panel.h
        segment = classify(panel.y)
        origins, hv, wins = fit_origins(panel, opts)
        has_holdout = len(origins) > 1

        if method == "auto":
            names = [c for c in opts.get("candidates", AUTO_CANDIDATES) if c != "auto"]
            for c in names:
                FORECASTERS.info(c)
            if "candidates" not in opts and not np.isin(segment, ("intermittent", "lumpy")).any():
                # no sparse series: the intermittent-demand methods cannot win, skip their cost
                names = [c for c in names if c not in ("croston", "sba", "tsb")]
            if not has_holdout:
                notes.append(f"history of {t} periods is too short to compare methods: auto used moving_average")
                names = ["moving_average"]
            if budget is not None:
                names = _plan_candidates(names, panel, origins, opts, float(budget), notes)
        else:
            names = [method]

        holds: dict[str, np.ndarray] = {}
        futures: dict[str, np.ndarray] = {}
        for name in names:
            try:
                out = _run_method(name, panel, origins, h, opts, notes)
            except MethodUnavailable as exc:
                if method == "auto":
                    notes.append(f"auto skipped {name}: {exc}")
                    continue
                notes.append(f"{exc}; fell back to moving_average")
                name = "moving_average"
                out = _run_method(name, panel, origins, h, opts, notes)
            futures[name] = out[-1]
            if has_holdout:
                holds[name] = np.concatenate([o[:, :hv] for o in out[:-1]], axis=1)
        if not futures:  # every candidate asked for more history than there is
            notes.append("no candidate could run on this history: moving_average used")
            out = _run_method("moving_average", panel, origins, h, opts, notes)
            futures["moving_average"] = out[-1]
            if has_holdout:
                holds["moving_average"] = np.concatenate([o[:, :hv] for o in out[:-1]], axis=1)
        names = list(futures)

        y_hold = panel.y[:, t - wins * hv :] if has_holdout else None
        chosen = np.full(n, names[0], dtype=object)
        if method == "auto" and len(names) > 1 and y_hold is not None:
            chosen = _select(names, holds, y_hold, segment, panel, opts)
        idx = {nm: k for k, nm in enumerate(names)}
        pick = np.array([idx[c] for c in chosen])
        stack = np.stack([futures[nm] for nm in names])  # (C, N, h)
        rows = np.arange(n)
        mean = stack[pick, rows]

        zero = segment == "zero"
        if zero.any():
            mean[zero] = 0.0
            chosen[zero] = "zero"
            notes.append(f"{int(zero.sum())} all-zero series forecast as zero")

        if y_hold is not None:
            mu_hold = np.stack([holds[nm] for nm in names])[pick, rows]
            prior = float(opts.get("dispersion_prior", 14.0))
            alpha = dist.fit_dispersion(mu_hold, y_hold, segment, prior_periods=prior)
            # day-to-day structure from the last window alone: one origin, consecutive days
            sku = panel.series["sku"].to_numpy().astype(str)
            dep = dist.fit_dependence(mu_hold[:, -hv:], y_hold[:, -hv:], alpha, sku, prior_periods=prior)
            holdout = _holdout_metrics(mu_hold[~zero], y_hold[~zero], wins * hv)
        else:
            alpha = _insample_dispersion(panel.y)
            dep = dist.Dependence(np.zeros(panel.series["sku"].nunique()), 0.0, 0.0)
            holdout = {}
            notes.append("no holdout: dispersion from the variance of the history, scenarios independent")
    return FittedForecast(
        panel=panel, method=method, mean=mean, chosen=chosen, segment=segment, alpha=alpha,
        dependence=dep, notes=tuple(dict.fromkeys(notes)), holdout=holdout,
        build_seconds=build_seconds, fit_seconds=elapsed(),
    )


def _select(
    names: list[str], holds: dict[str, np.ndarray], y_hold: np.ndarray, seg: np.ndarray,
    panel: Panel, opts: Mapping[str, Any],
) -> np.ndarray:
    """Per-series method choice: the best of each segment (or of each series) on the holdout."""
    scores = np.stack([_score(holds[nm], y_hold) for nm in names])  # (C, N)
    # methods that cannot see a series' history are not allowed for it: a series that started
    # within the last year has no same-day-last-year value
    allowed = np.ones_like(scores, dtype=bool)
    t = panel.t
    first = np.where((panel.y > 0).any(axis=1), (panel.y > 0).argmax(axis=1), t)
    for k, nm in enumerate(names):
        if nm == "seasonal_naive_yearly":
            allowed[k] = first <= t - panel.season_year - y_hold.shape[1]
    big = np.inf
    how = opts.get("select", "segment")
    if how == "series":
        s = np.where(allowed, scores, big)
        return np.asarray(names, dtype=object)[s.argmin(axis=0)]
    if how != "segment":
        raise ConfigError(f"options select must be 'segment' or 'series', got {how!r}")
    chosen = np.empty(len(seg), dtype=object)
    for g in np.unique(seg):  # a handful of segments
        m = seg == g
        order = np.argsort(scores[:, m].sum(axis=1), kind="stable")
        ranked = allowed[order][:, m]  # (C, n_g) allowed, best method first
        best = ranked.argmax(axis=0)
        chosen[m] = np.asarray(names, dtype=object)[order[best]]
    return chosen


def _insample_dispersion(y: np.ndarray) -> np.ndarray:
    m = y.mean(axis=1)
    v = y.var(axis=1)
    a = np.where(m > 0, np.maximum(v - m, 0.0) / np.maximum(m, 1e-12) ** 2, 0.1)
    return np.clip(a, dist.ALPHA_MIN, dist.ALPHA_MAX)


def _holdout_metrics(mu: np.ndarray, y: np.ndarray, hv: int) -> dict[str, float]:
    tot = float(y.sum())
    return {
        "periods": float(hv),
        "wmape": float(np.abs(mu - y).sum() / tot) if tot > 0 else float("nan"),
        "bias": float((mu - y).sum() / tot) if tot > 0 else float("nan"),
    }


def _settings(settings: Settings | None) -> Settings:
    s = settings or Settings()
    s.check_options(KNOWN_OPTIONS, where="forecast settings")
    return s


def forecast(
    history: pd.DataFrame,
    *,
    horizon: int,
    start: dt.date | None = None,
    events: pd.DataFrame | None = None,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    n_scenarios: int = 0,
    settings: Settings | None = None,
    time_limit: float | None = None,
) -> ForecastResult:
    """Probabilistic demand forecast per (sku, zone) for ``horizon`` periods after the history.

    ``settings.backend`` names the method ("" = "auto"), ``settings.seed`` seeds the
    scenarios, ``settings.options`` holds method options (see ``KNOWN_OPTIONS``). With
    ``time_limit`` (seconds), ``auto`` runs only the candidates whose estimated work fits it
    (see :func:`fit_panel`): a work rule, so the same inputs and limit give the same forecast
    on a quiet or a busy machine; the limit is not a wall-clock guarantee.
    """
    s = _settings(settings)
    _check_quantiles(quantiles)
    fitted = fit(history, horizon=horizon, start=start, events=events, settings=s, time_limit=time_limit)
    return fitted.predict(quantiles=quantiles, n_scenarios=n_scenarios, seed=s.seed)


def fit(
    history: pd.DataFrame,
    *,
    horizon: int,
    start: dt.date | None = None,
    events: pd.DataFrame | None = None,
    settings: Settings | None = None,
    time_limit: float | None = None,
) -> FittedForecast:
    """The fitting half of :func:`forecast`; ``fit(...).predict(...)`` gives the same result.

    ``auto`` forecasts top-down (``hierarchical``) when the dense history would exceed
    ``hier_auto_cells`` cells (20 million) and SKUs span several zones.
    """
    s = _settings(settings)
    method = s.backend or "auto"
    FORECASTERS.info(method)
    with stopwatch() as elapsed:
        sh = build_sparse_history(history, horizon=horizon, start=start, events=events, options=s.options)
        n_skus = int(sh.series["sku"].nunique())
        auto_top_down = method == "auto" and "candidates" not in s.options and _hier.prefer_hierarchical(
            sh.n, sh.t, n_skus, s.options)
        if method == _hier.NAME or auto_top_down:
            parts = _hier.parts_from_sparse(sh, s.options)
    if method == _hier.NAME or auto_top_down:
        label = _hier.NAME if method == _hier.NAME else (
            f"auto chose {_hier.NAME} ({sh.n} series x {sh.t} periods, "
            f"{len(sh.qty) / max(sh.n * sh.t, 1):.2%} non-zero)")
        return _hier.fit_parts(parts, s.options, threads=s.threads, build_seconds=elapsed(),  # type: ignore[return-value]
                               label=label, budget=time_limit)
    with stopwatch() as elapsed:
        panel = sh.to_panel()
    return fit_panel(panel, method, s.options, build_seconds=elapsed(), threads=s.threads, budget=time_limit)
