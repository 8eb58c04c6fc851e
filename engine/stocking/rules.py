"""Simple stocking rules: per-warehouse newsvendor and days of cover, scaled to fit.

Both give each zone's demand in equal shares to the forward warehouses that cover it (and may
hold the SKU), decide a stock level per (SKU, warehouse), then scale down to respect capacity,
budget and the minimum lot. They are baselines, not optimisers: no bound is reported.
"""

from __future__ import annotations

import numpy as np

from engine.stocking.problem import StockingProblem


def split_demand(problem: StockingProblem, demand: np.ndarray | None = None) -> np.ndarray:
    """Scenario demand attributed to each (s, w): (S, W, K), equal shares among coverers."""
    d = problem.demand if demand is None else demand
    cov = problem.covers[None, :, :] & problem.allowed[:, :, None]  # (S, W, Z)
    n = cov.sum(axis=1, keepdims=True)
    share = np.where(n > 0, cov / np.maximum(n, 1), 0.0)
    return np.einsum("swz,szk->swk", share, d, optimize=True)


def weighted_quantile(x: np.ndarray, prob: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Lower ``level``-quantile of x (..., K) under scenario weights ``prob`` (K,)."""
    order = np.argsort(x, axis=-1, kind="stable")
    xs = np.take_along_axis(x, order, axis=-1)
    cum = np.cumsum(prob[order], axis=-1)
    idx = (cum < np.asarray(level)[..., None] - 1e-12).sum(axis=-1)
    idx = np.minimum(idx, x.shape[-1] - 1)
    return np.take_along_axis(xs, idx[..., None], axis=-1)[..., 0]


def fit_to_limits(problem: StockingProblem, q: np.ndarray) -> np.ndarray:
    """Scale a plan down (floor) so it respects capacity, budget, special storage and min lot
    (and, with starting inventory, the nightly transfer limit: moved-in units go first)."""
    q = np.where(problem.allowed, np.maximum(np.floor(q + 1e-9), 0.0), 0.0)
    if problem.on_hand is not None:
        q = _fit_moves(problem, q)
    vol = problem.volume_m3 @ q
    factor = np.where(vol > problem.capacity_m3, problem.capacity_m3 / np.maximum(vol, 1e-12), 1.0)
    q = np.floor(q * factor[None, :] + 1e-9)
    if problem.budget is not None:
        val = float((problem.unit_value @ q).sum())
        if val > problem.budget:
            q = np.floor(q * (problem.budget / val) + 1e-9)
    if problem.min_lot > 0:
        q = np.where(q >= problem.min_lot, q, 0.0)
    return q


def _fit_moves(problem: StockingProblem, q: np.ndarray) -> np.ndarray:
    """Shrink the moved-in part of ``q`` to the room left by kept stock and to the transfer limit."""
    h = np.where(problem.allowed, np.asarray(problem.on_hand), 0.0)
    kept = np.minimum(q, h)
    add = q - kept
    v = problem.volume_m3
    room = np.maximum(problem.capacity_m3 - v @ kept, 0.0)
    if problem.transfer_limit_m3 is not None:
        room = np.minimum(room, problem.transfer_limit_m3)
    need = v @ add
    factor = np.where(need > room, room / np.maximum(need, 1e-12), 1.0)
    scaled = add * factor[None, :]
    moved = np.floor(scaled + 1e-9)
    for w in np.flatnonzero(factor < 1.0):  # largest remainders first into the room that is left
        left = room[w] - float(v @ moved[:, w])
        for s in np.argsort(-(scaled[:, w] - moved[:, w]), kind="stable"):
            if scaled[s, w] - moved[s, w] <= 1e-9:
                break
            if v[s] <= left + 1e-12:
                moved[s, w] += 1.0
                left -= v[s]
    return kept + moved


def order_up_to(problem: StockingProblem, target: np.ndarray) -> np.ndarray:
    """A rule's target as an order-up-to plan: stock already there stays (no pull-backs)."""
    if problem.on_hand is None:
        return target
    return np.maximum(target, np.where(problem.allowed, np.asarray(problem.on_hand), 0.0))


def newsvendor(problem: StockingProblem) -> np.ndarray:
    """Critical-fractile stock per (s, w): quantile (f - c) / (f + l) of its demand share."""
    D = split_demand(problem)
    g = problem.gain[:, None]
    ratio = np.where(g > 0, (g - problem.charge) / np.where(g > 0, g, 1.0), 0.0)
    q = np.ceil(weighted_quantile(D, problem.probability, np.clip(ratio, 0.0, 1.0)) - 1e-9)
    q = np.where(ratio > 0, q, 0.0)
    return fit_to_limits(problem, order_up_to(problem, q))


def days_of_cover(problem: StockingProblem, cover_days: float | None = None) -> np.ndarray:
    """Stock = mean daily demand share x cover days (default: the cycle length)."""
    days = float(problem.cycle_days if cover_days is None else cover_days)
    D = split_demand(problem)
    daily = (D @ problem.probability) / problem.cycle_days
    return fit_to_limits(problem, order_up_to(problem, np.ceil(daily * days - 1e-9)))
