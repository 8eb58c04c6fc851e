"""Valid upper bounds for the per-SKU subproblems at given capacity/budget prices.

For SKU s at prices, the LP relaxation of its subproblem has the dual

    min  sum_{p,k} d[p,k] * beta[p,k]
    s.t. alpha[w,k] + beta[p,k] >= P_k g   for w covering p,
         sum_k alpha[w,k] <= price[w],  alpha, beta >= 0,

so with a[w,k] = alpha[w,k] / (P_k g) in [0, 1] and sum_k P_k a[w,k] <= price[w] / g
("mass"), the bound is  g * sum_{p,k} P_k d[p,k] (1 - min_{w covers p} a[w,k]).  Any such ``a``
gives a valid bound. We start from the min cuts of the current plan (stock that binds in a
scenario gets a = 1), spend the rest of the mass on tie scenarios (evenly, or aligned on the
high-demand scenarios), and improve with exact block-coordinate steps: for one warehouse,
with the others fixed, the best ``a`` is a fractional knapsack over scenario segments.
"""

from __future__ import annotations

import numpy as np


def _sku_values(a: np.ndarray, dem: np.ndarray, cov: np.ndarray, gp: np.ndarray) -> np.ndarray:
    """Per-SKU dual objective for ``a`` (S, W, K)."""
    tot = np.zeros(a.shape[0])
    for j in range(cov.shape[1]):
        amin = a[:, cov[:, j], :].min(axis=1)
        tot += (dem[:, j, :] * gp * (1.0 - amin)).sum(axis=1)
    return tot


def _start(delta: np.ndarray, mass: np.ndarray, prob: np.ndarray, key: np.ndarray, tol: float) -> list[np.ndarray]:
    lo = (delta > tol).astype(np.float32)
    tie = (np.abs(delta) <= tol).astype(np.float32)
    p32 = prob.astype(np.float32)
    lo_m = lo @ p32
    tie_m = tie @ p32
    over = lo_m > mass
    scale = np.where(over, mass / np.maximum(lo_m, 1e-30), 1.0).astype(np.float32)
    left = np.where(over, 0.0, mass - lo_m).astype(np.float32)
    theta = np.clip(left / np.maximum(tie_m, 1e-30), 0.0, 1.0)
    a_even = lo * scale[:, :, None] + tie * theta[:, :, None]
    order = np.argsort(-key, axis=1, kind="stable")
    p_ord = p32[order]
    tie_ord = np.take_along_axis(tie, order[:, None, :], axis=2)
    cum = np.cumsum(tie_ord * p_ord[:, None, :], axis=2) - tie_ord * p_ord[:, None, :]
    fill_ord = np.clip((left[:, :, None] - cum) / np.maximum(p_ord[:, None, :], 1e-30), 0.0, 1.0) * tie_ord
    fill = np.empty_like(fill_ord)
    np.put_along_axis(fill, order[:, None, :], fill_ord, axis=2)
    return [a_even, lo * scale[:, :, None] + fill]


def _coordinate_step(a: np.ndarray, w: int, dem: np.ndarray, cov: np.ndarray, mass_w: np.ndarray,
                     prob: np.ndarray, active: np.ndarray) -> None:
    """Best a[:, w, :] with the other warehouses fixed (in place), for SKUs in ``active``."""
    J = np.flatnonzero(cov[w])
    if not J.size or not active.any():
        return
    rows = np.flatnonzero(active)
    A = a[rows]
    S, K = rows.size, a.shape[2]
    m = np.ones((S, J.size, K), dtype=np.float32)
    for i, j in enumerate(J):
        others = np.flatnonzero(cov[:, j])
        others = others[others != w]
        if others.size:
            m[:, i, :] = A[:, others, :].min(axis=1)
    d = dem[rows][:, J, :]
    o = np.argsort(m, axis=1, kind="stable")
    ms = np.take_along_axis(m, o, axis=1)
    ds = np.take_along_axis(d, o, axis=1)
    rate = np.flip(np.cumsum(np.flip(ds, axis=1), axis=1), axis=1)  # demand still reachable
    prev = np.concatenate([np.zeros((S, 1, K), np.float32), ms[:, :-1, :]], axis=1)
    length = (ms - prev) * prob.astype(np.float32)[None, None, :]  # mass of each segment
    rate_f = rate.reshape(S, -1)
    len_f = length.reshape(S, -1)
    order = np.argsort(-rate_f, axis=1, kind="stable")
    r_o = np.take_along_axis(rate_f, order, axis=1)
    l_o = np.take_along_axis(len_f, order, axis=1) * (r_o > 0)
    cum = np.cumsum(l_o, axis=1) - l_o
    take_o = np.clip(mass_w[rows][:, None] - cum, 0.0, l_o)
    take = np.empty_like(take_o)
    np.put_along_axis(take, order, take_o, axis=1)
    a_new = take.reshape(S, J.size, K).sum(axis=1) / np.maximum(prob.astype(np.float32), 1e-30)[None, :]
    a[rows, w, :] = np.clip(a_new, 0.0, 1.0)


def sku_bounds(
    delta: np.ndarray,
    dem: np.ndarray,
    cov: np.ndarray,
    prob: np.ndarray,
    g: np.ndarray,
    price: np.ndarray,
    free: np.ndarray,
    *,
    sweeps: int = 2,
    tol: float = 1e-4,
) -> np.ndarray:
    """Upper bound on each SKU's priced subproblem value (S,), excluding price x capacity."""
    gpos = g > 0
    mass = np.where(gpos[:, None], price / np.where(gpos, g, 1.0)[:, None], 0.0).astype(np.float32)
    gp = (g[:, None] * prob[None, :]).astype(np.float32)
    key = dem.sum(axis=1)
    best_val = None
    best_a = None
    for a in _start(delta, mass, prob, key, tol):
        a[free] = 1.0
        val = _sku_values(a, dem, cov, gp)
        if best_val is None:
            best_val, best_a = val, a
        else:
            better = val < best_val
            best_a[better] = a[better]
            best_val = np.where(better, val, best_val)
    assert best_a is not None and best_val is not None
    a = best_a
    W = cov.shape[0]
    for _ in range(sweeps):
        for w in range(W):
            _coordinate_step(a, w, dem, cov, mass[:, w], prob, ~free[:, w])
        best_val = np.minimum(best_val, _sku_values(a, dem, cov, gp))
    return best_val
