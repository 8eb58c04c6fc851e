"""The exact deterministic-equivalent MIP, built from arrays (no per-variable Python loops).

Columns, in order: q[s,w] (integer units), y[s,w] (binary slotting, only when the problem has
fixed costs or a minimum lot), x[s,a,k] (fast-served units on arc a = (warehouse, zone group)
in scenario k, only where the group has demand). Rows: stock (sum_a x <= q per s,w,k),
demand (sum_a x <= d per s,p,k), capacity (per w), budget, slot-open (q <= U y) and
min-lot (q >= m y). Zones with identical coverage are merged, which is exact because the value
of a fast unit does not depend on the zone.

With starting inventory h (``problem.on_hand``) two more column blocks follow the x columns,
a[s,w] units moved in and b[s,w] units pulled back, with the balance rows q - a + b = h and,
if the problem limits it, one nightly-transfer row per warehouse (sum_s v_s a[s,w] <= T_w).
q is then charged keep_cost + leftover, a the extra of a moved unit (unit_cost - keep_cost), b
the pull-back cost: exactly the piecewise first-stage cost of the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from engine.stocking.problem import StockingProblem

INF = 1e30


@dataclass(frozen=True, slots=True)
class LinearModel:
    """A maximisation MIP: max c.x s.t. row_lb <= A x <= row_ub, lb <= x <= ub."""

    c: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    integer: np.ndarray  # bool per column
    A: sp.csc_matrix
    row_lb: np.ndarray
    row_ub: np.ndarray
    row_family: np.ndarray  # int code per row, see FAMILIES
    n_q: int
    n_y: int
    S: int
    W: int

    @property
    def n_cols(self) -> int:
        return int(self.c.size)

    @property
    def n_rows(self) -> int:
        return int(self.row_lb.size)

    def units(self, col_value: np.ndarray) -> np.ndarray:
        return np.asarray(col_value[: self.n_q]).reshape(self.S, self.W)

    def save(self, path: Path) -> None:
        A = self.A.tocsc()
        np.savez(
            path, c=self.c, lb=self.lb, ub=self.ub, integer=self.integer,
            indptr=A.indptr, indices=A.indices, data=A.data, shape=np.array(A.shape),
            row_lb=self.row_lb, row_ub=self.row_ub, row_family=self.row_family,
            dims=np.array([self.n_q, self.n_y, self.S, self.W]),
        )

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        with np.load(path, allow_pickle=False) as z:
            A = sp.csc_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
            n_q, n_y, S, W = (int(v) for v in z["dims"])
            return cls(z["c"], z["lb"], z["ub"], z["integer"], A, z["row_lb"], z["row_ub"],
                       z["row_family"], n_q, n_y, S, W)


FAMILIES = ("stock", "demand", "capacity", "budget", "slot_open", "min_lot", "on_hand", "transfer")


def build_model(problem: StockingProblem, *, relax: bool = False) -> LinearModel:
    """Deterministic equivalent of the SAA problem (``relax`` drops integrality)."""
    S, W, Z, K = problem.shape
    groups = problem.zone_groups()
    cov = groups.covers  # (W, P)
    dem = problem.grouped_demand()  # (S, P, K)
    P = cov.shape[1]
    gain, charge, prob = problem.gain, problem.charge, problem.probability
    slot = problem.has_slotting
    U = problem.upper_units()  # (S, W)
    if problem.min_lot > 0:
        U = np.where(U > 0, np.maximum(U, problem.min_lot), 0.0)
    n_q = S * W
    n_y = S * W if slot else 0

    # arcs (w, p) of the coverage graph, and x columns for (s, a, k) with demand
    arc_w, arc_p = np.nonzero(cov)
    A_ = arc_w.size
    pos = dem[:, arc_p, :] > 0  # (S, A, K)
    pos &= problem.allowed[:, arc_w][:, :, None]
    xs, xa, xk = np.nonzero(pos)
    n_x = xs.size
    x0 = n_q + n_y

    # rows: stock rows for used (s, w, k); demand rows for (s, p, k) with demand
    stock_key = (xs * W + arc_w[xa]) * K + xk
    stock_keys, stock_row_of_x = np.unique(stock_key, return_inverse=True)
    n_stock = stock_keys.size
    dem_key = (xs * P + arc_p[xa]) * K + xk
    dem_keys, dem_row_of_x = np.unique(dem_key, return_inverse=True)
    n_dem = dem_keys.size
    r_stock, r_dem = 0, n_stock
    r_cap = n_stock + n_dem
    has_budget = problem.budget is not None
    r_bud = r_cap + W
    r_open = r_bud + (1 if has_budget else 0)
    r_lot = r_open + (n_q if slot else 0)
    use_lot = slot and problem.min_lot > 0
    n_rows = r_lot + (n_q if use_lot else 0)

    rows, cols, vals = [], [], []
    xcol = x0 + np.arange(n_x)
    # x in stock and demand rows
    rows += [r_stock + stock_row_of_x.ravel(), r_dem + dem_row_of_x.ravel()]
    cols += [xcol, xcol]
    vals += [np.ones(n_x), np.ones(n_x)]
    # -q in its stock rows
    sk_s = stock_keys // (W * K)
    sk_w = (stock_keys // K) % W
    rows.append(r_stock + np.arange(n_stock))
    cols.append(sk_s * W + sk_w)
    vals.append(-np.ones(n_stock))
    # capacity
    qs, qw = np.divmod(np.arange(n_q), W)
    rows.append(r_cap + qw)
    cols.append(np.arange(n_q))
    vals.append(problem.volume_m3[qs])
    if has_budget:
        rows.append(np.full(n_q, r_bud))
        cols.append(np.arange(n_q))
        vals.append(problem.unit_value[qs])
    if slot:
        rows += [r_open + np.arange(n_q), r_open + np.arange(n_q)]
        cols += [np.arange(n_q), n_q + np.arange(n_q)]
        vals += [np.ones(n_q), -U.ravel()]
        if use_lot:
            rows += [r_lot + np.arange(n_q), r_lot + np.arange(n_q)]
            cols += [np.arange(n_q), n_q + np.arange(n_q)]
            vals += [np.ones(n_q), -np.full(n_q, float(problem.min_lot))]
    n_cols = x0 + n_x
    A = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, n_cols)
    )
    A.sum_duplicates()

    row_lb = np.full(n_rows, -INF)
    row_ub = np.zeros(n_rows)
    d_s, d_pk = np.divmod(dem_keys, P * K)
    d_p, d_k = np.divmod(d_pk, K)
    row_ub[r_dem:r_cap] = dem[d_s, d_p, d_k]
    row_ub[r_cap:r_bud] = problem.capacity_m3
    if has_budget:
        row_ub[r_bud] = float(problem.budget)  # type: ignore[arg-type]
    if use_lot:
        row_lb[r_lot:] = 0.0
        row_ub[r_lot:] = INF
    fam = np.zeros(n_rows, dtype=np.int8)
    fam[r_dem:r_cap] = 1
    fam[r_cap:r_bud] = 2
    fam[r_bud:r_open] = 3
    fam[r_open:r_lot] = 4
    fam[r_lot:] = 5

    c = np.empty(n_cols)
    c[:n_q] = -charge.ravel()
    if slot:
        c[n_q:x0] = -problem.fixed_cost.ravel()
    c[x0:] = prob[xk] * gain[xs]
    lb = np.zeros(n_cols)
    ub = np.empty(n_cols)
    ub[:n_q] = U.ravel()
    if slot:
        ub[n_q:x0] = (U.ravel() > 0).astype(float)
    ub[x0:] = dem[xs, arc_p[xa], xk]
    integer = np.zeros(n_cols, dtype=bool)
    if not relax:
        integer[:x0] = True
    del A_, Z
    model = LinearModel(c, lb, ub, integer, A, row_lb, row_ub, fam, n_q, n_y, S, W)
    return _with_start(model, problem) if problem.has_start else model


def _with_start(m: LinearModel, problem: StockingProblem) -> LinearModel:
    """Add the moved-in / pulled-back columns and their rows (see the module docstring)."""
    S, W = m.S, m.W
    n_q = S * W
    h = np.asarray(problem.on_hand).ravel()
    keep, unit = np.asarray(problem.keep_cost).ravel(), problem.unit_cost.ravel()
    pull = np.asarray(problem.pull_back_cost).ravel()
    c = m.c.copy()
    c[:n_q] = -(keep + np.repeat(problem.leftover_cost, W))  # q pays what staying costs
    a0 = m.n_cols
    b0 = a0 + n_q
    r0 = m.n_rows
    q_idx = np.arange(n_q)
    rows = [r0 + q_idx, r0 + q_idx, r0 + q_idx]
    cols = [q_idx, a0 + q_idx, b0 + q_idx]
    vals = [np.ones(n_q), -np.ones(n_q), np.ones(n_q)]
    lim = problem.transfer_limit_m3
    limited = np.zeros(W, bool) if lim is None else np.isfinite(lim)
    t_rows = np.flatnonzero(limited)
    if t_rows.size:
        qs, qw = np.divmod(q_idx, W)
        sel = limited[qw]
        rank = np.cumsum(limited) - 1  # row of each limited warehouse
        rows.append(r0 + n_q + rank[qw[sel]])
        cols.append(a0 + q_idx[sel])
        vals.append(problem.volume_m3[qs[sel]])
    n_rows = r0 + n_q + t_rows.size
    extra = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n_rows, b0 + n_q))
    A = sp.vstack([sp.hstack([m.A, sp.csc_matrix((r0, 2 * n_q))]),
                   sp.csc_matrix((n_rows - r0, b0 + n_q))]).tocsc() + extra
    row_lb = np.concatenate([m.row_lb, h, np.full(t_rows.size, -INF)])
    row_ub = np.concatenate([m.row_ub, h, lim[t_rows] if lim is not None else np.zeros(0)])
    fam = np.concatenate([m.row_family, np.full(n_q, 6, np.int8), np.full(t_rows.size, 7, np.int8)])
    U = m.ub[:n_q]
    c = np.concatenate([c, -(unit - keep), -pull])
    lb = np.concatenate([m.lb, np.zeros(2 * n_q)])
    ub = np.concatenate([m.ub, U, np.minimum(h, INF)])
    integer = np.concatenate([m.integer, np.zeros(2 * n_q, bool)])
    return LinearModel(c, lb, ub, integer, A.tocsc(), row_lb, row_ub, fam, n_q, m.n_y, S, W)
