"""Replications in worker processes give what one process gives."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.errors import ConfigError
from engine.instance import load_instance
from engine.simulate.logcheck import check_execution
from engine.simulate.replicate import execute_day
from engine.solver import Settings
from tests.helpers import tiny_copy
from tests.simulate.test_replicate import _allocated


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    inst = load_instance(tiny_copy(tmp_path_factory.mktemp("workers")))
    return inst, _allocated(inst)


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(a.outcomes, b.outcomes)
    assert a.events.to_csv(index=False) == b.events.to_csv(index=False)
    pd.testing.assert_frame_equal(a.stops, b.stops)
    pd.testing.assert_frame_equal(a.epochs.drop(columns="seconds"), b.epochs.drop(columns="seconds"))
    for x, y in zip(a.days, b.days, strict=True):
        assert x.events.to_csv(index=False) == y.events.to_csv(index=False)
        pd.testing.assert_frame_equal(x.orders, y.orders)
        assert y.problem is not None and y.problem.order_ids == x.problem.order_ids
        assert check_execution(y) == []


def test_two_workers_give_the_results_of_one(tiny) -> None:
    inst, alloc = tiny
    # rolling with an iteration budget: the solves do not depend on the time each process gets
    s = Settings(backend="pyvrp", time_limit=30.0, seed=0, options={"max_iterations": 15})
    one = execute_day(inst, alloc, policy="rolling", settings=s, replications=2, seed=11)
    two = execute_day(inst, alloc, policy="rolling", settings=s, replications=2, seed=11, workers=2)
    assert len(two.days) == 2
    _same(one, two)
    assert two.to_dict()["final_states"] == one.to_dict()["final_states"]


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_workers_must_be_a_positive_whole_number(tiny, bad) -> None:
    inst, alloc = tiny
    with pytest.raises(ConfigError, match="workers must be a whole number"):
        execute_day(inst, alloc, policy="greedy", replications=1, workers=bad)
