"""Exponential smoothing with a damped trend on seasonally adjusted demand, for all series at once.

The series is first divided by multiplicative seasonal factors (weekly profile from the recent
weeks; yearly profile from a Fourier fit when at least two years of history exist), then an
ETS(A, Ad, N) recursion in error-correction form smooths level and damped trend. Smoothing
parameters are chosen per series from a small grid by in-sample one-step squared error; every
grid point of every series runs in the same numpy recursion (shape grid × series).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from engine.forecast.panel import Panel

ALPHAS = (0.03, 0.08, 0.15, 0.3, 0.5)
TRENDS = ((0.0, 0.0), (0.005, 0.9), (0.005, 0.98), (0.02, 0.9), (0.02, 0.98))  # (beta, phi)


def weekly_factors(y: np.ndarray, dow: np.ndarray, *, weeks: int = 26, prior: float = 5.0) -> np.ndarray:
    """(N, 7) multiplicative day-of-week factors (mean 1) from the last whole ``weeks`` weeks.

    ``prior`` pseudo-units per weekday shrink thin series towards a flat week.
    """
    n, t = y.shape
    span = min(t, 7 * weeks) // 7 * 7
    if span < 14:
        return np.ones((n, 7))
    tot = np.zeros((n, 7))
    np.add.at(tot.T, dow[t - span : t], y[:, t - span :].T)
    f = (tot + prior) / (tot.mean(axis=1, keepdims=True) + prior)
    return f / f.mean(axis=1, keepdims=True)


def yearly_factors(
    y: np.ndarray,
    dates: pd.DatetimeIndex,
    *,
    season: int,
    harmonics: int = 6,
    min_years: float = 2.0,
    shrink_units: float = 500.0,
) -> np.ndarray | None:
    """(N, len(dates)) multiplicative yearly factors, or None when history is under ``min_years``.

    Ratio of demand to its centred one-year moving average, regressed on Fourier terms of the
    day of the year (one least-squares solve for all series); each series is shrunk towards
    the volume-weighted pooled profile by ``units / (units + shrink_units)``.
    """
    n, t = y.shape
    if t < min_years * season:
        return None
    half = season // 2
    c = np.concatenate([np.zeros((n, 1)), np.cumsum(y, axis=1)], axis=1)
    mid = np.arange(half, t - half)
    cma = (c[:, mid + half] - c[:, mid - half]) / (2 * half)
    ratio = np.where(cma > 0, y[:, mid] / np.maximum(cma, 1e-12), 1.0)
    phase = (dates.day_of_year.to_numpy() - 1) / 365.25
    k = np.arange(1, harmonics + 1)
    ang = 2 * np.pi * phase[:, None] * k[None, :]
    x = np.concatenate([np.ones((len(dates), 1)), np.sin(ang), np.cos(ang)], axis=1)
    coef, *_ = np.linalg.lstsq(x[mid], ratio.T, rcond=None)  # (2K + 1, N)
    coef = coef / np.where(np.abs(coef[:1]) > 1e-9, coef[:1], 1.0)
    units = y[:, mid].sum(axis=1)
    pooled = (coef * units).sum(axis=1, keepdims=True) / max(units.sum(), 1e-9)
    lam = units / (units + shrink_units)
    coef = lam * coef + (1 - lam) * pooled
    return np.clip((x @ coef).T, 0.1, 10.0)


def seasonal_factors(p: Panel, opts: Mapping[str, Any], notes: list[str]) -> np.ndarray:
    """(N, T + h) multiplicative seasonal factors of the panel (weekly × yearly)."""
    n, t = p.y.shape
    f = np.ones((n, len(p.dates)))
    if opts.get("ets_yearly", True):
        fy = yearly_factors(
            p.y, p.dates, season=p.season_year,
            harmonics=int(opts.get("yearly_harmonics", 6)),
            min_years=float(opts.get("yearly_min_years", 2.0)),
        )
        if fy is not None:
            f = fy
        else:
            notes.append("ets: under two years of history, so no yearly seasonality")
    if p.season_week:
        if t < 14:
            notes.append("ets: under two weeks of history, so no weekday profile")
        dow = p.dates.day_of_week.to_numpy()
        fw = weekly_factors(p.y / f[:, :t], dow, weeks=int(opts.get("weekly_weeks", 26)))
        f = f * fw[:, dow]
    return f


def ets(p: Panel, opts: Mapping[str, Any], *, notes: list[str], seasonal: bool = True, trend: bool = True) -> np.ndarray:
    """Damped-trend exponential smoothing of the seasonally adjusted series; (N, h) forecast."""
    n, t = p.y.shape
    h = p.h
    f = seasonal_factors(p, opts, notes) if seasonal else np.ones((n, t + h))
    win = int(opts.get("ets_window", 2 * p.season_year))
    lo = max(0, t - win)
    y = p.y[:, lo:]
    x = y / f[:, lo:t]
    alphas = np.asarray(opts.get("ets_alphas", ALPHAS), dtype=float)
    trends = TRENDS if trend else TRENDS[:1]
    grid = np.array([(a, b, ph) for a in alphas for (b, ph) in trends if b <= a])
    a = grid[:, 0:1]
    b_ = grid[:, 1:2]
    phi = grid[:, 2:3]
    g = len(grid)
    m = min(x.shape[1], 7)
    level = np.broadcast_to(x[:, :m].mean(axis=1), (g, n)).copy()
    slope = np.zeros((g, n))
    sse = np.zeros((g, n))
    burn = min(14, x.shape[1] // 2)
    fs = f[:, lo:t]
    for j in range(x.shape[1]):
        pred = level + phi * slope
        err = x[:, j] - pred
        if j >= burn:
            sse += (err * fs[:, j]) ** 2
        level = pred + a * err
        slope = phi * slope + b_ * err
    best = sse.argmin(axis=0)
    cols = np.arange(n)
    lvl, slp, ph = level[best, cols], slope[best, cols], phi[best, 0]
    k = np.arange(1, h + 1)
    # sum_{i=1..k} phi^i, written for phi in [0, 1)
    damp = np.where(ph[:, None] > 0, ph[:, None] * (1 - ph[:, None] ** k) / np.maximum(1 - ph[:, None], 1e-9), 0.0)
    base = lvl[:, None] + slp[:, None] * damp
    return np.clip(base, 0.0, None) * f[:, t:]
