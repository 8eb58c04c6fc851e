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


class FailingBackend:
    """A dispatch back-end for tests that fails its first ``fail_first`` calls (None = always).

    ``mode="raise"`` raises like a crashing solver library; ``mode="status"`` returns the
    ``error`` status with no routes. Calls after the failing ones go to OR-Tools.
    """

    def __init__(self, fail_first: int | None = None, mode: str = "raise") -> None:
        self.fail_first = fail_first
        self.mode = mode
        self.calls = 0
        self.seen: list[tuple[str, ...]] = []  # the order ids of each call's problem

    def __call__(self, problem, settings, cand, initial=None):  # type: ignore[no-untyped-def]
        from engine.dispatch import DISPATCH
        from engine.solver import SolveStatus

        self.calls += 1
        self.seen.append(tuple(problem.order_ids))
        if self.fail_first is None or self.calls <= self.fail_first:
            if self.mode == "raise":
                raise RuntimeError(f"solver crashed on call {self.calls} (test)")
            return [[] for _ in range(problem.n_couriers)], SolveStatus.ERROR, None, "solver gave up (test)"
        return DISPATCH.get("ortools")(problem, settings, cand, initial)


def install_backend(monkeypatch, name: str, func) -> None:  # type: ignore[no-untyped-def]
    """Put ``func`` into the dispatch registry as ``name`` for one test (monkeypatch undoes it)."""
    from engine.dispatch import DISPATCH
    from engine.solver import BackendInfo

    monkeypatch.setitem(DISPATCH._entries, name,
                        BackendInfo(name, func, "test back-end", lambda: True, frozenset()))
