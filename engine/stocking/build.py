"""Build a :class:`StockingProblem` from an instance and a forecast with scenarios."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ConfigError
from engine.forecast.scenarios import SparseScenarios
from engine.stocking.problem import StockingProblem


def build_problem(
    instance: Any,
    forecast_result: Any,
    *,
    cycle_days: int | None = None,
    scenarios: int | None = None,
    on_hand: np.ndarray | None = None,
) -> StockingProblem:
    """Stocking problem of ``instance`` with demand from ``forecast_result.scenarios``
    (a dense (K, N, H) array or :class:`~engine.forecast.scenarios.SparseScenarios`).

    Scenario demand of (sku, zone) = the forecast sample path summed over the first
    ``cycle_days`` horizon days (default: the instance's cycle); the first ``scenarios`` sample
    paths are used (default: the instance's scenario count, capped by what the forecast has).

    ``on_hand`` (S, W), in the instance's SKU and forward-warehouse order, is tonight's stock:
    units kept pay only holding, units moved in pay transfer + handling + holding, units pulled
    back pay ``replenishment.pull_back_cost_per_m3``; ``replenishment.nightly_transfer_m3``
    caps the volume moved into each warehouse.
    """
    m = instance.manifest
    days = int(cycle_days if cycle_days is not None else m.planning.cycle_days)
    sc = forecast_result.scenarios
    if not isinstance(sc, SparseScenarios):
        sc = np.asarray(sc)
    if sc.ndim != 3 or sc.shape[0] == 0:
        raise ConfigError("the forecast has no demand scenarios: run the forecast with n_scenarios > 0")
    K_all, N, H = sc.shape
    if days < 1 or days > H:
        raise ConfigError(f"cycle_days must be in 1..{H} (the forecast horizon), got {days}")
    want = int(scenarios) if scenarios is not None else min(int(m.planning.scenarios), K_all)
    if want < 1:
        raise ConfigError(f"scenarios must be >= 1, got {want}")
    if want > K_all:
        raise ConfigError(f"asked for {want} scenarios but the forecast has only {K_all}")
    series = forecast_result.series
    if "zone" not in series.columns:
        raise ConfigError("the forecast must be per (sku, zone) for stocking; its series have no zone")

    fw = instance.forward_warehouses
    if len(fw) == 0:
        raise ConfigError(f"instance {instance.name!r} has no forward warehouse to stock")
    skus = instance.skus["id"].astype(str).tolist()
    zones = instance.zones["id"].astype(str).tolist()
    wids = fw["id"].astype(str).tolist()
    s_idx = pd.Index(skus).get_indexer(series["sku"].astype(str))
    z_idx = pd.Index(zones).get_indexer(series["zone"].astype(str))
    unknown = (s_idx < 0) | (z_idx < 0)
    if unknown.any():
        raise ConfigError(f"{int(unknown.sum())} forecast series name a SKU or zone that is not in the instance")
    S, Z = len(skus), len(zones)
    if isinstance(sc, SparseScenarios):
        # only the non-zero cells: (series, scenario) totals over the cycle, added into (sku, zone)
        cyc = sc.cycle_totals(days, want).tocoo()
        i, k = cyc.coords
        flat = (s_idx[i].astype(np.int64) * Z + z_idx[i]) * want + k
        demand = np.bincount(flat, weights=cyc.data.astype(float), minlength=S * Z * want).reshape(S, Z, want)
    else:
        dense = sc[:want, :, :days].sum(axis=2).astype(float)  # (K, N)
        demand = np.zeros((S, Z, want))
        np.add.at(demand, (s_idx, z_idx), dense.T)
    demand = np.maximum(demand, 0.0)

    st = m.stocking
    sk = instance.skus
    vol = sk["unit_volume_m3"].to_numpy(float)
    value = sk["unit_value"].to_numpy(float)
    handling = fw["handling_cost_per_unit"].to_numpy(float)
    holding = fw["holding_cost_per_m3_day"].to_numpy(float)
    unit_cost = st.transfer_cost_per_m3 * vol[:, None] + handling[None, :] + holding[None, :] * vol[:, None] * days
    cov = instance.coverage().reindex(index=wids, columns=zones).fillna(False).to_numpy(bool)
    high = sk["high_value"].to_numpy(bool)
    allows = fw["allows_high_value"].to_numpy(bool)
    allowed = ~(high[:, None] & ~allows[None, :])
    start: dict[str, Any] = {}
    if on_hand is not None:
        rp = m.replenishment
        start = {
            "on_hand": np.asarray(on_hand, dtype=float),
            "keep_cost": holding[None, :] * vol[:, None] * days,
            "pull_back_cost": np.repeat((rp.pull_back_cost_per_m3 * vol)[:, None], len(wids), axis=1),
            "transfer_limit_m3": None if rp.nightly_transfer_m3 is None
            else np.full(len(wids), float(rp.nightly_transfer_m3)),
        }
    return StockingProblem(
        skus=tuple(skus),
        warehouses=tuple(wids),
        zones=tuple(zones),
        volume_m3=vol,
        unit_value=value,
        fast_value=st.fast_value_base + st.fast_value_rate * value,
        unit_cost=unit_cost,
        leftover_cost=st.leftover_rate * value,
        demand=demand,
        probability=np.full(want, 1.0 / want),
        covers=cov,
        capacity_m3=fw["capacity_m3"].to_numpy(float),
        allowed=allowed,
        slotting_fixed_cost=float(st.slotting_fixed_cost),
        min_lot=int(st.min_lot),
        budget=None if st.budget is None else float(st.budget),
        cycle_days=days,
        **start,
    )
