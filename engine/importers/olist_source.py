"""Read the Olist public e-commerce dataset (its gzipped or plain CSVs) into clean frames.

Only the columns the importer needs are read, each file is checked for them, and every
problem (missing file, missing column, unreadable file) is reported at once as one
:class:`OlistSourceError`. Nothing here filters by region or scales anything: this module
gives the delivered order lines of the whole source with their coordinates, and the
per-order delivery facts the service baseline is computed from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import EngineError

# Brazil's bounding box: geolocation rows outside it are data-entry errors in the source
BRAZIL_LAT = (-34.0, 5.5)
BRAZIL_LON = (-74.0, -34.0)

FILES: dict[str, tuple[str, ...]] = {
    "orders": ("order_id", "customer_id", "order_status", "order_purchase_timestamp",
               "order_delivered_customer_date", "order_estimated_delivery_date"),
    "order_items": ("order_id", "order_item_id", "product_id", "seller_id", "price"),
    "customers": ("customer_id", "customer_unique_id", "customer_zip_code_prefix", "customer_city",
                  "customer_state"),
    "products": ("product_id", "product_category_name", "product_length_cm", "product_height_cm", "product_width_cm"),
    "sellers": ("seller_id", "seller_zip_code_prefix"),
    "geolocation": ("geolocation_zip_code_prefix", "geolocation_lat", "geolocation_lng"),
}
OPTIONAL_FILES: dict[str, tuple[str, ...]] = {
    "translation": ("product_category_name", "product_category_name_english"),
}
FILE_NAMES = {
    "orders": "olist_orders_dataset", "order_items": "olist_order_items_dataset",
    "customers": "olist_customers_dataset", "products": "olist_products_dataset",
    "sellers": "olist_sellers_dataset", "geolocation": "olist_geolocation_dataset",
    "translation": "product_category_name_translation",
}
ZIP_COLUMNS = ("customer_zip_code_prefix", "seller_zip_code_prefix", "geolocation_zip_code_prefix")


class OlistSourceError(EngineError):
    """The Olist source directory is missing files or columns, or a file cannot be read."""


@dataclass(frozen=True, slots=True)
class OlistSource:
    """The Olist tables the importer uses, cleaned.

    ``lines``: one row per delivered (order, product): order, customer (``customer_unique_id``,
    the person across orders), customer zip prefix, city, state,
    purchase timestamp, category (English where translated), units, unit price, unit volume m3
    and seller zip prefix. ``orders``: one row per order of any status with its customer's place
    and its delivery dates (for the baseline). ``prefixes``: one centroid per zip prefix (median
    of the geolocation rows inside Brazil) with ``spread_km`` (75th-percentile distance of the
    rows to the centroid) and ``points``. ``files``: the file names read.
    """

    lines: pd.DataFrame
    orders: pd.DataFrame
    prefixes: pd.DataFrame
    files: tuple[str, ...]
    root: Path

    def summary(self) -> dict[str, int]:
        return {
            "orders": int(len(self.orders)),
            "delivered_orders": int((self.orders["status"] == "delivered").sum()),
            "delivered_lines": int(len(self.lines)),
            "delivered_units": int(self.lines["units"].sum()),
            "zip_prefixes_with_coordinates": int(len(self.prefixes)),
        }


def _find(root: Path, stem: str) -> Path | None:
    for suffix in (".csv.gz", ".csv"):
        p = root / f"{stem}{suffix}"
        if p.is_file():
            return p
    return None


def _read(path: Path, columns: tuple[str, ...], problems: list[str]) -> pd.DataFrame | None:
    dtypes = {c: str for c in columns if c in ZIP_COLUMNS or c.endswith("_id") or c in ("order_status", "customer_city", "customer_state", "product_category_name", "product_category_name_english")}
    try:
        # utf-8-sig: the original translation file starts with a byte-order mark
        head = pd.read_csv(path, nrows=0, encoding="utf-8-sig")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        problems.append(f"{path.name}: cannot be read as CSV ({exc})")
        return None
    missing = [c for c in columns if c not in head.columns]
    if missing:
        problems.append(f"{path.name}: missing column(s) {', '.join(missing)}")
        return None
    try:
        return pd.read_csv(path, usecols=list(columns), dtype=dtypes, encoding="utf-8-sig", keep_default_na=True)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        problems.append(f"{path.name}: cannot be read ({exc})")
        return None


def read_olist(src: str | Path) -> OlistSource:
    """Read and join the Olist CSVs in ``src`` (``.csv.gz`` or ``.csv``, the original names)."""
    root = Path(src)
    if not root.is_dir():
        raise OlistSourceError(f"Olist source {str(root)!r} is not a directory; pass the folder holding "
                               "olist_orders_dataset.csv(.gz) and the other Olist files")
    problems: list[str] = []
    frames: dict[str, pd.DataFrame] = {}
    used: list[str] = []
    for key, columns in (FILES | OPTIONAL_FILES).items():
        path = _find(root, FILE_NAMES[key])
        if path is None:
            if key in FILES:
                problems.append(f"{FILE_NAMES[key]}.csv(.gz) is missing")
            continue
        frame = _read(path, columns, problems)
        if frame is not None:
            frames[key] = frame
            used.append(path.name)
    if problems:
        raise OlistSourceError(f"Olist source {str(root)!r} is not usable: " + "; ".join(problems))

    prefixes = prefix_centroids(frames["geolocation"])
    orders = _orders(frames["orders"], frames["customers"])
    lines = _lines(orders, frames)
    return OlistSource(lines=lines, orders=orders, prefixes=prefixes, files=tuple(sorted(used)), root=root)


def _zip(s: pd.Series) -> pd.Series:
    # zip prefixes are 5 digits; plain CSVs re-saved by spreadsheets lose the leading zero
    return s.astype(str).str.strip().str.zfill(5)


def prefix_centroids(geo: pd.DataFrame) -> pd.DataFrame:
    """One centroid per zip prefix: the median of its geolocation rows that lie inside Brazil."""
    g = pd.DataFrame({
        "prefix": _zip(geo["geolocation_zip_code_prefix"]),
        "lat": pd.to_numeric(geo["geolocation_lat"], errors="coerce"),
        "lon": pd.to_numeric(geo["geolocation_lng"], errors="coerce"),
    })
    inside = g["lat"].between(*BRAZIL_LAT) & g["lon"].between(*BRAZIL_LON)
    g = g[inside]
    med = g.groupby("prefix", sort=True)[["lat", "lon"]].median()
    # spread of the prefix: 75th percentile of the rows' distance to the centroid, in km
    c = med.loc[g["prefix"]].to_numpy()
    dy = (g["lat"].to_numpy() - c[:, 0]) * 110.574
    dx = (g["lon"].to_numpy() - c[:, 1]) * 111.320 * np.cos(np.radians(c[:, 0]))
    dist = pd.Series(np.hypot(dx, dy), index=g.index)
    spread = dist.groupby(g["prefix"]).quantile(0.75)
    out = med.assign(spread_km=spread, points=g.groupby("prefix").size()).reset_index()
    return out


def _orders(orders: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    cust = customers.drop_duplicates("customer_id").set_index("customer_id")
    o = pd.DataFrame({
        "order": orders["order_id"].astype(str),
        "status": orders["order_status"].astype(str).str.strip().str.lower(),
        "purchased": pd.to_datetime(orders["order_purchase_timestamp"], errors="coerce"),
        "delivered": pd.to_datetime(orders["order_delivered_customer_date"], errors="coerce"),
        "estimated": pd.to_datetime(orders["order_estimated_delivery_date"], errors="coerce"),
    })
    cid = orders["customer_id"].astype(str)
    # customer_id is one per order; customer_unique_id is the person, across their orders
    o["customer"] = cid.map(cust["customer_unique_id"]).fillna(cid).astype(str)
    o["prefix"] = _zip(cid.map(cust["customer_zip_code_prefix"]).fillna(""))
    o["city"] = cid.map(cust["customer_city"]).fillna("").astype(str).str.strip().str.lower()
    o["state"] = cid.map(cust["customer_state"]).fillna("").astype(str).str.strip().str.upper()
    return o.dropna(subset=["purchased"]).reset_index(drop=True)


def _lines(orders: pd.DataFrame, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Delivered order items grouped to (order, product) lines with units, price and volume."""
    delivered = orders[orders["status"] == "delivered"].set_index("order")
    items = frames["order_items"]
    items = items[items["order_id"].astype(str).isin(delivered.index)]
    price = pd.to_numeric(items["price"], errors="coerce")
    it = pd.DataFrame({"order": items["order_id"].astype(str), "product": items["product_id"].astype(str),
                       "seller": items["seller_id"].astype(str), "price": price})
    # each item row is one unit; an order holding the same product twice has two rows
    g = it.groupby(["order", "product"], sort=True).agg(units=("price", "size"), price=("price", "mean"),
                                                        seller=("seller", "first")).reset_index()

    prod = frames["products"].drop_duplicates("product_id").set_index("product_id")
    cat = g["product"].map(prod["product_category_name"]).fillna("").astype(str).str.strip()
    if "translation" in frames:
        tr = frames["translation"].dropna().drop_duplicates("product_category_name")
        english = cat.map(tr.set_index("product_category_name")["product_category_name_english"])
        cat = english.fillna(cat)
    cat = cat.where(cat != "", "unknown")
    dims = [pd.to_numeric(g["product"].map(prod[c]), errors="coerce")
            for c in ("product_length_cm", "product_height_cm", "product_width_cm")]
    volume = (dims[0] * dims[1] * dims[2]) / 1e6

    sellers = frames["sellers"].drop_duplicates("seller_id").set_index("seller_id")
    d = delivered.loc[g["order"]]
    return pd.DataFrame({
        "order": g["order"].to_numpy(),
        "customer": d["customer"].to_numpy(),
        "product": g["product"].to_numpy(),
        "prefix": d["prefix"].to_numpy(),
        "city": d["city"].to_numpy(),
        "state": d["state"].to_numpy(),
        "purchased": d["purchased"].to_numpy(),
        "category": cat.to_numpy(),
        "units": g["units"].to_numpy(dtype=np.int64),
        "price": g["price"].to_numpy(dtype=float),
        "volume_m3": volume.to_numpy(dtype=float),
        "seller_prefix": _zip(g["seller"].map(sellers["seller_zip_code_prefix"]).fillna("")).to_numpy(),
    })
