"""Forecast accuracy metrics, computed per series first so any grouping can be summed later."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def interval_pairs(levels: Sequence[float]) -> list[tuple[float, float, int]]:
    """Symmetric central intervals available in ``levels``: (lower, upper, nominal %)."""
    lv = [round(q, 6) for q in levels]
    out = []
    for q in lv:
        if q < 0.5 and round(1 - q, 6) in lv:
            out.append((q, round(1 - q, 6), int(round(100 * (1 - 2 * q)))))
    return out


def randomized_pit(actual: np.ndarray, mean: np.ndarray, alpha: np.ndarray, seed: int = 0) -> np.ndarray:
    """Randomised probability integral transform of counts under NB(mean, alpha): uniform on
    (0, 1) when the distribution is right, whatever the discreteness (Czado et al., 2009)."""
    from scipy import stats

    n = 1.0 / alpha[:, None]
    p = n / (n + np.maximum(mean, 0.0))
    hi = stats.nbinom.cdf(actual, n, p)
    lo = np.where(actual > 0, stats.nbinom.cdf(actual - 1, n, p), 0.0)
    v = np.random.default_rng(seed).random(actual.shape)
    return lo + v * (hi - lo)


def per_series(
    actual: np.ndarray,
    mean: np.ndarray,
    quantiles: np.ndarray,
    levels: Sequence[float],
    history: np.ndarray,
    season: int,
    alpha: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per series with sums that aggregate: errors, pinball, interval hits, MASE parts.

    ``actual``, ``mean`` (N, H); ``quantiles`` (N, H, Q); ``history`` (N, T) before the origin,
    used for the MASE scale (in-sample MAE of the seasonal naive with period ``season``).
    """
    e = mean - actual
    lv = np.asarray(levels)
    diff = actual[:, :, None] - quantiles
    pin = np.maximum(lv * diff, (lv - 1) * diff).mean(axis=2)  # mean over levels
    m = season if history.shape[1] > season else 1
    scale = np.abs(history[:, m:] - history[:, :-m]).mean(axis=1) if history.shape[1] > m else np.zeros(len(history))
    mae = np.abs(e).mean(axis=1)
    cols = {
        "n_obs": np.full(len(actual), actual.shape[1]),
        "abs_err": np.abs(e).sum(axis=1),
        "err": e.sum(axis=1),
        "actual": actual.sum(axis=1),
        "pinball": pin.sum(axis=1),
        "mase": np.where(scale > 0, mae / np.where(scale > 0, scale, 1.0), np.nan),
    }
    for lo, hi, pct in interval_pairs(levels):
        jl, jh = list(np.round(lv, 6)).index(lo), list(np.round(lv, 6)).index(hi)
        hit = (actual >= quantiles[:, :, jl]) & (actual <= quantiles[:, :, jh])
        cols[f"hits_{pct}"] = hit.sum(axis=1)
    if alpha is not None:
        # discreteness-free calibration: share of randomised PIT values in the central 80%
        u = randomized_pit(actual, mean, alpha)
        cols["pit_hits_80"] = ((u >= 0.1) & (u <= 0.9)).sum(axis=1)
    return pd.DataFrame(cols)


def path_coverage(actual: np.ndarray, scenarios: np.ndarray, sku: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Joint check of (K, N, H) scenarios: does the horizon total fall in the 10–90% range?

    Returns per series a 0/1 hit for its own total, and for its SKU's total over all zones
    (given on the SKU's first series, NaN on the others, so group means count each SKU once).
    """
    tot = scenarios.sum(axis=2).astype(float)  # (K, N)
    lo, hi = np.quantile(tot, [0.1, 0.9], axis=0)
    a = actual.sum(axis=1)
    own = ((a >= lo) & (a <= hi)).astype(float)
    codes, first, inv = np.unique(sku, return_index=True, return_inverse=True)
    sk = np.zeros((tot.shape[0], len(codes)))
    np.add.at(sk.T, inv, tot.T)
    slo, shi = np.quantile(sk, [0.1, 0.9], axis=0)
    sa = np.bincount(inv, weights=a, minlength=len(codes))
    hit = ((sa >= slo) & (sa <= shi)).astype(float)
    by_sku = np.full(len(sku), np.nan)
    by_sku[first] = hit
    return own, by_sku


def summarise(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Aggregate per-series rows into WMAPE, MASE, bias, pinball and coverage per group.

    ``coverage_X``: share of observations inside the central X% quantile interval (for counts
    this is at least X% when the distribution is right, more so the sparser the data);
    ``pit_coverage_80``: share of randomised PIT values in [0.1, 0.9], 80% when calibrated.
    """
    hit_cols = [c for c in rows.columns if c.startswith(("hits_", "pit_hits_"))]
    agg = rows.groupby(by, sort=False, dropna=False).agg(
        n_series=("abs_err", "size"),
        n_obs=("n_obs", "sum"),
        abs_err=("abs_err", "sum"),
        err=("err", "sum"),
        actual=("actual", "sum"),
        pinball=("pinball", "sum"),
        mase=("mase", "mean"),
        **{c: (c, "sum") for c in hit_cols},
        **{c: (c, "mean") for c in ("sum_hits_80", "sku_sum_hits_80") if c in rows.columns},
    ).reset_index()
    tot = agg["actual"].where(agg["actual"] > 0)
    out = agg[by + ["n_series", "n_obs"]].copy()
    out["wmape"] = agg["abs_err"] / tot
    out["mase"] = agg["mase"]
    out["bias"] = agg["err"] / tot
    out["pinball"] = agg["pinball"] / agg["n_obs"]
    out["pinball_scaled"] = agg["pinball"] / tot
    for c in hit_cols:
        name = "pit_coverage_" + c[9:] if c.startswith("pit_") else f"coverage_{c[5:]}"
        out[name] = agg[c] / agg["n_obs"]
    for c in ("sum_hits_80", "sku_sum_hits_80"):
        if c in agg.columns:
            out[c.replace("hits", "coverage")] = agg[c]
    return out
