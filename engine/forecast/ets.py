"""Exponential smoothing with a damped trend on seasonally adjusted demand, for all series at once.

The series is first divided by a multiplicative yearly profile (a Fourier fit, when at least
two years of history exist); then an ETS(A, Ad, M)-style recursion in error-correction form
smooths level, damped trend and a multiplicative weekday profile (started from the recent
weeks). Smoothing parameters are chosen per series from a small grid by in-sample one-step
squared error; every grid point of every series runs in the same numpy recursion
(shape grid × series).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from engine.forecast.panel import Panel

ALPHAS = (0.03, 0.08, 0.15, 0.3, 0.5)
TRENDS = ((0.0, 0.0), (0.005, 0.9), (0.005, 0.98), (0.02, 0.9), (0.02, 0.98))  # (beta, phi)
GAMMAS = (0.0, 0.05)  # weekday-profile smoothing: 0 keeps the starting profile


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


def seasonal_factors(p: Panel, opts: Mapping[str, Any], notes: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Yearly factors (N, T + h) and starting weekday factors (N, 7), None for weekly data."""
    n, t = p.y.shape
    fy = np.ones((n, len(p.dates)))
    if opts.get("ets_yearly", True):
        got = yearly_factors(
            p.y, p.dates, season=p.season_year,
            harmonics=int(opts.get("yearly_harmonics", 6)),
            min_years=float(opts.get("yearly_min_years", 2.0)),
        )
        if got is not None:
            fy = got
        else:
            notes.append("ets: under two years of history, so no yearly seasonality")
    fw = None
    if p.season_week:
        if t < 14:
            notes.append("ets: under two weeks of history, so no weekday profile")
        dow = p.dates.day_of_week.to_numpy()
        fw = weekly_factors(p.y / fy[:, :t], dow, weeks=int(opts.get("weekly_weeks", 26)))
    return fy, fw


def ets(p: Panel, opts: Mapping[str, Any], *, notes: list[str], seasonal: bool = True, trend: bool = True) -> np.ndarray:
    """Damped-trend exponential smoothing with a smoothed weekday profile, on demand divided by
    its yearly factors; (N, h) forecast.

    Error-correction recursions per grid point (alpha, beta, phi, gamma), multiplicative weekday
    state s started from the recent weekday profile:

        pred = (l + phi b) s[d];   e = y - pred
        l <- l + phi b + alpha e / s[d];   b <- phi b + beta e / s[d];   s[d] <- s[d] + gamma e / (l + phi b)
    """
    n, t = p.y.shape
    h = p.h
    if seasonal:
        fy, fw = seasonal_factors(p, opts, notes)
    else:
        fy, fw = np.ones((n, t + h)), None
    dow = p.dates.day_of_week.to_numpy() if fw is not None else np.zeros(len(p.dates), dtype=int)
    if fw is None:
        fw = np.ones((n, 1))
        dow = np.zeros(len(p.dates), dtype=int)
    win = int(opts.get("ets_window", 2 * p.season_year))
    lo = max(0, t - win)
    x = p.y[:, lo:] / fy[:, lo:t]
    alphas = np.asarray(opts.get("ets_alphas", ALPHAS), dtype=float)
    trends = TRENDS if trend else TRENDS[:1]
    gammas = GAMMAS if (seasonal and fw.shape[1] > 1) else (0.0,)
    grid = np.array([(a, b, ph, gm) for a in alphas for (b, ph) in trends if b <= a for gm in gammas])
    a, b_, phi, gam = (grid[:, j : j + 1] for j in range(4))
    g = len(grid)
    season = np.broadcast_to(fw, (g, *fw.shape)).copy()  # (G, N, 7)
    m = min(x.shape[1], 7)
    level = np.broadcast_to((x[:, :m] / fw[:, dow[lo : lo + m]]).mean(axis=1), (g, n)).copy()
    slope = np.zeros((g, n))
    sse = np.zeros((g, n))
    burn = min(14, x.shape[1] // 2)
    fs = fy[:, lo:t]
    for j in range(x.shape[1]):
        d = dow[lo + j]
        sd = season[:, :, d]
        base = level + phi * slope
        err = x[:, j] - base * sd
        if j >= burn:
            sse += (err * fs[:, j]) ** 2
        e_adj = err / sd
        level = base + a * e_adj
        slope = phi * slope + b_ * e_adj
        season[:, :, d] = np.clip(np.where(base > 1e-6, sd + gam * err / np.maximum(base, 1e-6), sd), 0.05, 20.0)
    best = sse.argmin(axis=0)
    cols = np.arange(n)
    lvl, slp, ph = level[best, cols], slope[best, cols], phi[best, 0]
    k = np.arange(1, h + 1)
    # sum_{i=1..k} phi^i, written for phi in [0, 1)
    damp = np.where(ph[:, None] > 0, ph[:, None] * (1 - ph[:, None] ** k) / np.maximum(1 - ph[:, None], 1e-9), 0.0)
    base = lvl[:, None] + slp[:, None] * damp
    fut_season = season[best, cols][:, dow[t:]]  # (N, h)
    return np.clip(base, 0.0, None) * fut_season * fy[:, t:]
