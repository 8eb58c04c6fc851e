"""Event lifts for the local methods.

The global model sees the event calendar as features. Local methods (naive, ETS, Croston…)
cannot, so they get the classic adjustment: estimate a multiplicative lift per SKU and event
kind from the history, divide it out of the event days before fitting (so a promotion is not
read as a level shift or as noise), and multiply it back onto the event days of the horizon.

Lift of SKU s for kind k, summed over the SKU's zones, with a gamma-Poisson style prior:

    lift = (units on event days + a * pooled) / (expected units without lift + a)

where "expected" is the SKU's mean on non-event days times the number of event days and
``a`` (default 10 units) pulls thin SKUs towards the pooled lift of all SKUs.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from engine.forecast.panel import Panel


def lifts(p: Panel, *, prior_units: float = 10.0, max_lift: float = 10.0) -> np.ndarray | None:
    """(N, E) lift per series and event kind from the history of ``p``; None without events."""
    n, t = p.y.shape
    if p.ev.shape[1] == 0:
        return None
    on = p.ev[:t] > 0  # (T, E)
    if not on.any():
        return None
    any_on = on.any(axis=1)
    off_days = max(int((~any_on).sum()), 1)
    sku = p.series["sku"].to_numpy().astype(str)
    codes, inv = np.unique(sku, return_inverse=True)
    base = np.bincount(inv, weights=p.y[:, ~any_on].sum(axis=1), minlength=len(codes)) / off_days
    out = np.ones((n, on.shape[1]))
    for k in range(on.shape[1]):
        days = int(on[:, k].sum())
        if days == 0:
            continue
        got = np.bincount(inv, weights=p.y[:, on[:, k]].sum(axis=1), minlength=len(codes))
        exp = base * days
        pooled = got.sum() / exp.sum() if exp.sum() > 0 else 1.0
        lift = (got + prior_units * pooled) / (exp + prior_units)
        out[:, k] = np.clip(lift, 1.0 / max_lift, max_lift)[inv]
    return out


def deflate(p: Panel, lift: np.ndarray) -> Panel:
    """The panel with event days of the history divided by their lift."""
    t = p.t
    on = (p.ev[:t] > 0).astype(float)  # (T, E)
    factor = np.exp(np.log(lift) @ on.T)  # (N, T): product of the lifts of the kinds on that day
    return replace(p, y=p.y / factor)


def inflate(p: Panel, mean: np.ndarray, lift: np.ndarray) -> np.ndarray:
    """Multiply a (N, h) forecast by the lifts of the events on the horizon's days."""
    on = (p.ev[p.t :] > 0).astype(float)  # (h, E)
    return mean * np.exp(np.log(lift) @ on.T)
