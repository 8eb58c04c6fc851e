"""The importer on a slice of the data: counts, coordinates, scaling, baseline, validity."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.errors import ConfigError
from engine.importers import build_olist, config_for, import_olist, read_olist
from engine.importers.olist_source import OlistSource
from engine.instance import load_instance

START = dt.date(2018, 6, 1)
SP_CITY_LAT = (-24.05, -23.35)
SP_CITY_LON = (-46.85, -46.35)


def small(**changes: object):
    base = dict(scale=1.0, history_days=60, order_days=2, start_date=START, max_skus=5, warehouses=3,
                fleet_per_warehouse=1, crowd=4, name="slice")
    base.update(changes)
    return config_for("sp-city", **base)


@pytest.fixture(scope="module")
def sliced(olist_slice: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("imp") / "slice"
    return import_olist(olist_slice, out, small()), out


def _real_window_units(src: Path) -> tuple[float, int]:
    """Real delivered units of the history window and lines of the order days, from the raw CSVs."""
    orders = pd.read_csv(src / "olist_orders_dataset.csv", parse_dates=["order_purchase_timestamp"])
    items = pd.read_csv(src / "olist_order_items_dataset.csv")
    d = orders[orders["order_status"] == "delivered"]
    day = d["order_purchase_timestamp"].dt.normalize()
    start = pd.Timestamp(START)
    hist = d[(day >= start - pd.Timedelta(days=60)) & (day < start)]
    plan = d[(day >= start) & (day < start + pd.Timedelta(days=2))]
    units = float(items["order_id"].isin(hist["order_id"]).sum())
    lines = int(len(items[items["order_id"].isin(plan["order_id"])].drop_duplicates(["order_id", "product_id"])))
    return units, lines


def test_slice_builds_a_valid_instance(sliced, olist_slice: Path) -> None:
    result, out = sliced
    inst = load_instance(out)  # validates every table and the manifest
    assert (out / "README.md").read_text().count("CC BY-NC-SA 4.0") >= 1
    assert "CC BY-NC-SA 4.0" in inst.manifest.attribution
    # every delivered line of São Paulo city had coordinates and none lies far away
    assert result.counts["lines_without_coordinates"] == 0
    assert result.counts["lines_far_from_region"] == 0
    units, lines = _real_window_units(olist_slice)
    assert inst.demand["quantity"].sum() == units  # scale 1: exactly the real units
    assert len(inst.orders) == lines
    assert inst.demand["date"].max() < pd.Timestamp(START)
    assert (inst.orders["date"] >= pd.Timestamp(START)).all()


def test_zones_are_zip_prefixes_inside_the_city(sliced, olist_source: OlistSource) -> None:
    inst = sliced[0].instance
    z = inst.zones
    assert z["id"].str.fullmatch(r"Z\d{5}").all()
    assert z["lat"].between(*SP_CITY_LAT).all() and z["lon"].between(*SP_CITY_LON).all()
    assert z["radius_km"].between(0.3, 2.5).all()
    # one zone per zip prefix of a delivered São Paulo city order (the whole sample has ~650)
    ln = olist_source.lines
    assert len(z) == ln.loc[(ln["state"] == "SP") & (ln["city"] == "sao paulo"), "prefix"].nunique()
    assert 600 <= len(z) <= 700
    w = inst.warehouses
    assert (w["kind"] == "central").sum() == 1 and (w["kind"] == "forward").sum() == 3
    fw = inst.forward_warehouses
    assert fw["lat"].between(*SP_CITY_LAT).all() and fw["lon"].between(*SP_CITY_LON).all()
    o = inst.orders
    assert o["lat"].between(*SP_CITY_LAT).all() and o["lon"].between(*SP_CITY_LON).all()
    assert o["created_min"].between(0, 1440).all()


def test_skus_are_top_categories_plus_other(sliced) -> None:
    skus = sliced[0].instance.skus
    assert len(skus) == 6 and "other" in set(skus["id"])
    assert (skus["unit_volume_m3"] > 0).all() and (skus["unit_value"] > 0).all()
    assert skus.loc[skus["high_value"], "unit_value"].ge(300).all()


def test_baseline_is_measured_from_the_data(olist_source: OlistSource) -> None:
    result = build_olist(olist_source, small())
    b = result.notes["baseline_all_regions"]
    o = olist_source.orders
    d = o[(o["status"] == "delivered") & o["delivered"].notna()]
    assert b["orders"] == len(d)
    assert b["late_share"] == pytest.approx((d["delivered"] > d["estimated"]).mean(), abs=1e-4)
    days = (d["delivered"] - d["purchased"]).dt.total_seconds() / 86400
    assert b["median_delivery_days"] == pytest.approx(days.median(), abs=0.01)
    # the numbers SOURCES.md-era analysis quotes for the sample: 8.0% late, median 10.3 days
    assert round(b["late_share"], 3) == 0.080 and round(b["median_delivery_days"], 1) == 10.3
    assert sum(b["delivery_days_histogram"]["orders"]) == b["orders"]
    region = result.notes["baseline"]
    assert 0 < region["orders"] < b["orders"]
    # the central DC's slow promise is on time at the real rate
    assert result.instance.manifest.simulation.central_on_time == pytest.approx(region["on_time_share"])
    assert result.baseline()["indicator"].str.contains("late_share").sum() == 2


def test_scaling_is_explicit_and_recorded(olist_source: OlistSource) -> None:
    cfg = small(scale=20.0, scale_reason="test factor", history_days=120)
    r = build_olist(olist_source, cfg)
    v = r.notes["volume"]
    assert v["factor"] == 20.0 and v["reason"] == "test factor" and "resampled" in v["method"]
    # instance volume ≈ factor × real volume (Poisson noise over 120 days is a few percent)
    assert v["instance_lines_per_day"] == pytest.approx(20.0 * v["real_lines_per_day"], rel=0.15)
    assert "Volume scaled x20" in r.instance.manifest.description
    # the scaled orders still spread over the real zones, not a handful of them
    assert r.instance.orders["zone"].nunique() > 0.5 * len(r.instance.orders)
    unscaled = build_olist(olist_source, small()).notes["volume"]
    assert unscaled["factor"] == 1.0 and unscaled["reason"] == "not scaled"


def test_same_seed_same_instance(olist_source: OlistSource) -> None:
    cfg = small(scale=10.0)
    a, b = build_olist(olist_source, cfg).instance, build_olist(olist_source, cfg).instance
    for name in ("warehouses", "zones", "skus", "demand", "orders", "fleet", "crowd"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    c = build_olist(olist_source, replace(cfg, seed=cfg.seed + 1)).instance
    assert not c.orders.equals(a.orders)


def test_regional_preset_on_the_whole_sample(olist_source: OlistSource, tmp_path: Path) -> None:
    cfg = config_for("sp-state", history_days=90, max_skus=4, crowd=3)
    r = import_olist(olist_source.root, tmp_path / "sp", cfg)
    inst = r.instance
    assert inst.zones["id"].str.fullmatch(r"Z\d{3}").all()  # zip sectors
    assert inst.manifest.instant_tier.max_min == 1440.0  # next-day from forward warehouses
    assert inst.manifest.slow_tier.max_min == pytest.approx(1440.0 * round(r.notes["baseline"]["median_promised_days"]))
    fw = inst.forward_warehouses
    # forward warehouses in several cities: pairwise more than 40 km apart for most pairs
    lat, lon = np.radians(fw["lat"].to_numpy()), np.radians(fw["lon"].to_numpy())
    km = 6371 * np.arccos(np.clip(np.sin(lat)[:, None] * np.sin(lat) + np.cos(lat)[:, None] * np.cos(lat)
                                  * np.cos(lon[:, None] - lon), -1, 1))
    assert np.median(km[np.triu_indices(len(fw), 1)]) > 40
    assert inst.zones["lat"].between(-25.5, -19.5).all() and inst.zones["lon"].between(-53.2, -44.0).all()


def test_bad_window_and_region(olist_source: OlistSource) -> None:
    with pytest.raises(ConfigError, match="inside the region's data"):
        build_olist(olist_source, small(start_date=dt.date(2019, 1, 1)))
    with pytest.raises(ConfigError, match="no delivered order"):
        build_olist(olist_source, config_for("city:atlantis/SP", scale=1.0))
    with pytest.raises(ConfigError):
        small(scale=0.5)


def test_source_path_is_not_hard_coded(olist_slice: Path, tmp_path: Path) -> None:
    src = read_olist(olist_slice)
    assert src.root == olist_slice


def test_size_classes_and_result_tables(olist_source: OlistSource) -> None:
    r = build_olist(olist_source, small(size_classes=True, max_skus=3))
    ids = r.instance.skus["id"]
    assert ids.str.fullmatch(r"[a-z_0-9]+-[SML]").all()
    assert ids.str.rsplit("-", n=1).str[0].nunique() == 4  # 3 categories + other
    frame = r.to_frame()
    assert list(frame.columns) == ["group", "name", "value"] and frame["value"].notna().all()
    assert {"source", "instance", "volume", "baseline_region", "segment_real_share"} <= set(frame["group"])
    shares = frame[frame["group"] == "segment_real_share"].set_index("name")["value"]
    assert shares.sum() == pytest.approx(1.0) and set(shares.index) == {"repeat", "new"}
    d = r.to_dict()
    assert d["region"] == "sp-city" and d["counts"] == r.counts and isinstance(d["warnings"], list)


def test_thin_region_warns_instead_of_failing(olist_source: OlistSource) -> None:
    # Campinas' delivered orders end on 2018-08-24: four weeks of orders from August 1 do not fit
    with pytest.raises(ConfigError, match="fewer --order-days"):
        build_olist(olist_source, config_for("city:campinas/SP"))
    r = build_olist(olist_source, config_for("city:campinas/SP", warehouses=50, order_days=2))
    text = " ".join(r.warnings)
    assert "no orders on the first planning day" in text
    assert "forward warehouses placed" in text


def test_order_days_do_not_move_the_history_the_network_or_earlier_days(olist_source: OlistSource) -> None:
    # each planning day draws from its own stream: a longer window only adds days (the SKUs are
    # ranked over the whole window; on this data the top five are the same for both windows)
    short = build_olist(olist_source, small(scale=30.0, order_days=2)).instance
    long = build_olist(olist_source, small(scale=30.0, order_days=5)).instance
    for name in ("demand", "warehouses", "fleet", "crowd", "skus"):
        pd.testing.assert_frame_equal(getattr(short, name), getattr(long, name))
    first = long.orders[long.orders["date"] < pd.Timestamp(START) + pd.Timedelta(days=2)]
    pd.testing.assert_frame_equal(short.orders, first.reset_index(drop=True))
    assert long.orders["date"].nunique() == 5 and len(long.orders) > len(short.orders)
