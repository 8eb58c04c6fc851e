from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.errors import ConfigError, InfeasibleError
from engine.solver import Settings
from engine.stocking import StockingProblem, random_problem, solve_stocking


def _replace(p: StockingProblem, **kw) -> StockingProblem:
    return dataclasses.replace(p, notes=(), **kw)


def test_same_seed_same_problem():
    a, b = random_problem(20, 4, 8, 5, seed=3), random_problem(20, 4, 8, 5, seed=3)
    assert np.array_equal(a.demand, b.demand) and np.array_equal(a.covers, b.covers)
    assert not np.array_equal(a.demand, random_problem(20, 4, 8, 5, seed=4).demand)


def test_each_zone_covered_by_two_nearest():
    p = random_problem(5, 6, 15, 3, seed=1)
    assert (p.covers.sum(axis=0) == 2).all()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p: {"volume_m3": np.zeros(len(p.skus))}, "positive unit volume"),
        (lambda p: {"probability": np.full(p.n_scenarios, 0.9)}, "summing to 1"),
        (lambda p: {"demand": -np.ones_like(p.demand)}, "non-negative"),
        (lambda p: {"unit_cost": np.ones((len(p.skus), 1))}, "shape"),
        (lambda p: {"min_lot": -1}, "min_lot"),
        (lambda p: {"skus": ("a",) * len(p.skus)}, "duplicate"),
    ],
)
def test_bad_input_is_a_config_error(small, change, message):
    with pytest.raises(ConfigError, match=message):
        _replace(small, **change(small))


def test_negative_budget_names_the_budget(small):
    with pytest.raises(InfeasibleError) as exc:
        _replace(small, budget=-1.0)
    assert exc.value.family == "budget"


def test_negative_capacity_names_capacity(small):
    with pytest.raises(InfeasibleError) as exc:
        _replace(small, capacity_m3=np.array([-1.0, 1.0, 1.0]))
    assert exc.value.family == "capacity"


def test_hard_cases_give_clear_notes_and_a_valid_plan(small):
    uncovered = small.covers.copy()
    uncovered[:, 0] = False
    p = _replace(small, covers=uncovered, capacity_m3=np.array([0.0, 1e-6, 1.0]))  # W = 3
    text = " ".join(p.notes)
    assert "covered by no forward warehouse" in text and "nothing can be stocked" in text
    res = solve_stocking(p, Settings(backend="decomp", time_limit=5))
    assert res.units[:, :2].sum() == 0
    zero = _replace(small, demand=np.zeros_like(small.demand))
    assert any("zero" in n for n in zero.notes)
    res = solve_stocking(zero, Settings(backend="decomp", time_limit=5))
    assert res.units.sum() == 0 and res.stats.status == "optimal"
