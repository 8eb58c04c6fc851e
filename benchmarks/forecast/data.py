"""Benchmark data sets: the Kaggle store-item panel, Olist weekly category × state, a synthetic panel.

The real data is read from ../shared/data (never copied into the repository).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
KAGGLE = SHARED / "demand" / "kaggle_store_item_demand" / "train.csv.gz"
OLIST = SHARED / "olist"


def kaggle() -> pd.DataFrame:
    """500 daily series (10 stores × 50 items), 2013-01-01 … 2017-12-31: date, sku (item), zone (store), quantity."""
    df = pd.read_csv(KAGGLE)
    return df.rename(columns={"item": "sku", "store": "zone", "sales": "quantity"}).astype({"sku": str, "zone": str})


def olist_weekly() -> pd.DataFrame:
    """Items of delivered Olist orders per week (Monday) × product category (English) × customer state.

    The shared copy is a ~5% sample of delivered orders (see its SOURCES.md), so these are thin,
    mostly intermittent series: 2017-01-02 … 2018-08-20 (weeks with a full sample).
    """
    orders = pd.read_csv(OLIST / "olist_orders_dataset.csv.gz", usecols=["order_id", "customer_id", "order_status", "order_purchase_timestamp"])
    items = pd.read_csv(OLIST / "olist_order_items_dataset.csv.gz", usecols=["order_id", "product_id"])
    products = pd.read_csv(OLIST / "olist_products_dataset.csv.gz", usecols=["product_id", "product_category_name"])
    customers = pd.read_csv(OLIST / "olist_customers_dataset.csv.gz", usecols=["customer_id", "customer_state"])
    names = pd.read_csv(OLIST / "product_category_name_translation.csv.gz")
    orders = orders[orders["order_status"] == "delivered"]
    x = (items.merge(orders, on="order_id").merge(customers, on="customer_id").merge(products, on="product_id", how="left")
         .merge(names, on="product_category_name", how="left"))
    x["category"] = x["product_category_name_english"].fillna(x["product_category_name"]).fillna("unknown")
    ts = pd.to_datetime(x["order_purchase_timestamp"])
    x["date"] = (ts - pd.to_timedelta(ts.dt.day_of_week, unit="D")).dt.normalize()
    x = x[(x["date"] >= "2017-01-02") & (x["date"] <= "2018-08-20")]
    out = x.groupby(["date", "category", "customer_state"]).size().rename("quantity").reset_index()
    return out.rename(columns={"category": "sku", "customer_state": "zone"})


def synthetic(n_series: int = 20_000, days: int = 365, *, seed: int = 0) -> pd.DataFrame:
    """A city-scale panel: SKUs × zones with weekly and yearly shape, trends, promotions and
    a share of slow movers; returned sparse (zero days omitted, as real order data is)."""
    rng = np.random.default_rng(seed)
    zones = 20
    skus = n_series // zones
    t = np.arange(days)
    dates = pd.date_range("2025-01-01", periods=days)
    week = np.array([0.85, 0.9, 0.95, 1.0, 1.1, 1.3, 1.2])[dates.day_of_week]
    year = 1 + 0.15 * np.sin(2 * np.pi * t / 365.25)
    sku_level = rng.lognormal(0.0, 1.2, skus) * 0.6
    zone_share = rng.dirichlet(np.full(zones, 3.0)) * zones
    trend = 1 + rng.normal(0, 0.3, skus)[:, None, None] * t / days
    lam = sku_level[:, None, None] * zone_share[None, :, None] * (week * year)[None, None, :] * np.clip(trend, 0.2, None)
    lam *= np.exp(0.3 * rng.standard_normal((skus, 1, days)) - 0.045)  # SKU-wide daily shocks, shared by zones
    q = rng.poisson(lam).reshape(skus * zones, days).astype(np.int32)
    keep = q > 0
    keep[:, 0] = True  # an explicit first row (possibly zero) so every series exists
    i, d = np.nonzero(keep)
    return pd.DataFrame({
        "date": dates[d],
        "sku": pd.Index([f"S{k:05d}" for k in range(skus)])[i // zones],
        "zone": pd.Index([f"Z{z:02d}" for z in range(zones)])[i % zones],
        "quantity": q[i, d],
    })
