"""Fixtures: the shared Olist sample (skip if absent) and a small slice of it as plain CSVs."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from engine.importers import read_olist
from engine.importers.olist_source import FILE_NAMES, OlistSource

OLIST = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "olist"


@pytest.fixture(scope="session")
def olist_dir() -> Path:
    if not (OLIST / "olist_orders_dataset.csv.gz").is_file():
        pytest.skip("the Olist sample (../shared/data/olist) is not available")
    return OLIST.resolve()


@pytest.fixture(scope="session")
def olist_source(olist_dir: Path) -> OlistSource:
    return read_olist(olist_dir)


def _read(root: Path, key: str) -> pd.DataFrame:
    with gzip.open(root / f"{FILE_NAMES[key]}.csv.gz", "rt", encoding="utf-8-sig") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


@pytest.fixture(scope="session")
def olist_slice(olist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """São Paulo city customers only (every status), as plain .csv without the translation file."""
    out = tmp_path_factory.mktemp("olist-slice")
    cust = _read(olist_dir, "customers")
    cust = cust[(cust["customer_state"] == "SP") & (cust["customer_city"] == "sao paulo")]
    orders = _read(olist_dir, "orders")
    orders = orders[orders["customer_id"].isin(cust["customer_id"])]
    items = _read(olist_dir, "order_items")
    items = items[items["order_id"].isin(orders["order_id"])]
    products = _read(olist_dir, "products")
    products = products[products["product_id"].isin(items["product_id"])]
    sellers = _read(olist_dir, "sellers")
    sellers = sellers[sellers["seller_id"].isin(items["seller_id"])]
    geo = _read(olist_dir, "geolocation")
    keep = set(cust["customer_zip_code_prefix"]) | set(sellers["seller_zip_code_prefix"])
    geo = geo[geo["geolocation_zip_code_prefix"].isin(keep)]
    for key, frame in (("customers", cust), ("orders", orders), ("order_items", items), ("products", products),
                       ("sellers", sellers), ("geolocation", geo)):
        frame.to_csv(out / f"{FILE_NAMES[key]}.csv", index=False)
    return out
