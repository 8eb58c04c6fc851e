"""Exact subproblem of one SKU (scipy's HiGHS, which coexists with OR-Tools in one process).

Two uses in the decomposition:

* bound: at capacity/budget prices, the SKU's priced two-stage problem with integer stock and
  the fixed cost replaced by its LP share F/U (never more than the true cost, so the value is
  an upper bound on the SKU's Lagrangian term);
* plan: the SKU's true problem (fixed costs and minimum lot exact) with stock limited to what
  the other SKUs leave free of capacity and budget: an exact block-coordinate step.
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
    upper: np.ndarray,  # (W,) upper bound on stock (0 = not allowed / no room)
    *,
    integer: bool = True,
    fixed: np.ndarray | None = None,  # (W,) slot fixed cost, modelled exactly with binaries
    min_lot: int = 0,
    value_per_unit: float = 0.0,
    money: float | None = None,  # budget left for this SKU
    time_limit: float = 2.0,
) -> tuple[float, np.ndarray] | None:
    """(upper bound on the optimal value, best stock found), or None if HiGHS failed."""
    W, P = cov.shape
    # scenarios with the same demand vector are one scenario with their summed probability
    # (exact); low-volume SKUs repeat many scenarios, so this shrinks their model a lot
    uniq, inv = np.unique(dem.T, axis=0, return_inverse=True)
    if uniq.shape[0] < dem.shape[1]:
        prob = np.bincount(inv.ravel(), weights=prob, minlength=uniq.shape[0])
        dem = np.ascontiguousarray(uniq.T)
    K = dem.shape[1]
    upper = np.floor(np.maximum(upper, 0.0) + 1e-9)
    aw, ap = np.nonzero(cov)
    keep = upper[aw] > 0
    aw, ap = aw[keep], ap[keep]
    pos = dem[ap, :] > 0  # (A, K): x[a, k] only where the group has demand
    xa, xk = np.nonzero(pos)
    n_x = xa.size
    if n_x == 0:
        return 0.0, np.zeros(W)
    slot = fixed is not None and (np.any(fixed > 0) or min_lot > 1)
    n_y = W if slot else 0
    n = W + n_y + n_x
    x0 = W + n_y
    c = np.concatenate([price, fixed if slot else np.zeros(0), -gain * prob[xk]])  # minimise -(value)
    s_row = aw[xa] * K + xk
    d_row = W * K + ap[xa] * K + xk
    rows = [s_row, d_row, np.repeat(np.arange(W) * K, K) + np.tile(np.arange(K), W)]
    cols = [x0 + np.arange(n_x), x0 + np.arange(n_x), np.repeat(np.arange(W), K)]
    vals = [np.ones(n_x), np.ones(n_x), -np.ones(W * K)]
    n_rows = W * K + P * K
    lo_rows = [np.full(n_rows, -np.inf)]
    hi_rows = [np.concatenate([np.zeros(W * K), dem.ravel()])]
    if slot:  # q <= U y and q >= m y
        r0 = n_rows
        rows += [r0 + np.arange(W), r0 + np.arange(W), r0 + W + np.arange(W), r0 + W + np.arange(W)]
        cols += [np.arange(W), W + np.arange(W), np.arange(W), W + np.arange(W)]
        vals += [np.ones(W), -upper, np.ones(W), -np.full(W, float(max(min_lot, 0)))]
        lo_rows += [np.full(W, -np.inf), np.zeros(W)]
        hi_rows += [np.zeros(W), np.full(W, np.inf)]
        n_rows += 2 * W
    if money is not None:
        rows.append(np.full(W, n_rows))
        cols.append(np.arange(W))
        vals.append(np.full(W, value_per_unit))
        lo_rows.append(np.array([-np.inf]))
        hi_rows.append(np.array([max(money, 0.0)]))
        n_rows += 1
    M = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, n))
    lo_r, hi_r = np.concatenate(lo_rows), np.concatenate(hi_rows)
    used = np.diff(M.indptr) > 0
    M, lo_r, hi_r = M[used], lo_r[used], hi_r[used]
    ub = np.concatenate([upper, np.ones(n_y), dem[ap[xa], xk]])
    integrality = np.concatenate([np.full(W, 1 if integer else 0), np.ones(n_y), np.zeros(n_x)])
    res = milp(c, constraints=LinearConstraint(M, lo_r, hi_r), bounds=Bounds(np.zeros(n), ub),
               integrality=integrality, options={"time_limit": time_limit, "mip_rel_gap": 1e-7})
    if res.x is None:
        return None
    value = -float(res.fun)
    bound = value
    dual = getattr(res, "mip_dual_bound", None)
    if res.status != 0:
        if not (integer and dual is not None and np.isfinite(dual)):
            return None
        bound = max(value, -float(dual))
    elif integer and dual is not None and np.isfinite(dual):
        bound = max(value, -float(dual))
    q = np.rint(res.x[:W]) if integer else res.x[:W]
    return bound, np.minimum(np.maximum(q, 0.0), upper)
