"""Exact priced subproblem of one SKU (scipy's HiGHS, which coexists with OR-Tools).

At capacity/budget prices the model separates by SKU; this solves one SKU's two-stage problem
exactly (integer stock; the fixed cost enters through its LP share F/U, as in the bound) and
returns a valid upper bound on its value and its best stock vector. The decomposition calls it
only for the SKUs whose heuristic bound is loosest.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp


def solve_sku(
    dem: np.ndarray,  # (P, K) grouped demand of the SKU
    cov: np.ndarray,  # (W, P)
    prob: np.ndarray,  # (K,)
    gain: float,
    price: np.ndarray,  # (W,) per-unit price of stock
    upper: np.ndarray,  # (W,) useful upper bound on stock (0 = not allowed)
    *,
    integer: bool = True,
    time_limit: float = 2.0,
) -> tuple[float, np.ndarray] | None:
    """(upper bound on the SKU's priced value, best stock found), or None if HiGHS failed."""
    W, P = cov.shape
    K = dem.shape[1]
    aw, ap = np.nonzero(cov)
    keep = (upper[aw] > 0)
    aw, ap = aw[keep], ap[keep]
    A = aw.size
    if A == 0:
        return 0.0, np.zeros(W)
    # x[a, k] only where the group has demand
    pos = dem[ap, :] > 0  # (A, K)
    xa, xk = np.nonzero(pos)
    n_x = xa.size
    if n_x == 0:
        return 0.0, np.zeros(W)
    n = W + n_x
    c = np.concatenate([price, -gain * prob[xk]])  # minimise -(value)
    # stock rows (w, k): sum x - q <= 0 ; demand rows (p, k): sum x <= d
    s_row = aw[xa] * K + xk
    d_row = W * K + ap[xa] * K + xk
    rows = np.concatenate([s_row, d_row, np.repeat(np.arange(W) * K, K) + np.tile(np.arange(K), W)])
    cols = np.concatenate([W + np.arange(n_x), W + np.arange(n_x), np.repeat(np.arange(W), K)])
    vals = np.concatenate([np.ones(n_x), np.ones(n_x), -np.ones(W * K)])
    M = sp.csr_matrix((vals, (rows, cols)), shape=(W * K + P * K, n))
    ub_rows = np.concatenate([np.zeros(W * K), dem.ravel()])
    used = np.asarray((M != 0).sum(axis=1)).ravel() > 0
    M, ub_rows = M[used], ub_rows[used]
    lb = np.zeros(n)
    ub = np.concatenate([upper, dem[ap[xa], xk]])
    integrality = np.concatenate([np.full(W, 1 if integer else 0), np.zeros(n_x)])
    res = milp(c, constraints=LinearConstraint(M, -np.inf, ub_rows), bounds=Bounds(lb, ub),
               integrality=integrality, options={"time_limit": time_limit, "mip_rel_gap": 1e-7})
    if res.x is None:
        return None
    value = -float(res.fun)
    bound = value
    dual = getattr(res, "mip_dual_bound", None)
    if integer and dual is not None and np.isfinite(dual):
        bound = max(value, -float(dual))
    elif res.status != 0:
        return None
    q = np.rint(res.x[:W]) if integer else res.x[:W]
    return bound, q
