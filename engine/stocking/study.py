"""Studies over the stocking model: value of the stochastic solution, and scaling runs."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.solver import Settings
from engine.stocking.evaluate import evaluate_plan
from engine.stocking.generate import random_problem
from engine.stocking.problem import StockingProblem
from engine.stocking.rules import days_of_cover, newsvendor
from engine.stocking.solve import solve_stocking


def split_scenarios(problem: StockingProblem, n_train: int) -> tuple[StockingProblem, np.ndarray]:
    """First ``n_train`` scenarios as the planning problem, the rest as fresh test demand."""
    K = problem.n_scenarios
    if not 1 <= n_train < K:
        raise ValueError(f"n_train must be in 1..{K - 1}, got {n_train}")
    train = dataclasses.replace(
        problem, demand=problem.demand[:, :, :n_train], probability=np.full(n_train, 1.0 / n_train), notes=()
    )
    return train, problem.demand[:, :, n_train:]


def mean_value_problem(problem: StockingProblem) -> StockingProblem:
    """The deterministic problem with every scenario replaced by the mean demand."""
    mean = problem.demand @ problem.probability
    return dataclasses.replace(problem, demand=mean[:, :, None], probability=np.ones(1), notes=())


def value_of_stochastic_solution(
    problem: StockingProblem, test_demand: np.ndarray, settings: Settings, *, cover_days: float | None = None
) -> pd.DataFrame:
    """SAA plan vs mean-forecast plan vs days of cover vs newsvendor, out of sample.

    One row per plan: fast-fill rate, expected profit, cost and leftover units on
    ``test_demand`` (fresh scenarios the plans never saw), and the solve time.
    """
    rows: list[dict[str, Any]] = []

    def add(name: str, units: np.ndarray, seconds: float, extra: str = "") -> None:
        ev = evaluate_plan(problem, units, test_demand, by_warehouse=False)
        rows.append({
            "plan": name, "fast_fill_rate": ev.fast_fill_rate, "profit": ev.profit, "cost": ev.cost,
            "fast_value": ev.fast_value, "leftover_units": ev.leftover_units, "stocked_units": ev.stocked_units,
            "seconds": seconds, "note": extra,
        })

    t = time.perf_counter()
    saa = solve_stocking(problem, settings)
    add("SAA (stochastic)", saa.units, time.perf_counter() - t, f"{saa.stats.backend} gap {saa.stats.gap}")
    t = time.perf_counter()
    ev_res = solve_stocking(mean_value_problem(problem), settings)
    add("mean forecast", ev_res.units, time.perf_counter() - t, f"{ev_res.stats.backend}")
    t = time.perf_counter()
    add("days of cover", days_of_cover(problem, cover_days), time.perf_counter() - t,
        f"cover {cover_days or problem.cycle_days} days")
    t = time.perf_counter()
    add("newsvendor", newsvendor(problem), time.perf_counter() - t)
    frame = pd.DataFrame(rows)
    base = frame.loc[0, "profit"]
    frame["profit_vs_saa"] = frame["profit"] - base
    return frame


def scaling_run(
    sizes: Sequence[tuple[int, int, int, int]],
    backends: Sequence[str],
    *,
    time_limit: float,
    seed: int,
    mip_gap: float = 1e-4,
    max_mip_skus: int = 2000,
    threads: int = 1,
    **problem_kw: Any,
) -> pd.DataFrame:
    """One row per (size, back-end): status, objective, bound, gap, build/solve/wall seconds.

    ``backend`` is the back-end whose plan the row measures; it differs from
    ``requested_backend`` when that one returned no plan and the fallback's was used.
    """
    rows = []
    for S, W, Z, K in sizes:
        t = time.perf_counter()
        problem = random_problem(S, W, Z, K, seed=seed, **problem_kw)
        gen_s = time.perf_counter() - t
        for b in backends:
            if b in ("highs", "cbc", "scip") and S > max_mip_skus:
                continue
            t = time.perf_counter()
            res = solve_stocking(problem, Settings(backend=b, time_limit=time_limit, seed=seed, mip_gap=mip_gap,
                                                   threads=threads))
            wall = time.perf_counter() - t
            st = res.stats
            rows.append({
                "S": S, "W": W, "Z": Z, "K": K, "backend": st.backend, "requested_backend": b,
                "fallback_reason": st.fallback_reason, "status": str(st.status),
                "objective": st.objective, "bound": st.bound, "gap": st.gap,
                "build_s": st.build_seconds, "solve_s": st.solve_seconds, "wall_s": wall,
                "generate_s": gen_s, "fast_fill": res.expected.fast_fill_rate, "threads": threads,
                "message": st.message,
            })
    return pd.DataFrame(rows)
