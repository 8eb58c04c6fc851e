"""Joint demand scenarios stored sparsely: only the non-zero (scenario, series, day) counts.

At city scale most (SKU, zone, day) counts are zero in every scenario (600 000 intermittent
series × 7 days × 50 scenarios is 210 million cells, of which about 1% hold a unit), so a dense
``(K, N, H)`` integer array costs gigabytes for nothing. :class:`SparseScenarios` keeps the
non-zero cells as coordinates (a COO layout, as in ``scipy.sparse``) and offers what the
consumers need — totals over days or series, the cycle demand per (series, scenario), a
densified copy for small cases — without ever building the dense array unless asked to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse


def _frozen(a: np.ndarray, dtype: type) -> np.ndarray:
    out = np.ascontiguousarray(a, dtype=dtype)
    if out is a:
        out = out.copy()
    out.setflags(write=False)
    return out


@dataclass(frozen=True, slots=True, eq=False)
class SparseScenarios:
    """``K`` joint sample paths over ``N`` series and ``H`` days, non-zero cells only.

    ``k``, ``series``, ``day`` and ``quantity`` are parallel arrays (one entry per non-zero
    cell, each cell at most once, sorted by scenario, series, day). Behaves like the dense
    ``(K, N, H)`` array where the consumers need it: ``shape``, ``ndim``, ``sum(axis=...)``,
    ``np.asarray(...)`` (densifies: only for small cases).
    """

    shape: tuple[int, int, int]
    k: np.ndarray
    series: np.ndarray
    day: np.ndarray
    quantity: np.ndarray

    def __post_init__(self) -> None:
        K, N, H = (int(x) for x in self.shape)
        object.__setattr__(self, "shape", (K, N, H))
        k = _frozen(self.k, np.int32)
        s = _frozen(self.series, np.int64)
        d = _frozen(self.day, np.int16)
        q = _frozen(self.quantity, np.int32)
        if not (k.shape == s.shape == d.shape == q.shape) or k.ndim != 1:
            raise ValueError("sparse scenarios: k, series, day and quantity must be 1-d and of one length")
        if k.size and (k.min() < 0 or k.max() >= K or s.min() < 0 or s.max() >= N
                       or d.min() < 0 or d.max() >= H or q.min() <= 0):
            raise ValueError("sparse scenarios: a coordinate is outside the shape or a quantity is not > 0")
        for name, arr in (("k", k), ("series", s), ("day", d), ("quantity", q)):
            object.__setattr__(self, name, arr)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_cells(cls, shape: tuple[int, int, int], k: np.ndarray, series: np.ndarray, day: np.ndarray,
                   quantity: np.ndarray) -> SparseScenarios:
        """From cells that may repeat and may hold zeros: repeats are added, zeros dropped."""
        K, N, H = shape
        flat = (np.asarray(k, np.int64) * N + np.asarray(series, np.int64)) * H + np.asarray(day, np.int64)
        keys, inv = np.unique(flat, return_inverse=True)
        qty = np.bincount(inv.ravel(), weights=np.asarray(quantity, np.float64), minlength=len(keys))
        keep = qty > 0
        keys, qty = keys[keep], qty[keep]
        d = keys % H
        rest = keys // H
        return cls(shape, rest // N, rest % N, d, np.rint(qty).astype(np.int64))

    @classmethod
    def from_dense(cls, dense: np.ndarray) -> SparseScenarios:
        a = np.asarray(dense)
        if a.ndim != 3:
            raise ValueError(f"scenarios must have shape (K, N, H), got {a.shape}")
        k, s, d = np.nonzero(a)
        return cls(a.shape, k, s, d, a[k, s, d])  # type: ignore[arg-type]

    # -- array-like --------------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return 3

    @property
    def nnz(self) -> int:
        return int(self.quantity.size)

    @property
    def nbytes(self) -> int:
        return int(self.k.nbytes + self.series.nbytes + self.day.nbytes + self.quantity.nbytes)

    def to_dense(self) -> np.ndarray:
        """The ``(K, N, H)`` int64 array (memory K·N·H·8 bytes: small cases only)."""
        out = np.zeros(self.shape, dtype=np.int64)
        out[self.k, self.series, self.day] = self.quantity
        return out

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        a = self.to_dense()
        return a if dtype is None else a.astype(dtype)

    def sum(self, axis: int) -> np.ndarray:
        """Dense totals over one axis: ``axis=1`` (K, H) per day, ``axis=2`` (K, N) per series."""
        K, N, H = self.shape
        q = self.quantity.astype(np.int64)
        if axis == 2:
            return self._matrix(self.k, self.series, (K, N)).toarray()
        if axis == 1:
            out = np.zeros((K, H), dtype=np.int64)
            np.add.at(out, (self.k, self.day), q)
            return out
        if axis == 0:
            return self._matrix(self.series, self.day, (N, H)).toarray()
        raise ValueError(f"axis must be 0, 1 or 2, got {axis}")

    def _matrix(self, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int],
                keep: np.ndarray | None = None) -> sparse.csr_array:
        q = self.quantity.astype(np.int64)
        if keep is not None:
            rows, cols, q = rows[keep], cols[keep], q[keep]
        return sparse.coo_array((q, (rows.astype(np.int64), cols.astype(np.int64))), shape=shape).tocsr()

    def cycle_totals(self, days: int, scenarios: int | None = None) -> sparse.csr_array:
        """Demand per (series, scenario) summed over the first ``days`` days, for the first
        ``scenarios`` scenarios: a sparse ``(N, K')`` matrix."""
        K, N, _ = self.shape
        kk = K if scenarios is None else int(scenarios)
        keep = (self.day < days) & (self.k < kk)
        return self._matrix(self.series, self.k, (N, kk), keep)

    def head(self, scenarios: int) -> SparseScenarios:
        """The first ``scenarios`` sample paths."""
        keep = self.k < scenarios
        K, N, H = self.shape
        return SparseScenarios((min(K, scenarios), N, H), self.k[keep], self.series[keep], self.day[keep],
                               self.quantity[keep])

    def equals(self, other: object) -> bool:
        """Same shape and the same counts in every cell (dense arrays are compared densely)."""
        if isinstance(other, SparseScenarios):
            return self.shape == other.shape and all(
                np.array_equal(getattr(self, f), getattr(other, f)) for f in ("k", "series", "day", "quantity"))
        a = np.asarray(other)
        return a.shape == self.shape and bool(np.array_equal(self.to_dense(), a))
