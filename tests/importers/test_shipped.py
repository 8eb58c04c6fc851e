"""The shipped real-data instances: valid, small, attributed, scaled openly, reproducible."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from engine.importers import config_for, import_olist
from engine.instance import load_instance
from engine.io import MARKER

INSTANCES = Path(__file__).resolve().parents[2] / "instances"
SHIPPED = {"olist-sp": "sp-state", "olist-sp-city": "sp-city"}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_instance_is_valid_small_and_attributed(name: str) -> None:
    root = INSTANCES / name
    inst = load_instance(root)
    size = sum(p.stat().st_size for p in root.iterdir())
    assert size < 1_000_000
    m = inst.manifest
    assert "CC BY-NC-SA 4.0" in m.attribution and "Olist" in m.attribution
    assert "CC BY-NC-SA 4.0" in (root / "README.md").read_text()
    assert m.currency == "BRL"
    notes = m.notes
    assert notes["source"]["licence"] == "CC BY-NC-SA 4.0"
    vol = notes["volume"]
    assert vol["factor"] > 1 and vol["reason"] and vol["method"].startswith("resampled")
    assert f"x{vol['factor']:g}" in m.description
    b = notes["baseline"]  # what the report reads
    for key in ("late_share", "median_delivery_days", "orders", "source"):
        assert key in b
    assert 0 < b["late_share"] < 0.2 and 3 < b["median_delivery_days"] < 15
    assert m.simulation.central_on_time == pytest.approx(b["on_time_share"])
    assert len(inst.orders[inst.orders["date"] == pd.Timestamp(m.planning.start_date)]) > 50
    assert len(inst.fleet) and len(inst.crowd)


def test_city_has_the_real_spread_of_customers() -> None:
    inst = load_instance(INSTANCES / "olist-sp-city")
    assert 600 <= len(inst.zones) <= 700
    assert inst.zones["id"].str.fullmatch(r"Z\d{5}").all()
    assert inst.manifest.instant_tier.max_min == 60.0
    # most demand is within reach of a forward warehouse on the instant tier
    cov = inst.coverage().any(axis=0)
    w = inst.zones.set_index("id")["weight"]
    assert w[cov[cov].index].sum() / w.sum() > 0.8


def test_regional_has_warehouses_in_several_cities_and_next_day() -> None:
    inst = load_instance(INSTANCES / "olist-sp")
    assert inst.manifest.instant_tier.name == "next_day" and inst.manifest.instant_tier.max_min == 1440.0
    fw = inst.forward_warehouses
    assert len(fw) >= 5
    assert fw["lat"].round(0).nunique() >= 3  # spread over the state, not one metro area


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_instance_is_what_the_importer_writes(name: str, olist_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / name
    import_olist(olist_dir, out, config_for(SHIPPED[name], start_date=dt.date(2018, 8, 1)))
    for f in sorted(p.name for p in (INSTANCES / name).iterdir() if p.name not in ("instance.toml", MARKER)):
        assert (out / f).read_bytes() == (INSTANCES / name / f).read_bytes(), f
    # the manifest: everything the importer decides (library defaults may move on without a rebuild)
    new, old = (tomllib.loads((d / "instance.toml").read_text()) for d in (out, INSTANCES / name))
    for key in ("name", "description", "seed", "currency", "attribution", "tables", "planning", "travel",
                "promise", "segments", "notes"):
        assert new.get(key) == old.get(key), key
    assert new["simulation"]["central_on_time"] == old["simulation"]["central_on_time"]
    assert new["solver"]["forecast"]["backend"] == old["solver"]["forecast"]["backend"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_nearstock_run_on_shipped_instance(name: str) -> None:
    from engine.pipeline import run

    result = run(load_instance(INSTANCES / name))
    s = result.summary()
    assert s["orders"] > 50 and s["from_forward_stock"] > 0
    assert 0 <= result.scorecard.index <= 100


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_instance_has_four_weeks_of_orders_and_real_segments(name: str) -> None:
    inst = load_instance(INSTANCES / name)
    m = inst.manifest
    days = pd.date_range(pd.Timestamp(m.planning.start_date), periods=28, freq="D")
    per_day = inst.orders.groupby("date").size()
    assert list(per_day.index) == list(days)  # four weeks of planning days, none missing
    assert per_day.min() > 40 and inst.manifest.tables["orders"] == "orders.csv.gz"
    seg = {s.id: s for s in m.segments}
    rule = m.notes["segments"]
    assert rule["real_shares"] == {k: s.share for k, s in seg.items()}
    assert "customer_unique_id" in rule["rule"] and "no look-ahead" in rule["rule"]
    assert all("customer_unique_id" in s.rule for s in seg.values())
    assert set(inst.orders["segment"]) == set(seg)
    assert 0.005 < sum(s.share for k, s in seg.items() if k.endswith("repeat")) < 0.05
    assert all(seg[k].weight > seg[k.replace("repeat", "new")].weight for k in seg if k.endswith("repeat"))
    if name == "olist-sp":
        capital = sum(s.share for k, s in seg.items() if k.startswith("capital"))
        assert 0.3 < capital < 0.4  # São Paulo city's share of the state's delivered lines
    else:
        assert seg["repeat"].promise_min < seg["new"].promise_min
