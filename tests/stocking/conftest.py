from __future__ import annotations

import pytest

from engine.solver import Settings
from engine.stocking import random_problem, solve_stocking


@pytest.fixture(scope="session")
def small():
    """A small problem every exact back-end solves to optimality in well under a second."""
    return random_problem(6, 3, 5, 4, seed=1)


@pytest.fixture(scope="session")
def small_optimum(small):
    res = solve_stocking(small, Settings(backend="highs", time_limit=30, mip_gap=1e-7))
    assert res.stats.status == "optimal"
    return res
