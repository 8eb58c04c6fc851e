"""Synthetic scaling family of the stocking issue.

Warehouses and zone centres are scattered in a unit square; each zone is covered by its
``cover`` nearest warehouses. SKUs have a heavy-tailed popularity; scenario demand per
(sku, zone) is negative binomial around popularity x zone share, with a per-(sku, scenario)
common shock so that the zones of one SKU move together (as the forecast's joint scenarios do).
Capacity is a fraction of the volume that would stock every SKU at its mean demand.
"""

from __future__ import annotations

import numpy as np

from engine.errors import ConfigError
from engine.stocking.problem import StockingProblem


def random_problem(
    S: int,
    W: int,
    Z: int,
    K: int,
    *,
    seed: int,
    cover: int = 2,
    capacity_factor: float = 0.5,
    slotting_fixed_cost: float = 0.0,
    min_lot: int = 0,
    budget_factor: float | None = None,
    high_value_share: float = 0.05,
    restricted_warehouses: int = 1,
    mean_demand: float = 6.0,
    cycle_days: int = 7,
) -> StockingProblem:
    """A reproducible synthetic problem (same arguments and seed, same problem).

    ``budget_factor`` sets the inventory budget as that fraction of the value of mean-demand
    stock (None = no budget). ``restricted_warehouses`` warehouses may not hold the
    ``high_value_share`` of SKUs flagged high value (special storage).
    """
    if min(S, W, Z, K) < 1:
        raise ConfigError(f"random_problem needs S, W, Z, K >= 1, got {(S, W, Z, K)}")
    if not 1 <= cover <= W:
        raise ConfigError(f"cover must be in 1..W, got {cover}")
    rng = np.random.default_rng(seed)
    wh_xy = rng.random((W, 2))
    zone_xy = rng.random((Z, 2))
    dist = np.linalg.norm(zone_xy[None, :, :] - wh_xy[:, None, :], axis=2)  # (W, Z)
    nearest = np.argsort(dist, axis=0, kind="stable")[:cover]  # (cover, Z)
    covers = np.zeros((W, Z), dtype=bool)
    covers[nearest, np.arange(Z)[None, :]] = True

    volume = np.exp(rng.normal(np.log(0.004), 0.8, S)).clip(0.0003, 0.08)
    value = np.exp(rng.normal(np.log(40.0), 1.0, S)).clip(2.0, 3000.0)
    fast_value = 3.0 + 0.10 * value
    leftover = 0.03 * value
    handling = rng.uniform(0.15, 0.35, W)
    transfer = 60.0 * volume  # per m3 DC -> forward
    holding = (0.8 * volume)[:, None] * rng.uniform(0.8, 1.2, W)[None, :] * cycle_days
    unit_cost = transfer[:, None] + handling[None, :] + holding

    popularity = np.exp(rng.normal(np.log(mean_demand), 1.1, S))
    zone_share = rng.dirichlet(np.full(Z, 2.0), size=S)  # (S, Z)
    shock = rng.gamma(4.0, 0.25, (S, 1, K))  # common to the zones of a SKU, mean 1
    mu = popularity[:, None, None] * zone_share[:, :, None] * shock
    r = 2.0  # negative-binomial dispersion
    lam = rng.gamma(r, mu / r)
    demand = rng.poisson(lam).astype(float)

    high_value = rng.random(S) < high_value_share
    allowed = np.ones((S, W), dtype=bool)
    n_res = min(restricted_warehouses, W - 1) if W > 1 else 0
    if n_res > 0:
        res = rng.choice(W, size=n_res, replace=False)
        allowed[np.ix_(high_value, res)] = False

    # capacity: a fraction of the volume of mean-demand stock reachable by each warehouse
    reach = (demand.mean(axis=2) @ covers.T.astype(float)) / np.maximum(covers.sum(axis=0).mean(), 1)
    need = (reach * volume[:, None]).sum(axis=0)
    capacity = np.maximum(capacity_factor * need, 0.0)
    budget = None
    if budget_factor is not None:
        budget = float(budget_factor * (demand.mean(axis=2).sum(axis=1) * value).sum())
    return StockingProblem(
        skus=tuple(f"S{i:05d}" for i in range(S)),
        warehouses=tuple(f"W{i:02d}" for i in range(W)),
        zones=tuple(f"Z{i:03d}" for i in range(Z)),
        volume_m3=volume,
        unit_value=value,
        fast_value=fast_value,
        unit_cost=unit_cost,
        leftover_cost=leftover,
        demand=demand,
        probability=np.full(K, 1.0 / K),
        covers=covers,
        capacity_m3=capacity,
        allowed=allowed,
        slotting_fixed_cost=float(slotting_fixed_cost),
        min_lot=min_lot,
        budget=budget,
        cycle_days=cycle_days,
    )
