"""Reading the Olist files: row counts, joins, coordinates, and clear errors on bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.importers import OlistSourceError, read_olist
from engine.importers.olist_source import BRAZIL_LAT, BRAZIL_LON, FILE_NAMES, OlistSource


def test_row_counts_match_the_files(olist_source: OlistSource, olist_dir: Path) -> None:
    s = olist_source.summary()
    orders = pd.read_csv(olist_dir / "olist_orders_dataset.csv.gz")
    items = pd.read_csv(olist_dir / "olist_order_items_dataset.csv.gz")
    delivered = orders.loc[orders["order_status"] == "delivered", "order_id"]
    assert s["orders"] == len(orders)
    assert s["delivered_orders"] == len(delivered)
    # every delivered item is one unit of one line; lines are (order, product) pairs
    mine = items[items["order_id"].isin(delivered)]
    assert s["delivered_units"] == len(mine)
    assert s["delivered_lines"] == len(mine.drop_duplicates(["order_id", "product_id"]))


def test_prefix_centroids_are_inside_brazil(olist_source: OlistSource, olist_dir: Path) -> None:
    p = olist_source.prefixes
    geo = pd.read_csv(olist_dir / "olist_geolocation_dataset.csv.gz", dtype={"geolocation_zip_code_prefix": str})
    assert p["prefix"].is_unique
    assert len(p) == geo["geolocation_zip_code_prefix"].nunique()
    assert p["lat"].between(*BRAZIL_LAT).all() and p["lon"].between(*BRAZIL_LON).all()
    assert (p["spread_km"] >= 0).all() and (p["points"] >= 1).all()
    # a centroid is the median of its rows: zip 01012 is in central São Paulo (near Praça da Sé)
    se = p.set_index("prefix").loc["01012"]
    assert abs(se["lat"] + 23.55) < 0.02 and abs(se["lon"] + 46.634) < 0.02


def test_lines_are_clean(olist_source: OlistSource) -> None:
    ln = olist_source.lines
    assert (ln["units"] >= 1).all()
    assert ln["purchased"].notna().all()
    assert (ln["category"] != "").all()
    assert ln["prefix"].str.fullmatch(r"\d{5}").all()
    assert np.nanmin(ln["volume_m3"]) > 0
    assert "health_beauty" in set(ln["category"])  # translated to English


def test_plain_csv_and_missing_translation(olist_slice: Path) -> None:
    src = read_olist(olist_slice)
    assert not any("translation" in f for f in src.files)
    assert (src.lines["city"] == "sao paulo").all()
    assert "beleza_saude" in set(src.lines["category"])  # untranslated names are kept


def test_missing_file_and_column_are_reported_together(olist_slice: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(olist_slice, bad)
    (bad / f"{FILE_NAMES['sellers']}.csv").unlink()
    orders = pd.read_csv(bad / f"{FILE_NAMES['orders']}.csv").drop(columns=["order_estimated_delivery_date"])
    orders.to_csv(bad / f"{FILE_NAMES['orders']}.csv", index=False)
    with pytest.raises(OlistSourceError) as err:
        read_olist(bad)
    msg = str(err.value)
    assert "olist_sellers_dataset.csv(.gz) is missing" in msg
    assert "order_estimated_delivery_date" in msg


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(OlistSourceError, match="not a directory"):
        read_olist(tmp_path / "nope")
