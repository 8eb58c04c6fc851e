"""Exact second stage: fast-served units for given stock, vectorised over SKUs and scenarios.

For one SKU and scenario the second stage is a bipartite max-flow: warehouses with stock q_w,
zone groups with demand d_p, arcs where w covers p. Because one fast unit is worth the same
wherever it goes, only the flow value matters, and by max-flow/min-cut

    flow(q) = min over warehouse subsets T of  q(W \\ T) + d(groups touched by T).

``cut_oracle`` enumerates the 2^W subsets with one matrix product per SKU chunk (W <= 14).
Beside the flow it returns, per warehouse, delta = A_w - B_w where A_w (B_w) is the minimum over
subsets containing (not containing) w. Then, holding the other stocks fixed,

    flow(q + t e_w) = flow + min(t, max(delta, 0))      (room to add)
    flow(q - t e_w) = flow - max(0, t - max(-delta, 0)) (slack to remove)

which is all the decomposition needs for exact one-dimensional moves and for its dual bound.
``allocation`` returns an optimal allocation per warehouse (scipy max-flow) for reporting.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow

from engine.errors import BackendError

MAX_ENUM_W = 14


def _subsets(W: int) -> np.ndarray:
    """(2^W, W) bool: bit w of t set <=> w in T."""
    t = np.arange(2**W, dtype=np.int64)
    return ((t[:, None] >> np.arange(W)[None, :]) & 1).astype(bool)


def _min_except_each_axis(X: np.ndarray, n_lead: int, axes: list[int], out: dict[int, np.ndarray]) -> None:
    """For every axis a in ``axes`` (size 2 each), the min of X over all other listed axes.

    Divide and conquer: two reductions of the full array per level instead of one per axis.
    """
    if len(axes) == 1:
        out[axes[0]] = X
        return
    half = len(axes) // 2
    first, second = axes[:half], axes[half:]
    # positions of the listed axes in X are n_lead + index in ``axes``
    pos = {a: n_lead + i for i, a in enumerate(axes)}
    X1 = X.min(axis=tuple(pos[a] for a in second))
    X2 = X.min(axis=tuple(pos[a] for a in first))
    _min_except_each_axis(X1, n_lead, first, out)
    _min_except_each_axis(X2, n_lead, second, out)


class CutOracle:
    """Min-cut enumeration for a fixed coverage graph (W warehouses x P zone groups)."""

    def __init__(self, covers: np.ndarray, *, chunk_rows: int = 16384) -> None:
        W, P = covers.shape
        if W > MAX_ENUM_W:
            raise BackendError(
                f"the cut oracle enumerates 2^W warehouse subsets and supports W <= {MAX_ENUM_W} "
                f"forward warehouses (got {W}); use an exact MIP back-end"
            )
        self.W, self.P = W, P
        T = _subsets(W)
        touched = (T.astype(np.float32) @ covers.astype(np.float32)) > 0  # (2^W, P)
        self.touch = np.ascontiguousarray(touched.T.astype(np.float32))  # (P, 2^W)
        self.outside = np.ascontiguousarray((~T).T.astype(np.float32))  # (W, 2^W)
        self.chunk_rows = chunk_rows

    def __call__(
        self, q: np.ndarray, dem: np.ndarray, *, want_delta: bool = True, threads: int = 1
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """q (S, W), dem (S, P, K) -> flow (S, K) and delta (S, W, K) (or None).

        SKU chunks are independent; with ``threads`` > 1 they run in a thread pool (numpy
        releases the GIL in the matrix product and the reductions).
        """
        S, P, K = dem.shape
        qf = q.astype(np.float32)
        # a (SKU, scenario) without demand has flow 0 and can give up all its stock (T = every
        # warehouse: delta_w = 0 - q_w); only the others are enumerated. Demand is sparse at
        # scale (about 10% of the pairs of a 20 000-SKU city have any), so this is most of it.
        flow = np.zeros((S, K), dtype=np.float64)
        delta = None
        if want_delta:
            delta = np.empty((S, self.W, K), dtype=np.float32)
            np.subtract(np.float32(0.0), qf[:, :, None], out=delta)
        s_idx, k_idx = np.nonzero((dem > 0).any(axis=1))
        b = self.chunk_rows
        spans = [(lo, min(s_idx.size, lo + b)) for lo in range(0, s_idx.size, b)]

        def run(span: tuple[int, int]) -> None:
            lo, hi = span
            self._rows(qf, dem, s_idx[lo:hi], k_idx[lo:hi], flow, delta)

        if threads > 1 and len(spans) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(run, spans))
        else:
            for span in spans:
                run(span)
        return flow, delta

    def _rows(self, qf: np.ndarray, dem: np.ndarray, s: np.ndarray, k: np.ndarray, flow: np.ndarray,
              delta: np.ndarray | None) -> None:
        """Enumerate the cuts of the (SKU, scenario) pairs (s[i], k[i])."""
        W = self.W
        dT = dem[s, :, k].astype(np.float32)  # (n, P)
        C = dT @ self.touch
        C += qf[s] @ self.outside
        if delta is None:
            flow[s, k] = C.min(axis=1)
            return
        # subset index t = sum_w bit_w 2^w; C-order reshape puts bit W-1 first
        Cr = C.reshape(s.size, *([2] * W))
        parts: dict[int, np.ndarray] = {}
        _min_except_each_axis(Cr, 1, [W - 1 - i for i in range(W)], parts)
        for w in range(W):
            ab = parts[w]  # (n, 2): [:, 0] = w not in T (B), [:, 1] = w in T (A)
            delta[s, w, k] = ab[:, 1] - ab[:, 0]
        flow[s, k] = parts[0].min(axis=-1)


def allocation(q: np.ndarray, dem: np.ndarray, covers: np.ndarray, *, chunk: int = 20000) -> np.ndarray:
    """Optimal fast-served units per warehouse and scenario, (S, W, K), by max-flow.

    Demand and stock are rounded to integers (scipy's max-flow is integral); the returned
    allocation is one optimal second stage (optimal allocations are not unique).
    """
    S, P, K = dem.shape
    W = covers.shape[0]
    aw, ap = np.nonzero(covers)
    A = aw.size
    qi = np.rint(q).astype(np.int64)
    di = np.rint(dem).astype(np.int64)
    out = np.zeros((S, W, K))
    if A == 0:
        return out
    # rows (s, k) flattened; process in chunks of blocks
    rows = S * K
    n = W + P
    big = int(max(di.sum(axis=1).max(initial=0), 1))
    for lo in range(0, rows, chunk):
        hi = min(rows, lo + chunk)
        B = hi - lo
        r = np.arange(lo, hi)
        s, k = np.divmod(r, K)
        base = 2 + np.arange(B)[:, None] * n
        tails = np.concatenate([
            np.zeros(B * W, np.int64), (base + aw[None, :]).ravel(), (base + W + np.arange(P)[None, :]).ravel()
        ])
        heads = np.concatenate([
            (base + np.arange(W)[None, :]).ravel(), (base + W + ap[None, :]).ravel(), np.ones(B * P, np.int64)
        ])
        caps = np.concatenate([qi[s].ravel(), np.full(B * A, big), di[s, :, k].ravel()])
        N = 2 + B * n
        G = sp.csr_matrix((caps.astype(np.int32), (tails, heads)), shape=(N, N))
        res = maximum_flow(G, 0, 1, method="dinic")
        F = res.flow.tocsr()
        # flow on source -> warehouse arcs = units served from that warehouse
        src = F[0].toarray().ravel()[2:].reshape(B, n)[:, :W]
        out[s, :, k] = np.maximum(src, 0)
    return out
