"""The stocking result: a checked integer plan, its in-sample evaluation and solve statistics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.solver import SolveStats
from engine.stocking.evaluate import PlanEvaluation


@dataclass(frozen=True, slots=True)
class StockingResult:
    """Units per (SKU, forward warehouse) with solve statistics.

    Objective sense: maximise expected profit; ``stats.bound`` >= ``stats.objective`` for the
    exact and decomposition back-ends, ``None`` for the simple rules.
    """

    units: np.ndarray  # (S, W) int
    skus: tuple[str, ...]
    warehouses: tuple[str, ...]
    stats: SolveStats
    expected: PlanEvaluation
    unit_volume_m3: np.ndarray  # (S,)
    unit_value: np.ndarray  # (S,)
    capacity_m3: np.ndarray  # (W,)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        u = np.asarray(self.units)
        if u.shape != (len(self.skus), len(self.warehouses)):
            raise ValueError(f"units has shape {u.shape}, expected ({len(self.skus)}, {len(self.warehouses)})")
        if (u < 0).any():
            raise ValueError("units must be non-negative")
        u = u.astype(np.int64)
        u.setflags(write=False)
        object.__setattr__(self, "units", u)

    @property
    def objective(self) -> float | None:
        return self.stats.objective

    def is_feasible(self) -> bool:
        return self.stats.status.has_solution

    def to_frame(self) -> pd.DataFrame:
        """Rows (sku, warehouse, units, volume_m3, value) for every stocked slot."""
        s, w = np.nonzero(self.units)
        n = self.units[s, w]
        return pd.DataFrame({
            "sku": np.asarray(self.skus, dtype=object)[s],
            "warehouse": np.asarray(self.warehouses, dtype=object)[w],
            "units": n.astype(np.int64),
            "volume_m3": n * self.unit_volume_m3[s],
            "value": n * self.unit_value[s],
        })

    def warehouse_frame(self) -> pd.DataFrame:
        """Per forward warehouse: SKUs and units stocked, volume, capacity, utilisation, fill."""
        e = self.expected
        return pd.DataFrame({
            "warehouse": list(self.warehouses),
            "skus": (self.units > 0).sum(axis=0).astype(np.int64),
            "units": self.units.sum(axis=0).astype(np.int64),
            "volume_m3": self.unit_volume_m3 @ self.units,
            "capacity_m3": self.capacity_m3,
            "utilisation": e.utilisation,
            "value": self.unit_value @ self.units,
            "served_units": e.served_by_warehouse,
            "fill_rate": e.fill_rate_by_warehouse,
        })

    def summary(self) -> str:
        st = self.stats
        gap = "n/a" if st.gap is None else f"{100 * st.gap:.3f}%"
        obj = "n/a" if st.objective is None else f"{st.objective:,.2f}"
        return (
            f"{st.backend}: {st.status} profit={obj} gap={gap} fast-fill={100 * self.expected.fast_fill_rate:.1f}% "
            f"build={st.build_seconds:.2f}s solve={st.solve_seconds:.2f}s"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "stats": self.stats.to_dict(),
            "expected": self.expected.to_dict(),
            "notes": list(self.notes),
            "warehouses": self.warehouse_frame().to_dict(orient="records"),
            "n_skus": len(self.skus),
            "stocked_slots": int((self.units > 0).sum()),
            "stocked_units": int(self.units.sum()),
        }
