"""The real service baseline of Olist: promise vs actual delivery on delivered orders.

Measured from the data (never assumed): for each delivered order with a delivery date, the
days from purchase to delivery at the customer, the promised days (purchase to the estimated
delivery date Olist showed the customer) and whether it arrived after that estimate ("late").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# day edges of the delivery-time histogram stored in the manifest (last bin is open-ended)
HIST_EDGES = (0, 2, 4, 6, 8, 10, 12, 15, 20, 25, 30, 40)


def delivery_baseline(orders: pd.DataFrame, scope: str) -> dict[str, Any]:
    """Late share and delivery-time distribution of the delivered orders in ``orders``.

    ``orders`` has columns status, purchased, delivered, estimated (see ``OlistSource.orders``).
    Returns a TOML-safe dict (numbers, strings, lists).
    """
    d = orders[(orders["status"] == "delivered") & orders["delivered"].notna() & orders["estimated"].notna()]
    missing = int(((orders["status"] == "delivered") & orders["delivered"].isna()).sum())
    if d.empty:
        return {"scope": scope, "orders": 0, "note": "no delivered order with a delivery date in scope"}
    days = (d["delivered"] - d["purchased"]).dt.total_seconds().to_numpy() / 86400.0
    promised = (d["estimated"] - d["purchased"]).dt.total_seconds().to_numpy() / 86400.0
    late = (d["delivered"] > d["estimated"]).to_numpy()
    # a late order is late by this many days past the estimate
    late_by = ((d["delivered"] - d["estimated"]).dt.total_seconds().to_numpy() / 86400.0)[late]
    edges = np.array(HIST_EDGES + (np.inf,), dtype=float)
    counts, _ = np.histogram(np.clip(days, 0, None), bins=edges)
    q = np.quantile(days, [0.1, 0.25, 0.5, 0.75, 0.9, 0.95])
    first, last = d["purchased"].min(), d["purchased"].max()
    return {
        "scope": scope,
        "orders": int(len(d)),
        "delivered_without_date": missing,
        "purchases_from": first.date().isoformat(),
        "purchases_to": last.date().isoformat(),
        "late_share": round(float(late.mean()), 4),
        "on_time_share": round(float(1.0 - late.mean()), 4),
        "late_definition": "delivered to the customer after the estimated delivery date shown at purchase",
        "median_delivery_days": round(float(q[2]), 2),
        "mean_delivery_days": round(float(days.mean()), 2),
        "delivery_days_quantiles": {"p10": round(float(q[0]), 2), "p25": round(float(q[1]), 2),
                                    "p50": round(float(q[2]), 2), "p75": round(float(q[3]), 2),
                                    "p90": round(float(q[4]), 2), "p95": round(float(q[5]), 2)},
        "median_promised_days": round(float(np.median(promised)), 2),
        "median_days_late_when_late": round(float(np.median(late_by)), 2) if late.any() else 0.0,
        "delivery_days_histogram": {"edges_days": list(HIST_EDGES), "orders": [int(c) for c in counts],
                                    "note": "orders with delivery days in [edge_i, edge_i+1); last bin open-ended"},
    }


def baseline_frame(notes: dict[str, Any]) -> pd.DataFrame:
    """The baseline stored in manifest notes as a tidy table: indicator, value, unit, scope."""
    rows = []
    for key, scope_name in (("baseline", "region"), ("baseline_all_regions", "all regions")):
        b = notes.get(key)
        if not isinstance(b, dict) or not b.get("orders"):
            continue
        rows += [
            ("late_share", b["late_share"], "share", scope_name),
            ("on_time_share", b["on_time_share"], "share", scope_name),
            ("median_delivery_days", b["median_delivery_days"], "days", scope_name),
            ("mean_delivery_days", b["mean_delivery_days"], "days", scope_name),
            ("p90_delivery_days", b["delivery_days_quantiles"]["p90"], "days", scope_name),
            ("median_promised_days", b["median_promised_days"], "days", scope_name),
            ("orders", b["orders"], "orders", scope_name),
        ]
    return pd.DataFrame(rows, columns=["indicator", "value", "unit", "scope"])


QUANTILES = (("p10", 0.10), ("p25", 0.25), ("p50", 0.50), ("p75", 0.75), ("p90", 0.90))


def baseline_comparison(notes: dict[str, Any], scorecard_rows: pd.DataFrame,
                        outcomes: pd.DataFrame | None = None) -> pd.DataFrame:
    """The real baseline beside a run's simulated indicators, one row per measure.

    ``notes``: the instance manifest notes (``notes.baseline``); ``scorecard_rows``: the run's
    scorecard table (indicator, value); ``outcomes``: the simulated per-order outcomes
    (created_min, delivered_min, state) for the delivery-time distribution. Columns: measure,
    unit, real (Olist data), plan (simulated), note. Empty when the notes hold no baseline.
    """
    base = notes.get("baseline") if isinstance(notes, dict) else None
    cols = ["measure", "unit", "real", "plan", "note"]
    if not isinstance(base, dict) or not base.get("orders"):
        return pd.DataFrame(columns=cols)
    on_time = scorecard_rows.set_index("indicator")["value"].get("on_time_rate", np.nan)
    rows: list[tuple[str, str, float, float, str]] = [
        ("late share", "share", base["late_share"], 1.0 - on_time if np.isfinite(on_time) else np.nan,
         "real: after the promised date; plan: outside the promise of its tier"),
        ("on-time share", "share", base["on_time_share"], on_time, ""),
    ]
    days = np.array([])
    if outcomes is not None and len(outcomes):
        done = outcomes[outcomes["state"] == "delivered"] if "state" in outcomes else outcomes
        days = ((done["delivered_min"] - done["created_min"]) / 1440.0).dropna().to_numpy(dtype=float)
    real_q = base.get("delivery_days_quantiles", {})
    for name, q in QUANTILES:
        plan = float(np.quantile(days, q)) if len(days) else np.nan
        rows.append((f"order-to-delivery {name}", "days", float(real_q.get(name, np.nan)), plan, ""))
    hist = base.get("delivery_days_histogram", {})
    edges, counts = hist.get("edges_days", []), hist.get("orders", [])
    if len(edges) > 1 and sum(counts):
        within = counts[0] / sum(counts)  # first bin: [0, edges[1]) days
        plan = float((days < edges[1]).mean()) if len(days) else np.nan
        rows.append((f"delivered within {edges[1]} days", "share", within, plan, ""))
    rows.append(("orders", "orders", float(base["orders"]), float(len(days)) if len(days) else np.nan,
                 "real: delivered orders behind the baseline; plan: simulated deliveries (all replications)"))
    return pd.DataFrame(rows, columns=cols)
