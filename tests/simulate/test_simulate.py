"""Fulfilment: orders meet forward stock; conservation, stock never negative."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from engine.instance import load_instance
from engine.simulate import allocate_orders
from tests.helpers import tiny_copy


def _orders(inst):
    day = inst.orders["date"].min()
    return inst.orders[inst.orders["date"] == day].reset_index(drop=True)


def _stock(inst, units: int) -> pd.DataFrame:
    fw = inst.forward_warehouses["id"]
    return pd.DataFrame([(s, w, units) for s in inst.skus["id"] for w in fw], columns=["sku", "warehouse", "units"])


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


@given(units=st.integers(0, 4))
def test_property_stock_never_negative_and_units_conserved(tmp_path_factory, units: int) -> None:
    inst = load_instance(tiny_copy(tmp_path_factory.mktemp("alloc")))
    alloc, left = allocate_orders(inst, _orders(inst), _stock(inst, units))
    assert (left["units_left"] >= 0).all() and (left["units_left"] <= left["start_units"]).all()
    sold = alloc.loc[alloc["source"] == "forward", "quantity"].sum()
    assert (left["start_units"] - left["units_left"]).sum() == sold
