"""``late_window_min``: how late a hard-window epoch solve may plan an order that cannot be on time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import load_instance
from engine.dispatch import problem_from_frames
from engine.dispatch.policy import EpochView, earliest_begin, epoch_problem, make_policy
from engine.errors import ConfigError
from engine.pipeline import orders_of_day
from engine.simulate import allocate_orders
from engine.simulate.execute import ExecutionParams, execute_problem_day
from engine.simulate.logcheck import check_execution
from engine.simulate.replicate import execute_day
from engine.solver import Settings
from tests.dispatch.helpers import tiny_frames

MAX_LATE = 120.0


def _late_day(seed: int):
    """Promises a few couriers cannot keep for everyone: some orders are late at the first epoch."""
    wh, orders, couriers = tiny_frames(seed, n=16, n_fleet=1, n_crowd=2, n_wh=1, special_share=0.0)
    orders["due_min"] = orders["ready_min"] + 9.0
    P = problem_from_frames(wh, orders, couriers, assign_crowd=False)
    return P, orders["ready_min"].to_numpy(float) - 8.0


def _view(P, t: float) -> EpochView:
    m = P.n_couriers
    return EpochView(t=t, next_t=t + 5.0, problem=P, pending=np.arange(P.n_orders), available=np.ones(m, bool),
                     free_min=np.maximum(P.start_min, t), loc=P.start_loc.copy(), work_used=np.zeros(m),
                     used=np.zeros(m, bool), trips_done=np.zeros(m, int), hard_due=P.due + MAX_LATE,
                     max_late_min=MAX_LATE)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), window=st.floats(1.0, 60.0), t=st.sampled_from([640.0, 660.0, 680.0]))
def test_a_late_orders_window_ends_window_minutes_after_its_soonest_start(seed: int, window: float, t: float) -> None:
    P, _ = _late_day(seed)
    view = _view(P, t)
    wide, pend, _ = epoch_problem(view)
    narrow, pend2, _ = epoch_problem(view, late_window=window)
    assert np.array_equal(pend, pend2)
    promise, hard = P.due[pend], view.hard_due[pend]
    late = wide.due > promise + 1e-9  # planned against the hard limit by default
    # orders that can still be on time keep their promise either way
    assert np.array_equal(narrow.due[~late], wide.due[~late])
    assert np.array_equal(wide.due[late], hard[late])
    soonest = earliest_begin(wide)[late]
    expect = np.minimum(hard[late], np.maximum(soonest + window, promise[late]))
    assert np.allclose(narrow.due[late], expect)
    assert (narrow.due >= promise - 1e-9).all() and (narrow.due <= wide.due + 1e-9).all()


def test_the_late_days_have_late_orders_at_every_sampled_epoch() -> None:
    """The property above is not vacuous: its days do have orders that cannot be on time."""
    for seed in (0, 1, 2, 3):
        P, _ = _late_day(seed)
        for t in (640.0, 660.0, 680.0):
            wide, pend, _ = epoch_problem(_view(P, t))
            assert (wide.due > P.due[pend] + 1e-9).any()


def test_earliest_begin_is_the_soonest_of_every_courier_alone() -> None:
    P, _ = _late_day(3)
    sub, _, _ = epoch_problem(_view(P, 650.0))
    eb = earliest_begin(sub)
    for i in range(sub.n_orders):
        best = np.inf
        wl = sub.warehouse_loc[sub.order_wh[i]]
        for v in range(sub.n_couriers):
            if sub.courier_warehouse[v] not in (-1, sub.order_wh[i]) or sub.size[i] > sub.capacity[v] + 1e-6:
                continue
            p = sub.courier_profile[v]
            pick = max(sub.start_min[v] + sub.time_min[p, sub.start_loc[v], wl], sub.ready[i])
            if pick > sub.pickup_end[v] + 1e-6:
                continue
            begin = max(pick + sub.pickup_service[sub.order_wh[i]] + sub.time_min[p, wl, sub.order_loc[i]],
                        sub.open_min[i])
            best = min(best, begin)
        assert eb[i] == pytest.approx(best)


@pytest.mark.parametrize("policy", ["rolling", "waves"])
def test_an_executed_day_with_a_late_window_passes_its_checks(policy: str) -> None:
    P, created = _late_day(11)
    params = ExecutionParams(max_late_min=MAX_LATE)

    def run(window: float) -> str:
        pol = make_policy(policy, Settings(backend="pyvrp", time_limit=0.5, seed=1), period=5, late_window=window)
        day = execute_problem_day(P, created, pol, params, seed=2)
        assert check_execution(day) == []
        assert len(day.orders) == P.n_orders
        return day.events.to_csv(index=False)

    assert run(10.0) == run(10.0)  # seeded: the same day twice


@pytest.mark.parametrize("bad", [-5.0, "ten", float("inf"), True])
def test_a_bad_late_window_fails_before_any_work(bad: object) -> None:
    inst = load_instance(Path(__file__).resolve().parents[2] / "instances" / "metro-small")
    orders = orders_of_day(inst, inst.manifest.planning.start_date).head(5)
    stock = pd.DataFrame([(s, w, 10) for s in inst.skus["id"] for w in inst.forward_warehouses["id"]],
                         columns=["sku", "warehouse", "units"])
    allocated, _ = allocate_orders(inst, orders, stock)
    base = inst.manifest.settings("dispatch")
    with pytest.raises(ConfigError, match="late_window_min"):
        execute_day(inst, allocated, settings=base.with_(options={**base.options, "late_window_min": bad}),
                    replications=1, seed=0)
    with pytest.raises(ConfigError, match="late_window"):
        make_policy("rolling", period=5, late_window=-1.0)
