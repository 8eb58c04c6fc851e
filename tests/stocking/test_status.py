"""No status is trusted blindly: fractional, infeasible and bound-inconsistent outcomes."""

from __future__ import annotations

import numpy as np

from engine.solver import Settings, SolveStatus
from engine.stocking import check_plan, finalize
from engine.stocking.outcome import Outcome


def test_fractional_plan_is_floored_and_downgraded(small, small_optimum):
    frac = small_optimum.units + 0.5  # what PuLP loads when CBC has no integer solution
    res = finalize(small, Outcome(frac, SolveStatus.OPTIMAL, 1e9, 1e9, 0, 0, "pretend"), "fake", Settings())
    assert res.stats.status != SolveStatus.OPTIMAL
    assert "fractional" in res.stats.message
    assert not check_plan(small, res.units)
    assert res.stats.objective < 1e9  # re-evaluated, not copied


def test_infeasible_plan_is_repaired(small):
    big = np.full((len(small.skus), len(small.warehouses)), 10_000.0)
    res = finalize(small, Outcome(big, SolveStatus.OPTIMAL, None, None, 0, 0), "fake", Settings())
    assert "repaired" in res.stats.message and res.stats.status == SolveStatus.FEASIBLE
    assert not check_plan(small, res.units)


def test_bound_below_objective_is_dropped(small, small_optimum):
    out = Outcome(small_optimum.units, SolveStatus.OPTIMAL, None, 0.0, 0, 0)
    res = finalize(small, out, "fake", Settings())
    assert res.stats.bound is None and "dropped" in res.stats.message
    assert res.stats.status != SolveStatus.OPTIMAL


def test_no_plan_gets_a_fallback_not_a_crash(small):
    res = finalize(small, Outcome(None, SolveStatus.NO_SOLUTION, None, None, 0, 0, "timeout"), "fake", Settings())
    assert res.stats.status == SolveStatus.NO_SOLUTION
    assert "newsvendor" in res.stats.message and not check_plan(small, res.units)


def test_time_limit_returns_best_plan_with_gap():
    from engine.stocking import random_problem, solve_stocking

    p = random_problem(60, 5, 12, 10, seed=2)
    res = solve_stocking(p, Settings(backend="highs", time_limit=1.0))
    assert res.stats.status in (SolveStatus.TIME_LIMIT, SolveStatus.OPTIMAL, SolveStatus.NO_SOLUTION)
    assert not check_plan(p, res.units)
    assert res.stats.solve_seconds < 30
