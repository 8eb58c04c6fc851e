"""An instance's day executed with replications: outcome table, determinism, policies differ."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.errors import ConfigError
from engine.instance import load_instance
from engine.simulate import allocate_orders
from engine.simulate.logcheck import check_execution
from engine.simulate.replicate import OUTCOME_COLUMNS, execute_day, execution_params
from engine.solver import Settings
from tests.helpers import tiny_copy


def _allocated(inst, units: int = 3) -> pd.DataFrame:
    day = inst.orders["date"].min()
    orders = inst.orders[inst.orders["date"] == day].reset_index(drop=True)
    fw = inst.forward_warehouses["id"]
    stock = pd.DataFrame([(s, w, units) for s in inst.skus["id"] for w in fw], columns=["sku", "warehouse", "units"])
    return allocate_orders(inst, orders, stock)[0]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    inst = load_instance(tiny_copy(tmp_path_factory.mktemp("rep")))
    return inst, _allocated(inst)


def test_outcomes_cover_every_order_in_every_replication(tiny) -> None:
    inst, alloc = tiny
    res = execute_day(inst, alloc, policy="greedy", replications=3, seed=5)
    o = res.outcomes
    assert list(o.columns) == list(OUTCOME_COLUMNS)
    assert len(o) == 3 * len(alloc)
    assert o.groupby("replication")["order"].nunique().eq(len(alloc)).all()
    assert set(o["state"]) <= {"delivered", "damaged", "lost"}
    central = o["source"] == "central"
    assert (o.loc[central, "courier_kind"] == "central_carrier").all()
    for day in res.days:
        assert check_execution(day) == []
    assert res.to_dict()["replications"] == 3
    # every executed forward order was assigned after it was created
    ex = o["served_by_plan"]
    assert (o.loc[ex, "assigned_min"] >= o.loc[ex, "created_min"] - 1e-9).all()


def test_same_seed_same_outcomes_and_events(tiny) -> None:
    inst, alloc = tiny
    a = execute_day(inst, alloc, policy="greedy", replications=2, seed=9)
    b = execute_day(inst, alloc, policy="greedy", replications=2, seed=9)
    pd.testing.assert_frame_equal(a.outcomes, b.outcomes)
    assert a.events.to_csv(index=False) == b.events.to_csv(index=False)


def test_a_rolling_day_does_not_depend_on_the_clock(tiny) -> None:
    """PyVRP epochs are bounded by work: a 10x larger time cap, or a slower machine, changes nothing."""
    inst, alloc = tiny
    runs = [execute_day(inst, alloc, policy="rolling", replications=1, seed=4,
                        settings=Settings(backend="pyvrp", time_limit=cap, seed=4)) for cap in (3.0, 30.0)]
    assert runs[0].events.to_csv(index=False) == runs[1].events.to_csv(index=False)
    pd.testing.assert_frame_equal(runs[0].outcomes, runs[1].outcomes)
    assert runs[0].outcomes["served_by_plan"].any()


def test_rolling_and_greedy_take_different_decisions(tiny) -> None:
    inst, alloc = tiny
    s = Settings(backend="pyvrp", time_limit=0.3)
    g = execute_day(inst, alloc, policy="greedy", replications=1, seed=2)
    r = execute_day(inst, alloc, policy="rolling", settings=s, replications=1, seed=2)
    cols = ["courier", "assigned_min"]
    assert not g.outcomes[cols].equals(r.outcomes[cols])
    assert check_execution(r.days[0]) == []


def test_unknown_policy_is_a_config_error(tiny) -> None:
    inst, alloc = tiny
    with pytest.raises(ConfigError, match="unknown dispatch policy"):
        execute_day(inst, alloc, policy="fastest")


def test_parameters_come_from_the_manifest(tiny) -> None:
    inst, _ = tiny
    p = execution_params(inst)
    s = inst.manifest.simulation
    assert p.travel_noise_cv == s.travel_noise_cv and p.crowd_no_show == s.crowd_no_show
    assert p.tracking_gap_rate_fleet == s.tracking_gap_rate
    assert np.isfinite(p.max_late_min)


def test_no_forward_orders_still_scores_the_central_ones(tmp_path: Path) -> None:
    inst = load_instance(tiny_copy(tmp_path))
    alloc = _allocated(inst, units=0)
    assert (alloc["source"] == "central").all()
    res = execute_day(inst, alloc, policy="greedy", replications=2, seed=1)
    assert len(res.outcomes) == 2 * len(alloc) and not res.days
