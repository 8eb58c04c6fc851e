"""Generator: byte-identical for a seed, believable structure, round-trips through the writer."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from engine.instance import load_instance, write_instance
from engine.instance.generate import generate_instance
from engine.io import MARKER
from tests.helpers import TINY_KNOBS


def _same_tree(a: Path, b: Path) -> bool:
    # the output marker records when and how a directory was written, so it differs by design
    names = sorted(p.name for p in a.iterdir() if p.name != MARKER)
    if names != sorted(p.name for p in b.iterdir() if p.name != MARKER):
        return False
    return all(filecmp.cmp(a / n, b / n, shallow=False) for n in names)


def test_same_seed_byte_identical(tmp_path: Path) -> None:
    for run, seed in (("a", 5), ("b", 5), ("c", 6)):
        generate_instance(tmp_path / run / "city", seed=seed, **TINY_KNOBS)
    assert _same_tree(tmp_path / "a" / "city", tmp_path / "b" / "city")
    assert not filecmp.cmp(tmp_path / "a" / "city" / "demand.csv", tmp_path / "c" / "city" / "demand.csv", shallow=False)


def test_round_trip_is_exact(tmp_path: Path) -> None:
    inst = generate_instance(tmp_path / "a" / "city", seed=3, **TINY_KNOBS)
    write_instance(load_instance(tmp_path / "a" / "city"), tmp_path / "b" / "city")
    assert _same_tree(tmp_path / "a" / "city", tmp_path / "b" / "city")
    assert inst.summary() == load_instance(tmp_path / "b" / "city").summary()


def test_structure_is_believable(tmp_path: Path) -> None:
    inst = generate_instance(tmp_path / "m", preset="small", seed=1, days=120)
    demand = inst.demand
    by_sku = demand.groupby("sku")["quantity"].sum().sort_values(ascending=False)
    assert by_sku.iloc[0] > 5 * by_sku.iloc[len(by_sku) // 2]  # skewed popularity
    daily = demand.groupby("date")["quantity"].sum()
    full = daily.reindex(inst.history_dates, fill_value=0)
    # event days lift demand well above ordinary days
    ev_days = set(inst.events.loc[inst.events["kind"] == "promotion", "date"])
    on = full[full.index.isin(ev_days)]
    off = full[~full.index.isin(set(inst.events["date"]))]
    assert on.mean() > 1.5 * off.mean()
    # weekends differ from weekdays
    assert full[full.index.day_of_week >= 5].mean() != full[full.index.day_of_week < 5].mean()
    # intermittent long tail: some series have many zero days
    cells = demand.groupby(["sku", "zone"]).size()
    assert (cells < 0.5 * len(full)).any()
    assert inst.skus["fragile"].any() and inst.skus["high_value"].any()
    assert inst.coverage().any(axis=0).mean() > 0.5  # most zones reachable fast
    assert set(inst.orders["segment"]) <= {s.id for s in inst.manifest.segments}
    # every warehouse has riders in the evening peak
    evening = inst.fleet[(inst.fleet["shift_start_min"] <= 1200) & (inst.fleet["shift_end_min"] >= 1260)]
    assert set(evening["warehouse"]) == set(inst.forward_warehouses["id"])


@given(seed=st.integers(0, 2**31 - 1), skus=st.integers(2, 12), zones=st.integers(2, 6))
def test_generated_instances_always_validate(tmp_path_factory, seed: int, skus: int, zones: int) -> None:
    out = tmp_path_factory.mktemp("g")
    inst = generate_instance(out / "x", seed=seed, skus=skus, zones=zones, warehouses=min(2, zones),
                             fleet=2, crowd=3, days=30, daily_units=30.0)
    assert load_instance(out / "x").summary() == inst.summary()
    assert np.isfinite(inst.zones[["lat", "lon"]].to_numpy()).all()
    assert (inst.orders["date"] >= pd.Timestamp(inst.manifest.planning.start_date)).all()
