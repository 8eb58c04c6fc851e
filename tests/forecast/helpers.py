"""Small synthetic demand histories for the forecast tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
KAGGLE = SHARED / "demand" / "kaggle_store_item_demand" / "train.csv.gz"
OLIST = SHARED / "olist"


def synthetic(
    n_sku: int = 4, n_zone: int = 3, days: int = 120, *, seed: int = 0, level: float = 5.0,
    common: float = 0.0, start: str = "2024-01-01", intermittent: bool = False,
) -> pd.DataFrame:
    """Long history with a weekly pattern; ``common`` adds a shared daily shock per SKU across zones."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days)
    week = np.array([0.8, 0.9, 1.0, 1.0, 1.1, 1.4, 1.2])[dates.day_of_week]
    rows = []
    for s in range(n_sku):
        shock = np.exp(common * rng.standard_normal(days) - common**2 / 2)
        for z in range(n_zone):
            lam = level * (1 + s) / n_sku * week * shock
            if intermittent:
                lam = lam * 0.05
            q = rng.poisson(lam)
            rows.append(pd.DataFrame({"date": dates, "sku": f"S{s}", "zone": f"Z{z}", "quantity": q}))
    return pd.concat(rows, ignore_index=True)


def kaggle_slice(items: int = 5, stores: int = 4) -> pd.DataFrame:
    # the file runs item by item, store by store, 1 826 days each: read only the first items
    df = pd.read_csv(KAGGLE, dtype={"store": "int16", "item": "int16", "sales": "int32"}, nrows=items * 10 * 1826)
    df = df[(df["item"] <= items) & (df["store"] <= stores)]
    return df.rename(columns={"item": "sku", "store": "zone", "sales": "quantity"}).astype({"sku": str, "zone": str})

ROOT_DIR = Path(__file__).resolve().parents[2]
