"""Planar geometry for placing things where demand is: projection, medians, k-medians.

Distances are computed on a local equirectangular projection in km (exact enough over a
state); the k-medians objective is the demand-weighted sum of straight-line distances.
"""

from __future__ import annotations

import numpy as np

KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON_EQ = 111.320


def project(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    """(n, 2) km coordinates (x east, y north) around (lat0, lon0)."""
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    return np.column_stack([(lon - lon0) * KM_PER_DEG_LON_EQ * np.cos(np.radians(lat0)),
                            (lat - lat0) * KM_PER_DEG_LAT])


def unproject(xy: np.ndarray, lat0: float, lon0: float) -> tuple[np.ndarray, np.ndarray]:
    xy = np.atleast_2d(xy)
    return (lat0 + xy[:, 1] / KM_PER_DEG_LAT, lon0 + xy[:, 0] / (KM_PER_DEG_LON_EQ * np.cos(np.radians(lat0))))


def geometric_median(xy: np.ndarray, w: np.ndarray, *, iters: int = 200, tol: float = 1e-6) -> np.ndarray:
    """The point minimising the weighted sum of distances (Weiszfeld's iteration)."""
    xy, w = np.asarray(xy, dtype=float), np.asarray(w, dtype=float)
    if len(xy) == 1 or w.sum() <= 0:
        return xy[0].copy() if w.sum() <= 0 else xy[np.argmax(w)].copy()
    z = (xy * w[:, None]).sum(axis=0) / w.sum()
    for _ in range(iters):
        d = np.hypot(*(xy - z).T)
        # a point sitting on the current estimate would divide by zero: give it a tiny distance
        inv = w / np.maximum(d, 1e-9)
        nz = (inv[:, None] * xy).sum(axis=0) / inv.sum()
        if np.hypot(*(nz - z)) < tol:
            z = nz
            break
        z = nz
    # Weiszfeld stalls when the optimum is one of the points: compare with the points nearest
    # the estimate (the optimum, if it is a point, is among them)
    near = np.argsort(np.hypot(*(xy - z).T), kind="stable")[:32]
    cost_z = float((w * np.hypot(*(xy - z).T)).sum())
    cost_p = np.hypot(xy[near, None, 0] - xy[None, :, 0], xy[near, None, 1] - xy[None, :, 1]) @ w
    j = int(np.argmin(cost_p))
    return xy[near[j]].copy() if cost_p[j] < cost_z else z


def weighted_kmedians(xy: np.ndarray, w: np.ndarray, k: int, rng: np.random.Generator, *,
                      restarts: int = 4, iters: int = 60) -> tuple[np.ndarray, np.ndarray, float]:
    """k centres minimising the weighted sum of distances of points to their nearest centre.

    Seeding is k-means++-like (probability ∝ weight × distance to the nearest centre chosen),
    then alternate assignment and a weighted geometric median per cluster until stable; the
    best of ``restarts`` runs is returned as (centres (k, 2), label per point, cost).
    """
    xy, w = np.asarray(xy, dtype=float), np.asarray(w, dtype=float)
    n = len(xy)
    k = min(k, int((w > 0).sum()) or n)
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    for _ in range(restarts):
        first = rng.choice(n, p=w / w.sum())
        centres = [xy[first]]
        for _ in range(1, k):
            d = np.min(np.hypot(xy[:, None, 0] - np.array(centres)[None, :, 0],
                                xy[:, None, 1] - np.array(centres)[None, :, 1]), axis=1)
            p = w * d
            centres.append(xy[rng.choice(n, p=p / p.sum())] if p.sum() > 0 else xy[rng.integers(n)])
        c = np.array(centres)
        labels = np.full(n, -1)
        for _ in range(iters):
            d = np.hypot(xy[:, None, 0] - c[None, :, 0], xy[:, None, 1] - c[None, :, 1])
            new = np.argmin(d, axis=1)
            if np.array_equal(new, labels):
                break
            labels = new
            for j in range(k):  # k is small (a handful of warehouses)
                members = labels == j
                if members.any() and w[members].sum() > 0:
                    c[j] = geometric_median(xy[members], w[members])
        d = np.hypot(xy[:, None, 0] - c[None, :, 0], xy[:, None, 1] - c[None, :, 1])
        labels = np.argmin(d, axis=1)
        cost = float((w * d[np.arange(n), labels]).sum())
        if best is None or cost < best[2] - 1e-9:
            best = (c.copy(), labels.copy(), cost)
    assert best is not None
    return best
