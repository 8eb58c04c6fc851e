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


def per_series(
    actual: np.ndarray,
    mean: np.ndarray,
    quantiles: np.ndarray,
    levels: Sequence[float],
    history: np.ndarray,
    season: int,
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
    return pd.DataFrame(cols)


def summarise(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Aggregate per-series rows into WMAPE, MASE, bias, pinball and coverage per group."""
    hit_cols = [c for c in rows.columns if c.startswith("hits_")]
    agg = rows.groupby(by, sort=False, dropna=False).agg(
        n_series=("abs_err", "size"),
        n_obs=("n_obs", "sum"),
        abs_err=("abs_err", "sum"),
        err=("err", "sum"),
        actual=("actual", "sum"),
        pinball=("pinball", "sum"),
        mase=("mase", "mean"),
        **{c: (c, "sum") for c in hit_cols},
    ).reset_index()
    tot = agg["actual"].where(agg["actual"] > 0)
    out = agg[by + ["n_series", "n_obs"]].copy()
    out["wmape"] = agg["abs_err"] / tot
    out["mase"] = agg["mase"]
    out["bias"] = agg["err"] / tot
    out["pinball"] = agg["pinball"] / agg["n_obs"]
    out["pinball_scaled"] = agg["pinball"] / tot
    for c in hit_cols:
        out[f"coverage_{c[5:]}"] = agg[c] / agg["n_obs"]
    return out
