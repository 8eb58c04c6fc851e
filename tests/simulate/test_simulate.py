"""Fulfilment and day simulation: conservation, stock never negative, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from engine.instance import load_instance
from engine.simulate import FINAL_STATES, allocate_orders, simulate_day
from tests.helpers import tiny_copy


def _orders(inst):
    day = inst.orders["date"].min()
    return inst.orders[inst.orders["date"] == day].reset_index(drop=True)


def _stock(inst, units: int) -> pd.DataFrame:
    fw = inst.forward_warehouses["id"]
    return pd.DataFrame([(s, w, units) for s in inst.skus["id"] for w in fw], columns=["sku", "warehouse", "units"])


def _fake_assignments(allocated: pd.DataFrame) -> pd.DataFrame:
    """Every forward order served by one fleet courier, 20 minutes after it is ready."""
    fwd = allocated["source"] == "forward"
    return pd.DataFrame({
        "order": allocated["id"], "status": np.where(fwd, "served", "unserved"),
        "courier": np.where(fwd, "F001", None), "courier_kind": np.where(fwd, "fleet", None),
        "warehouse": allocated["warehouse"], "trip": np.where(fwd, 0, -1), "stop_seq": np.arange(len(allocated)),
        "depart_min": allocated["ready_min"] + 2, "arrive_min": allocated["ready_min"] + 20,
        "due_min": allocated["due_min"],
    })


def test_allocation_conserves_stock_and_orders(tmp_path: Path) -> None:
    inst = load_instance(tiny_copy(tmp_path))
    orders = _orders(inst)
    alloc, left = allocate_orders(inst, orders, _stock(inst, 2))
    assert len(alloc) == len(orders) and set(alloc["id"]) == set(orders["id"])
    assert (left["units_left"] >= 0).all()
    used = (left["start_units"] - left["units_left"]).sum()
    assert used == alloc.loc[alloc["source"] == "forward", "quantity"].sum()
    # forward orders only where the warehouse covers the zone
    cov = inst.coverage()
    fwd = alloc[alloc["source"] == "forward"]
    assert all(cov.loc[w, z] for w, z in zip(fwd["warehouse"], fwd["zone"], strict=True))
    assert (alloc.loc[alloc["source"] == "central", "warehouse"] == inst.central["id"]).all()


def test_no_stock_sends_everything_to_the_dc(tmp_path: Path) -> None:
    inst = load_instance(tiny_copy(tmp_path))
    alloc, _ = allocate_orders(inst, _orders(inst), _stock(inst, 0))
    assert (alloc["source"] == "central").all()
    assert np.allclose(alloc["due_min"] - alloc["created_min"], inst.manifest.slow_tier.max_min)


@given(units=st.integers(0, 4), seed=st.integers(0, 1000))
def test_every_order_ends_in_one_final_state(tmp_path_factory, units: int, seed: int) -> None:
    inst = load_instance(tiny_copy(tmp_path_factory.mktemp("s")))
    alloc, _ = allocate_orders(inst, _orders(inst), _stock(inst, units))
    sim = simulate_day(inst, alloc, _fake_assignments(alloc), replications=3, seed=seed)
    o = sim.outcomes
    assert len(o) == 3 * len(alloc)
    assert o.groupby("replication")["order"].nunique().eq(len(alloc)).all()
    assert o["state"].isin(FINAL_STATES).all()
    assert (o.loc[o["state"] != "lost", "delivered_min"] >= o.loc[o["state"] != "lost", "created_min"]).all()
    assert not (o["instant"] & ~o["on_time"]).any()
    assert not o.loc[o["source"] == "central", "instant"].any()


def test_same_seed_same_outcomes(tmp_path: Path) -> None:
    inst = load_instance(tiny_copy(tmp_path))
    alloc, _ = allocate_orders(inst, _orders(inst), _stock(inst, 3))
    asg = _fake_assignments(alloc)
    a = simulate_day(inst, alloc, asg, replications=2, seed=4)
    b = simulate_day(inst, alloc, asg, replications=2, seed=4)
    c = simulate_day(inst, alloc, asg, replications=2, seed=5)
    pd.testing.assert_frame_equal(a.outcomes, b.outcomes)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert not a.outcomes["delivered_min"].equals(c.outcomes["delivered_min"])


def test_tracking_events_are_ordered(tmp_path: Path) -> None:
    inst = load_instance(tiny_copy(tmp_path))
    alloc, _ = allocate_orders(inst, _orders(inst), _stock(inst, 3))
    sim = simulate_day(inst, alloc, _fake_assignments(alloc), replications=1, seed=1)
    ev = sim.events
    assert set(ev["event"]) <= {"created", "allocated", "picked", "dispatched", "out_for_delivery", "delivered", "failed", "returned"}
    assert ev.groupby("order")["minute"].apply(lambda m: m.is_monotonic_increasing).all()


def test_settings_object_and_stats(tmp_path: Path) -> None:
    from engine.solver import Settings

    inst = load_instance(tiny_copy(tmp_path))
    alloc, _ = allocate_orders(inst, _orders(inst), _stock(inst, 3))
    asg = _fake_assignments(alloc)
    a = simulate_day(inst, alloc, asg, settings=Settings(seed=9, options={"replications": 2}))
    b = simulate_day(inst, alloc, asg, replications=2, seed=9)
    assert a.replications == 2 and a.stats is not None and a.stats.backend == "simulation"
    pd.testing.assert_frame_equal(a.outcomes, b.outcomes)
    import pytest

    from engine.errors import ConfigError
    with pytest.raises(ConfigError, match="unknown option"):
        simulate_day(inst, alloc, asg, settings=Settings(options={"replicas": 2}))
