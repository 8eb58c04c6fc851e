"""Customer segments from the real customer histories: the rule, no look-ahead, the shares."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pandas as pd
import pytest

from engine.errors import ConfigError
from engine.importers import build_olist, config_for, import_olist
from engine.importers.olist_segments import customer_flags
from engine.importers.olist_source import FILE_NAMES, OlistSource
from engine.instance import load_instance

START = dt.date(2018, 6, 1)


def _raw(root: Path, key: str) -> pd.DataFrame:
    path = root / f"{FILE_NAMES[key]}.csv.gz"
    if not path.is_file():
        path = root / f"{FILE_NAMES[key]}.csv"
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    with gzip.open(path, "rt", encoding="utf-8-sig") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


def rule_by_hand(root: Path) -> pd.DataFrame:
    """The rule recomputed from the raw CSVs, person by person, without the importer's code:
    an order is a repeat when the same customer_unique_id has another order, not canceled or
    unavailable, purchased on an earlier calendar day."""
    o = _raw(root, "orders").merge(_raw(root, "customers"), on="customer_id")
    o["day"] = pd.to_datetime(o["order_purchase_timestamp"]).dt.normalize().astype("datetime64[ns]")
    bought = o.loc[~o["order_status"].isin(["canceled", "unavailable"]), ["customer_unique_id", "day"]]
    pairs = o[["order_id", "customer_unique_id", "day"]].merge(bought, on="customer_unique_id",
                                                               suffixes=("", "_other"))
    earlier = pairs.loc[pairs["day_other"] < pairs["day"], "order_id"]
    o["repeat"] = o["order_id"].isin(set(earlier))
    o["capital"] = (o["customer_city"] == "sao paulo") & (o["customer_state"] == "SP")
    return o


@pytest.fixture(scope="module")
def by_hand(olist_dir: Path) -> pd.DataFrame:
    return rule_by_hand(olist_dir)


def test_flags_match_the_rule_recomputed_by_hand(olist_source: OlistSource, by_hand: pd.DataFrame) -> None:
    flags = customer_flags(olist_source.orders, config_for("sp-state"))
    want = by_hand.set_index("order_id")
    assert len(flags) == len(olist_source.orders) == len(want)
    assert (flags["repeat"] == want.loc[flags.index, "repeat"]).all()
    assert (flags["capital"] == want.loc[flags.index, "capital"]).all()
    assert flags["repeat"].sum() > 50  # the sample has real repeat buyers, if few
    seg = flags["segment"]
    assert set(seg) == {"capital-repeat", "capital-new", "interior-repeat", "interior-new"}
    assert (seg.str.startswith("capital") == flags["capital"]).all()
    assert (seg.str.endswith("repeat") == flags["repeat"]).all()
    city = customer_flags(olist_source.orders, config_for("sp-city"))
    assert set(city["segment"]) == {"repeat", "new"}


def test_no_look_ahead_first_order_is_new(olist_source: OlistSource, by_hand: pd.DataFrame) -> None:
    flags = customer_flags(olist_source.orders, config_for("sp-city"))
    o = by_hand[~by_hand["order_status"].isin(["canceled", "unavailable"])]
    days = o.groupby("customer_unique_id")["day"].nunique()
    people = days[days >= 2].index
    assert len(people) >= 20
    for person in people:
        g = o[o["customer_unique_id"] == person].sort_values("day")
        first, later = g.iloc[0], g.iloc[-1]
        # a person who orders again later is still new on their first day, repeat afterwards
        assert flags.loc[first["order_id"], "segment"] == "new"
        assert flags.loc[later["order_id"], "segment"] == "repeat"


def test_same_day_and_recency() -> None:
    orders = pd.DataFrame({
        "order": ["a", "b", "c", "d", "e"],
        "customer": ["p", "p", "p", "q", "q"],
        "purchased": pd.to_datetime(["2018-01-01 09:00", "2018-01-01 18:00", "2018-03-01 10:00",
                                     "2018-01-05 10:00", "2018-01-06 10:00"]),
        "status": ["delivered", "delivered", "delivered", "canceled", "delivered"],
        "city": ["sao paulo", "sao paulo", "sao paulo", "campinas", "campinas"],
        "state": ["SP"] * 5,
    })
    f = customer_flags(orders, config_for("sp-state"))
    # b: same day as a (a split basket), not a repeat; c: a repeat; e: q's earlier order was canceled
    assert f["segment"].to_dict() == {"a": "capital-new", "b": "capital-new", "c": "capital-repeat",
                                      "d": "interior-new", "e": "interior-new"}
    recent = customer_flags(orders, config_for("sp-city", repeat_within_days=30))
    assert recent.loc["c", "segment"] == "new"  # 59 days after p's last purchase


def _real_lines(root: Path, by_hand: pd.DataFrame, first: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    items = _raw(root, "order_items").drop_duplicates(["order_id", "product_id"])
    d = by_hand[(by_hand["order_status"] == "delivered") & (by_hand["day"] >= first) & (by_hand["day"] < end)]
    return items.merge(d, on="order_id")


def test_unscaled_orders_carry_their_real_segment(olist_slice: Path, tmp_path: Path) -> None:
    cfg = config_for("sp-city", scale=1.0, history_days=60, order_days=3, start_date=START, max_skus=5,
                     warehouses=2, fleet_per_warehouse=1, crowd=2, name="seg")
    inst = import_olist(olist_slice, tmp_path / "seg", cfg).instance
    hand = rule_by_hand(olist_slice)
    start = pd.Timestamp(START)
    plan = _real_lines(olist_slice, hand, start, start + pd.Timedelta(days=3))
    want = plan["repeat"].map({True: "repeat", False: "new"}).value_counts().to_dict()
    assert inst.orders["segment"].value_counts().to_dict() == want
    # per day, too (each order row is one real delivered line with its segment)
    got = inst.orders.groupby(["date", "segment"]).size()
    plan["segment"] = plan["repeat"].map({True: "repeat", False: "new"})
    exp = plan.groupby(["day", "segment"]).size()
    exp.index = exp.index.set_names(["date", "segment"])
    pd.testing.assert_series_equal(got.sort_index(), exp.sort_index(), check_names=False)
    # the manifest's shares: the rule over the real lines of the history and order days
    window = _real_lines(olist_slice, hand, start - pd.Timedelta(days=60), start + pd.Timedelta(days=3))
    share = float(window["repeat"].mean())
    seg = {s.id: s for s in inst.manifest.segments}
    assert set(seg) == {"repeat", "new"}
    assert seg["repeat"].share == pytest.approx(share, abs=1e-4)
    assert seg["repeat"].promise_min < seg["new"].promise_min and seg["repeat"].weight > seg["new"].weight
    assert "customer_unique_id" in seg["repeat"].rule
    notes = inst.manifest.notes["segments"]
    assert "no look-ahead" in notes["rule"] and notes["real_lines"] == len(window)


def test_regional_segments_split_capital_and_interior(olist_source: OlistSource, olist_dir: Path,
                                                      by_hand: pd.DataFrame) -> None:
    cfg = config_for("sp-state", history_days=90, order_days=7, max_skus=4, crowd=3)
    r = build_olist(olist_source, cfg)
    start = pd.Timestamp(cfg.start_date)
    window = _real_lines(olist_dir, by_hand, start - pd.Timedelta(days=90), start + pd.Timedelta(days=7))
    window = window[window["customer_state"] == "SP"]
    seg = {s.id: s for s in r.instance.manifest.segments}
    assert list(seg) == ["capital-repeat", "capital-new", "interior-repeat", "interior-new"]
    cap = seg["capital-repeat"].share + seg["capital-new"].share
    assert cap == pytest.approx(float(window["capital"].mean()), abs=2e-4)
    rep = seg["capital-repeat"].share + seg["interior-repeat"].share
    assert rep == pytest.approx(float(window["repeat"].mean()), abs=2e-4)
    assert sum(s.share for s in seg.values()) == pytest.approx(1.0, abs=1e-9)
    # scaled orders: the region class follows the zone (São Paulo city's zip sectors 010-059, 080-084)
    o = r.instance.orders
    sector = o["zone"].str[1:].astype(int)
    in_city = sector.between(10, 59) | sector.between(80, 84)
    assert (o["segment"].str.startswith("capital") == in_city).mean() > 0.95
    assert set(o["segment"]) <= set(seg)
    assert r.instance.orders["date"].nunique() == 7


def test_segment_settings_must_match_the_rule() -> None:
    with pytest.raises(ConfigError, match="rule's segments"):
        config_for("sp-city", segments=(("member", 30.0, 3.0), ("standard", 60.0, 1.0)))
    with pytest.raises(ConfigError, match="repeat_within_days"):
        config_for("sp-city", repeat_within_days=-1)


def test_cli_order_days_and_recency(olist_slice: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from engine.cli import app

    out = tmp_path / "cli"
    res = CliRunner().invoke(app, [
        "import", "olist", str(olist_slice), "--out", str(out), "--region", "sp-city", "--scale", "4",
        "--history-days", "60", "--start-date", "2018-06-01", "--order-days", "5", "--repeat-within-days", "90",
        "--max-skus", "3", "--warehouses", "2"])
    assert res.exit_code == 0, res.output
    assert "customer segments" in res.output
    inst = load_instance(out)
    days = pd.date_range("2018-06-01", periods=5, freq="D")
    assert list(inst.orders["date"].drop_duplicates()) == list(days)
    notes = inst.manifest.notes["segments"]
    assert notes["repeat_within_days"] == 90 and "within the 90 days before" in notes["rule"]
    assert set(inst.orders["segment"]) <= {"repeat", "new"}
