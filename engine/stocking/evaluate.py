"""Plan evaluation with the optimal second stage, and the plan checker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ConfigError
from engine.stocking.flow import MAX_ENUM_W, CutOracle, allocation
from engine.stocking.problem import StockingProblem


@dataclass(frozen=True, slots=True)
class PlanEvaluation:
    """Expected outcome of a stocking plan over a set of demand scenarios.

    ``fast_fill_rate`` = fast-served units / all demand (uncovered zones included);
    per warehouse, ``fill_rate`` = units served from it / demand of the zones it covers, each
    zone's demand split equally among its covering warehouses. Money in instance currency;
    ``profit`` = fast value - stock cost - leftover cost - slotting fixed cost.
    """

    warehouses: tuple[str, ...]
    n_scenarios: int
    demand_units: float
    fast_units: float
    fast_fill_rate: float
    covered_fill_rate: float  # fast units / demand in covered zones
    stocked_units: float
    leftover_units: float
    fast_value: float
    stock_cost: float
    leftover_cost: float
    fixed_cost: float
    served_by_warehouse: np.ndarray  # (W,) expected units served fast
    fill_rate_by_warehouse: np.ndarray  # (W,)
    volume_m3: np.ndarray  # (W,) stocked volume
    utilisation: np.ndarray  # (W,) stocked volume / capacity

    @property
    def cost(self) -> float:
        return self.stock_cost + self.leftover_cost + self.fixed_cost

    @property
    def profit(self) -> float:
        return self.fast_value - self.cost

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({
            "warehouse": list(self.warehouses),
            "served_units": self.served_by_warehouse,
            "fill_rate": self.fill_rate_by_warehouse,
            "volume_m3": self.volume_m3,
            "utilisation": self.utilisation,
        })

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_scenarios": self.n_scenarios,
            "demand_units": self.demand_units,
            "fast_units": self.fast_units,
            "fast_fill_rate": self.fast_fill_rate,
            "covered_fill_rate": self.covered_fill_rate,
            "stocked_units": self.stocked_units,
            "leftover_units": self.leftover_units,
            "fast_value": self.fast_value,
            "stock_cost": self.stock_cost,
            "leftover_cost": self.leftover_cost,
            "fixed_cost": self.fixed_cost,
            "cost": self.cost,
            "profit": self.profit,
            "by_warehouse": self.to_frame().to_dict(orient="records"),
        }


def _as_units(problem: StockingProblem, units: Any) -> np.ndarray:
    q = np.asarray(units, dtype=float)
    S, W = len(problem.skus), len(problem.warehouses)
    if q.shape != (S, W):
        raise ConfigError(f"plan has shape {q.shape}, expected ({S}, {W})")
    return q


def expected_flow(problem: StockingProblem, q: np.ndarray, dem_grouped: np.ndarray) -> np.ndarray:
    """Exact optimal fast-served units per (s, k) for stock q."""
    cov = problem.zone_groups().covers
    if cov.shape[1] == 0:
        return np.zeros((q.shape[0], dem_grouped.shape[2]))
    if cov.shape[0] <= MAX_ENUM_W:
        flow, _ = CutOracle(cov)(q, dem_grouped, want_delta=False)
        return flow
    return allocation(q, dem_grouped, cov).sum(axis=1)


def evaluate_plan(
    problem: StockingProblem,
    units: Any,
    demand: np.ndarray | None = None,
    *,
    by_warehouse: bool | None = None,
) -> PlanEvaluation:
    """Evaluate ``units`` (S, W) on ``demand`` (S, Z, K'; default: the problem's scenarios).

    Fresh scenarios are equally likely. The second stage is solved optimally per scenario.
    Per-warehouse served units need an explicit allocation (a max-flow per SKU and scenario);
    by default (``by_warehouse=None``) it is computed up to 300 000 SKU x scenario rows and left
    as NaN above that (the totals are always exact).
    """
    q = _as_units(problem, units)
    S, W, Z, _ = problem.shape
    if demand is None:
        d = problem.demand
        prob = problem.probability
    else:
        d = np.asarray(demand, dtype=float)
        if d.ndim != 3 or d.shape[:2] != (S, Z) or d.shape[2] < 1:
            raise ConfigError(f"evaluation demand has shape {d.shape}, expected ({S}, {Z}, K)")
        if (d < 0).any() or not np.all(np.isfinite(d)):
            raise ConfigError("evaluation demand must be finite and non-negative")
        prob = np.full(d.shape[2], 1.0 / d.shape[2])
    groups = problem.zone_groups()
    if by_warehouse is None:
        by_warehouse = S * d.shape[2] <= 300_000
    dg = problem.grouped_demand(d)
    q_eff = np.where(problem.allowed, q, 0.0)
    if by_warehouse and groups.covers.shape[1] > 0:
        served_swk = allocation(q_eff, dg, groups.covers)
        flow = served_swk.sum(axis=1)
        served_w = np.einsum("swk,k->w", served_swk, prob)
    else:
        flow = expected_flow(problem, q_eff, dg)
        served_w = np.full(W, np.nan)
    exp_flow_s = flow @ prob  # (S,)
    demand_units = float(np.einsum("szk,k->", d, prob))
    fast_units = float(exp_flow_s.sum())
    covered = groups.zone_group >= 0
    covered_dem = float(np.einsum("szk,k->", d[:, covered, :], prob)) if covered.any() else 0.0
    ncov = problem.covers.sum(axis=0)
    share = np.where(ncov > 0, problem.covers / np.maximum(ncov, 1), 0.0)  # (W, Z)
    attributed = share @ np.einsum("szk,k->z", d, prob)
    stocked = float(q.sum())
    fixed = float((problem.fixed_cost * (q > 0)).sum())
    vol_w = problem.volume_m3 @ q
    cap = problem.capacity_m3
    return PlanEvaluation(
        warehouses=problem.warehouses,
        n_scenarios=int(d.shape[2]),
        demand_units=demand_units,
        fast_units=fast_units,
        fast_fill_rate=fast_units / demand_units if demand_units > 0 else 0.0,
        covered_fill_rate=fast_units / covered_dem if covered_dem > 0 else 0.0,
        stocked_units=stocked,
        leftover_units=stocked - fast_units,
        fast_value=float(problem.fast_value @ exp_flow_s),
        stock_cost=problem.first_stage_cost(q),
        leftover_cost=float(problem.leftover_cost @ (q.sum(axis=1) - exp_flow_s)),
        fixed_cost=fixed,
        served_by_warehouse=served_w,
        fill_rate_by_warehouse=np.where(attributed > 0, served_w / np.maximum(attributed, 1e-12), 0.0),
        volume_m3=vol_w,
        utilisation=np.where(cap > 0, vol_w / np.where(cap > 0, cap, 1.0), np.where(vol_w > 0, np.inf, 0.0)),
    )


def check_plan(problem: StockingProblem, units: Any, *, tol: float = 1e-6) -> list[str]:
    """Every way ``units`` breaks the model's first-stage constraints (empty list = feasible)."""
    q = _as_units(problem, units)
    bad: list[str] = []
    if not np.all(np.isfinite(q)):
        return ["plan has non-finite units"]
    if (q < -tol).any():
        bad.append(f"{int((q < -tol).sum())} negative stock level(s)")
    frac = np.abs(q - np.rint(q))
    if (frac > tol).any():
        bad.append(f"{int((frac > tol).sum())} non-integer stock level(s) (largest deviation {frac.max():.3g})")
    if (q[~problem.allowed] > tol).any():
        bad.append(f"{int((q[~problem.allowed] > tol).sum())} SKU(s) stocked where special storage forbids it")
    vol = problem.volume_m3 @ q
    over = vol > problem.capacity_m3 * (1 + tol) + tol
    for w in np.flatnonzero(over):
        bad.append(
            f"capacity of {problem.warehouses[w]} exceeded: {vol[w]:.4g} m3 > {problem.capacity_m3[w]:.4g} m3"
        )
    if problem.budget is not None:
        val = float((problem.unit_value @ q).sum())
        if val > problem.budget * (1 + tol) + tol:
            bad.append(f"inventory budget exceeded: {val:.6g} > {problem.budget:.6g}")
    if problem.min_lot > 0:
        low = (q > tol) & (q < problem.min_lot - tol)
        if low.any():
            bad.append(f"{int(low.sum())} slot(s) below the minimum lot of {problem.min_lot}")
    if problem.transfer_limit_m3 is not None:
        moved = problem.volume_m3 @ problem.moves(q)[0]
        over_t = moved > problem.transfer_limit_m3 * (1 + tol) + tol
        for w in np.flatnonzero(over_t):
            bad.append(f"nightly transfer into {problem.warehouses[w]} exceeded: {moved[w]:.4g} m3 > "
                       f"{problem.transfer_limit_m3[w]:.4g} m3")
    return bad
