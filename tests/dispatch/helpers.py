"""Tiny random dispatch problems for tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.dispatch import DispatchProblem, problem_from_frames


def tiny_frames(seed: int = 0, n: int = 12, n_fleet: int = 2, n_crowd: int = 3, n_wh: int = 2,
                special_share: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    lat0, lon0 = 31.23, 121.47
    wh = pd.DataFrame({"id": [f"W{i}" for i in range(n_wh)],
                       "lat": lat0 + rng.uniform(-0.02, 0.02, n_wh), "lon": lon0 + rng.uniform(-0.02, 0.02, n_wh)})
    created = np.sort(rng.uniform(600, 660, n))
    wi = rng.integers(0, n_wh, n)
    orders = pd.DataFrame({
        "id": [f"o{i}" for i in range(n)], "warehouse": wh["id"].to_numpy()[wi],
        "lat": wh["lat"].to_numpy()[wi] + rng.normal(0, 0.012, n),
        "lon": wh["lon"].to_numpy()[wi] + rng.normal(0, 0.012, n),
        "ready_min": created + 8, "due_min": created + rng.choice([30.0, 60.0], n),
        "size_m3": rng.uniform(0.002, 0.02, n), "special": rng.random(n) < special_share,
        "penalty": 40.0, "late_weight": 0.5,
    })
    fleet = pd.DataFrame({
        "id": [f"F{i}" for i in range(n_fleet)], "kind": "fleet",
        "warehouse": wh["id"].to_numpy()[np.arange(n_fleet) % n_wh], "capacity_m3": 0.08,
        "start_min": 540.0, "end_min": 1080.0, "fixed_cost": 20.0, "cost_per_km": 0.6, "cost_per_hour": 25.0,
        "may_carry_special": True, "acceptance_probability": 1.0,
    })
    crowd = pd.DataFrame({
        "id": [f"C{i}" for i in range(n_crowd)], "kind": "crowd",
        "lat": lat0 + rng.uniform(-0.03, 0.03, n_crowd), "lon": lon0 + rng.uniform(-0.03, 0.03, n_crowd),
        "capacity_m3": 0.03, "start_min": rng.uniform(560, 620, n_crowd), "end_min": 780.0,
        "max_work_min": 150.0, "pay_per_delivery": 6.0, "cost_per_km": 1.0,
        "may_carry_special": False, "acceptance_probability": 0.8,
    })
    return wh, orders, pd.concat([fleet, crowd], ignore_index=True)


def tiny_problem(seed: int = 0, **kw) -> DispatchProblem:
    wh, orders, couriers = tiny_frames(seed, **kw)
    return problem_from_frames(wh, orders, couriers, decline_cost=4.0)
