"""Local point forecasters, each vectorised over all series of a panel.

Every kernel takes the (N, T) history of a :class:`Panel` cut at its origin and returns the
(N, h) mean forecast; Python loops run over time steps only, never over series.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.forecast.panel import Panel


def seasonal_naive(p: Panel, opts: Mapping[str, Any], *, season: int, notes: list[str]) -> np.ndarray:
    """Last observed value of the same season position: ŷ[T+k] = y[T+k-m·ceil(k/m)].

    Series with fewer than ``season`` periods of history get the mean of what they have.
    """
    y, h = p.y, p.h
    n, t = y.shape
    if t < season:
        notes.append(f"history of {t} periods is shorter than the season {season}: mean of the history used")
        return np.repeat(y.mean(axis=1, keepdims=True), h, axis=1)
    k = np.arange(1, h + 1)
    idx = t + k - season * np.ceil(k / season).astype(int) - 1
    return y[:, idx]


def moving_average(p: Panel, opts: Mapping[str, Any], *, notes: list[str]) -> np.ndarray:
    """Mean of the last ``ma_window`` periods (default 28 days / 8 weeks), flat over the horizon."""
    default = 28 if p.freq == "D" else 8
    w = int(opts.get("ma_window", default))
    w = max(1, min(w, p.t))
    m = p.y[:, -w:].mean(axis=1, keepdims=True)
    return np.repeat(m, p.h, axis=1)


def _croston_states(y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed demand size z and inter-demand interval q after the last period."""
    n, t = y.shape
    z = np.zeros(n)
    q = np.ones(n)
    since = np.ones(n)  # periods since the previous demand, counting the current one
    seen = np.zeros(n, dtype=bool)
    for j in range(t):
        col = y[:, j]
        hit = col > 0
        first = hit & ~seen
        upd = hit & seen
        z = np.where(first, col, np.where(upd, z + alpha * (col - z), z))
        q = np.where(first, since, np.where(upd, q + alpha * (since - q), q))
        seen |= hit
        since = np.where(hit, 1.0, since + 1.0)
    return z, q


def croston(p: Panel, opts: Mapping[str, Any], *, variant: str, notes: list[str]) -> np.ndarray:
    """Croston's method (``classic``) or its Syntetos–Boylan bias correction (``sba``).

    Demand size and interval are smoothed separately at demand occurrences; the rate is
    z / q, scaled by (1 - α/2) for SBA. Flat over the horizon.
    """
    alpha = float(opts.get("croston_alpha", 0.1))
    y = p.y[:, -int(opts.get("intermittent_window", 3 * 364)):]
    z, q = _croston_states(y, alpha)
    rate = np.where(z > 0, z / np.maximum(q, 1e-9), 0.0)
    if variant == "sba":
        rate = rate * (1.0 - alpha / 2.0)
    return np.repeat(rate[:, None], p.h, axis=1)


def tsb(p: Panel, opts: Mapping[str, Any], *, notes: list[str]) -> np.ndarray:
    """Teunter–Syntetos–Babai: the demand probability is smoothed every period (so it decays
    while no demand arrives), the size only at occurrences; forecast = probability × size."""
    a = float(opts.get("tsb_alpha", 0.1))  # size
    b = float(opts.get("tsb_beta", 0.1))  # probability
    y = p.y[:, -int(opts.get("intermittent_window", 3 * 364)):]
    n, t = y.shape
    hits = y > 0
    first_idx = np.where(hits.any(axis=1), hits.argmax(axis=1), t)
    z = np.zeros(n)
    prob = np.zeros(n)
    for j in range(t):
        col = y[:, j]
        hit = hits[:, j]
        started = j >= first_idx
        is_first = j == first_idx
        z = np.where(is_first, col, np.where(hit & started, z + a * (col - z), z))
        # at the first demand the probability starts at 1 / (periods until it)
        prob = np.where(is_first, 1.0 / (first_idx + 1.0), np.where(started, prob + b * (hit - prob), prob))
    return np.repeat((prob * z)[:, None], p.h, axis=1)
