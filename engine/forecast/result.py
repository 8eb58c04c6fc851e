"""Frozen result objects of the forecast stage."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine.solver import SolveStats

DEFAULT_QUANTILES: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def quantile_column(level: float) -> str:
    """0.1 -> "q10", 0.025 -> "q2.5"."""
    pct = round(level * 100, 6)
    return f"q{int(pct)}" if float(pct).is_integer() else f"q{pct:g}"


@dataclass(frozen=True, slots=True)
class ForecastResult:
    """Predictive distribution per (series, day) and joint scenarios over the horizon.

    ``mean`` (N, H), ``quantiles`` (N, H, Q), ``scenarios`` (K, N, H) non-negative integers
    (a dense array, or :class:`~engine.forecast.scenarios.SparseScenarios` from ``hierarchical``);
    row i of every array is series i of ``series`` (sku, zone). ``chosen`` holds the method
    used for each series (the one asked for, or auto's pick), ``segment`` its demand class.
    """

    method: str
    series: pd.DataFrame
    dates: tuple[dt.date, ...]
    mean: np.ndarray
    quantile_levels: tuple[float, ...]
    quantiles: np.ndarray
    scenarios: np.ndarray
    chosen: tuple[str, ...]
    segment: tuple[str, ...]
    dispersion: np.ndarray  # NB alpha per series
    notes: tuple[str, ...]
    stats: SolveStats
    dependence: dict[str, float] = field(default_factory=dict)
    holdout: dict[str, float] = field(default_factory=dict)  # holdout metrics of the chosen mix

    def __post_init__(self) -> None:
        n, h = len(self.series), len(self.dates)
        if self.mean.shape != (n, h):
            raise ValueError(f"mean has shape {self.mean.shape}, expected {(n, h)}")
        if self.quantiles.shape != (n, h, len(self.quantile_levels)):
            raise ValueError("quantiles shape does not match series × dates × levels")
        if self.scenarios.ndim != 3 or self.scenarios.shape[1:] != (n, h):
            raise ValueError("scenarios must have shape (K, N, H)")
        if not (np.isfinite(self.mean).all() and np.isfinite(self.quantiles).all()):
            raise ValueError("forecast contains non-finite values")

    @property
    def horizon(self) -> int:
        return len(self.dates)

    @property
    def n_scenarios(self) -> int:
        return int(self.scenarios.shape[0])

    def to_frame(self) -> pd.DataFrame:
        """Long table: date, sku, zone, mean, q10 … q90, method, segment."""
        n, h = self.mean.shape
        out = pd.DataFrame(
            {
                "date": np.tile(pd.to_datetime(list(self.dates)).values, n),
                "sku": np.repeat(self.series["sku"].to_numpy(), h),
                "zone": np.repeat(self.series["zone"].to_numpy(), h),
                "mean": self.mean.reshape(-1),
            }
        )
        for j, q in enumerate(self.quantile_levels):
            out[quantile_column(q)] = self.quantiles[:, :, j].reshape(-1)
        out["method"] = np.repeat(np.asarray(self.chosen, dtype=object), h)
        out["segment"] = np.repeat(np.asarray(self.segment, dtype=object), h)
        return out

    def scenario_frame(self) -> pd.DataFrame:
        """Long table: scenario, date, sku, zone, quantity (K × N × H rows; for sparse scenarios
        only the non-zero rows, the absent ones being zero)."""
        from engine.forecast.scenarios import SparseScenarios

        sc = self.scenarios
        if isinstance(sc, SparseScenarios):
            dates = pd.to_datetime(list(self.dates)).values
            return pd.DataFrame({
                "scenario": sc.k.astype(np.int64), "date": dates[sc.day],
                "sku": self.series["sku"].to_numpy()[sc.series], "zone": self.series["zone"].to_numpy()[sc.series],
                "quantity": sc.quantity.astype(np.int64),
            })
        k, n, h = self.scenarios.shape
        return pd.DataFrame(
            {
                "scenario": np.repeat(np.arange(k), n * h),
                "date": np.tile(pd.to_datetime(list(self.dates)).values, k * n),
                "sku": np.tile(np.repeat(self.series["sku"].to_numpy(), h), k),
                "zone": np.tile(np.repeat(self.series["zone"].to_numpy(), h), k),
                "quantity": self.scenarios.reshape(-1),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (the arrays themselves go to ``to_frame`` / ``scenario_frame``)."""
        chosen = pd.Series(self.chosen, dtype=object).value_counts().sort_index()
        seg = pd.Series(self.segment, dtype=object).value_counts().sort_index()
        return {
            "method": self.method,
            "horizon": self.horizon,
            "dates": [d.isoformat() for d in self.dates],
            "n_series": len(self.series),
            "n_scenarios": self.n_scenarios,
            # sparse: scenarios.csv.gz holds only the non-zero cells (the rows left out are zeros)
            "scenario_storage": "dense" if isinstance(self.scenarios, np.ndarray) else "sparse",
            "quantile_levels": list(self.quantile_levels),
            "total_mean": float(self.mean.sum()),
            "chosen": {str(k): int(v) for k, v in chosen.items()},
            "segments": {str(k): int(v) for k, v in seg.items()},
            "dependence": dict(self.dependence),
            "holdout": dict(self.holdout),
            "notes": list(self.notes),
            "stats": self.stats.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Rolling-origin backtest: one metrics row per method × segment × fold (plus "all")."""

    metrics: pd.DataFrame  # method, segment, fold, n_series, n_obs, wmape, mase, bias, pinball, coverage_*
    horizon: int
    origins: tuple[dt.date, ...]
    methods: tuple[str, ...]
    notes: tuple[str, ...]
    stats: SolveStats
    chosen: dict[str, dict[str, int]] = field(default_factory=dict)  # per method: auto picks counted

    def to_frame(self) -> pd.DataFrame:
        return self.metrics.copy()

    def overall(self) -> pd.DataFrame:
        """Rows for all folds and all segments, one per method."""
        m = self.metrics
        return m[(m["segment"] == "all") & (m["fold"] == "all")].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        rows = self.metrics.replace({np.nan: None}).to_dict(orient="records")
        return {
            "horizon": self.horizon,
            "origins": [d.isoformat() for d in self.origins],
            "methods": list(self.methods),
            "metrics": rows,
            "chosen": self.chosen,
            "notes": list(self.notes),
            "stats": self.stats.to_dict(),
        }
