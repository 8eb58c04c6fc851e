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
GAMMAS = (0.0, 0.05, 0.15)  # weekday-profile smoothing: 0 keeps the starting profile


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


def _recursion(
    xs: np.ndarray, fs: np.ndarray, fw: np.ndarray, dows: np.ndarray,
    a: np.ndarray, b_: np.ndarray, phi: np.ndarray, gam: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run the smoothing recursions for G parameter sets at once.

    ``xs`` (N, T) demand over yearly factors, ``fs`` (N, T) those factors (errors are scored
    in units), ``fw`` (N, S) starting weekday factors, ``dows`` (T,) weekday of each period;
    parameters are (G, 1) or (G, N). Returns one-step SSE, level, slope (G, N), season (S, G, N).
    Float32 with in-place updates: the loop is memory-bound over (grid, series).
    """
    f32 = np.float32
    n, t = xs.shape
    a, b_, phi, gam = (np.asarray(v, dtype=f32) for v in (a, b_, phi, gam))
    g = a.shape[0]
    season = np.broadcast_to(fw.T[:, None, :], (fw.shape[1], g, n)).astype(f32)
    m = min(t, 7)
    level = np.broadcast_to((xs[:, :m] / fw[:, dows[:m]]).mean(axis=1), (g, n)).astype(f32)
    slope = np.zeros((g, n), f32)
    sse = np.zeros((g, n), f32)
    base, pred, err, tmp = (np.empty((g, n), f32) for _ in range(4))
    burn = min(14, t // 2)
    smooth_season = bool(np.any(gam > 0))
    for j in range(t):
        sd = season[dows[j]]
        np.multiply(phi, slope, out=slope)  # phi * b, reused below
        np.add(level, slope, out=base)
        np.multiply(base, sd, out=pred)
        np.subtract(xs[:, j], pred, out=err)
        if j >= burn:
            np.multiply(err, fs[:, j], out=tmp)
            np.multiply(tmp, tmp, out=tmp)
            sse += tmp
        if smooth_season:  # s[d] += gamma * e / (l + phi b), only where the level is positive
            np.maximum(base, f32(1e-6), out=pred)
            np.divide(err, pred, out=pred)
            pred *= gam
            pred *= base > 1e-6
        np.divide(err, sd, out=err)  # error in deseasonalised units
        np.multiply(a, err, out=tmp)
        np.add(base, tmp, out=level)
        np.multiply(b_, err, out=tmp)
        slope += tmp
        if smooth_season:
            sd += pred
            np.clip(sd, 0.05, 20.0, out=sd)
    return sse, level, slope, season


def ets(p: Panel, opts: Mapping[str, Any], *, notes: list[str], seasonal: bool = True, trend: bool = True) -> np.ndarray:
    """Damped-trend exponential smoothing with a smoothed weekday profile, on demand divided by
    its yearly factors; (N, h) forecast.

    Error-correction recursions, multiplicative weekday state s started from the recent profile:

        pred = (l + phi b) s[d];   e = y - pred
        l <- l + phi b + alpha e / s[d];   b <- phi b + beta e / s[d];   s[d] <- s[d] + gamma e / (l + phi b)

    Parameters per series in two stages, both by in-sample one-step squared error: (alpha,
    beta, phi) over a grid with a fixed profile, then gamma for the winner (half the work of
    a full grid).
    """
    n, t = p.y.shape
    h = p.h
    if seasonal:
        fy, fw = seasonal_factors(p, opts, notes)
    else:
        fy, fw = np.ones((n, t + h)), None
    if fw is None:
        fw = np.ones((n, 1))
        dow = np.zeros(len(p.dates), dtype=int)
    else:
        dow = p.dates.day_of_week.to_numpy()
    win = int(opts.get("ets_window", 2 * p.season_year))
    lo = max(0, t - win)
    xs = (p.y[:, lo:] / fy[:, lo:t]).astype(np.float32)
    fs = fy[:, lo:t].astype(np.float32)
    dows = dow[lo:t]
    alphas = np.asarray(opts.get("ets_alphas", ALPHAS), dtype=float)
    trends = TRENDS if trend else TRENDS[:1]
    grid = np.array([(a, b, ph) for a in alphas for (b, ph) in trends if b <= a])
    a, b_, phi = (grid[:, j : j + 1] for j in range(3))
    sse, level, slope, season = _recursion(xs, fs, fw, dows, a, b_, phi, np.zeros_like(a))
    cols = np.arange(n)
    best = sse.argmin(axis=0)
    lvl, slp, ph = level[best, cols], slope[best, cols], phi[best, 0]
    fut = season[:, best, cols]  # (S, N)
    gammas = [gm for gm in GAMMAS if gm > 0] if (seasonal and fw.shape[1] > 1) else []
    if gammas:
        gs = np.array(gammas)[:, None]
        pa, pb, pp = (np.broadcast_to(v[best, 0], (len(gs), n)) for v in (a, b_, phi))
        sse2, level2, slope2, season2 = _recursion(xs, fs, fw, dows, pa, pb, pp, np.broadcast_to(gs, (len(gs), n)))
        best2 = sse2.argmin(axis=0)
        better = sse2[best2, cols] < sse[best, cols]
        lvl = np.where(better, level2[best2, cols], lvl)
        slp = np.where(better, slope2[best2, cols], slp)
        fut = np.where(better[None, :], season2[:, best2, cols], fut)
    lvl, slp, ph = lvl.astype(float), slp.astype(float), ph.astype(float)
    k = np.arange(1, h + 1)
    # sum_{i=1..k} phi^i, written for phi in [0, 1)
    damp = np.where(ph[:, None] > 0, ph[:, None] * (1 - ph[:, None] ** k) / np.maximum(1 - ph[:, None], 1e-9), 0.0)
    base = lvl[:, None] + slp[:, None] * damp
    return np.clip(base, 0.0, None) * fut.T.astype(float)[:, dow[t:]] * fy[:, t:]
