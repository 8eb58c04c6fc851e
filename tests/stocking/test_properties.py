"""Hypothesis properties on tiny random problems: plans respect the model, the bound is valid."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.solver import Settings
from engine.stocking import check_plan, evaluate_plan, random_problem, solve_stocking
from engine.stocking.flow import CutOracle, allocation

sizes = st.tuples(
    st.integers(1, 8), st.integers(1, 4), st.integers(1, 6), st.integers(1, 5), st.integers(0, 10_000)
)


def _problem(S, W, Z, K, seed, **kw):
    return random_problem(S, W, Z, K, seed=seed, cover=min(2, W), **kw)


@settings(max_examples=15, deadline=None)
@given(sizes, st.sampled_from(["decomp", "newsvendor", "days_of_cover"]), st.floats(0.05, 2.0))
def test_plans_respect_capacity_and_storage(dims, backend, cap):
    p = _problem(*dims, capacity_factor=cap)
    res = solve_stocking(p, Settings(backend=backend, time_limit=2))
    assert not check_plan(p, res.units)
    assert (p.volume_m3 @ res.units <= p.capacity_m3 + 1e-9).all()
    assert (res.units[~p.allowed] == 0).all()
    if res.stats.bound is not None:
        assert res.stats.bound >= res.stats.objective - 1e-9 * max(1.0, abs(res.stats.objective))


@settings(max_examples=20, deadline=None)
@given(sizes, st.integers(0, 6))
def test_second_stage_respects_stock_and_demand(dims, level):
    p = _problem(*dims)
    rng = np.random.default_rng(dims[-1])
    q = rng.integers(0, level + 1, size=(len(p.skus), len(p.warehouses))).astype(float) * p.allowed
    g = p.zone_groups()
    dem = p.grouped_demand()
    served = allocation(q, dem, g.covers)  # (S, W, K)
    assert (served <= q[:, :, None] + 1e-9).all()  # x <= stock
    reach = np.einsum("spk,wp->swk", dem, g.covers.astype(float))
    assert (served <= reach + 1e-9).all()  # x <= demand it can reach
    assert (served.sum(axis=1) <= dem.sum(axis=1) + 1e-9).all()  # x <= demand
    flow, delta = CutOracle(g.covers)(q, dem)
    assert np.allclose(flow, served.sum(axis=1))  # min cut = max flow
    ev = evaluate_plan(p, q)
    assert ev.fast_units <= ev.demand_units + 1e-9 and ev.leftover_units >= -1e-9


@settings(max_examples=4, deadline=None)
@given(st.tuples(st.integers(2, 5), st.integers(1, 3), st.integers(1, 4), st.integers(1, 3), st.integers(0, 999)))
def test_decomposition_bound_is_at_least_the_optimum(dims):
    p = _problem(*dims)
    exact = solve_stocking(p, Settings(backend="highs", time_limit=20, mip_gap=1e-9))
    dec = solve_stocking(p, Settings(backend="decomp", time_limit=2))
    opt_ub = exact.stats.bound if exact.stats.bound is not None else exact.stats.objective
    opt_lb = exact.stats.objective
    assert dec.stats.bound >= opt_lb - 1e-6 * max(1.0, abs(opt_lb))
    assert dec.stats.objective <= opt_ub + 1e-6 * max(1.0, abs(opt_ub))


def test_same_seed_same_plan():
    p = random_problem(40, 4, 10, 8, seed=5)
    a = solve_stocking(p, Settings(backend="decomp", time_limit=3, options={"ascent_share": 1.0, "max_sweeps": 5}))
    b = solve_stocking(p, Settings(backend="decomp", time_limit=3, options={"ascent_share": 1.0, "max_sweeps": 5}))
    assert np.array_equal(a.units, b.units)
