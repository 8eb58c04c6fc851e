"""Courier manifests that carry no more personal data than a courier needs.

A courier needs to know where to go, by when, what to carry and how to handle it; not who
the customer is nor their exact coordinates (about 100 m, three decimals of a degree, is
enough to find a door with the address the app shows at hand-over time). The exported manifest
keeps only the columns in :data:`ALLOWED_COLUMNS` and rounds coordinates; :func:`privacy_checks`
verifies any manifest independently of how it was made.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ALLOWED_COLUMNS = ("courier", "trip", "seq", "order", "warehouse", "lat", "lon", "zone", "due_min", "size_m3", "special")
COORD_DECIMALS = 3
PERSONAL_COLUMNS = ("customer", "customer_id", "name", "phone", "email", "address", "segment", "unit_value")


def courier_manifest(assignments: pd.DataFrame, allocated: pd.DataFrame) -> pd.DataFrame:
    """The stop list handed to couriers: one row per served order, minimal fields."""
    served = assignments[assignments["status"] == "served"]
    info = allocated.set_index("id")
    m = pd.DataFrame({
        "courier": served["courier"].to_numpy(),
        "trip": served["trip"].to_numpy(),
        "seq": served["stop_seq"].to_numpy(),
        "order": served["order"].to_numpy(),
        "warehouse": served["warehouse"].to_numpy(),
        "lat": np.round(info.loc[served["order"], "lat"].to_numpy(dtype=float), COORD_DECIMALS),
        "lon": np.round(info.loc[served["order"], "lon"].to_numpy(dtype=float), COORD_DECIMALS),
        "zone": info.loc[served["order"], "zone"].to_numpy(),
        "due_min": np.round(info.loc[served["order"], "due_min"].to_numpy(dtype=float), 1),
        "size_m3": info.loc[served["order"], "size_m3"].to_numpy(dtype=float),
        "special": info.loc[served["order"], "special"].to_numpy(dtype=bool),
    })
    return m.sort_values(["courier", "trip", "seq"], kind="stable").reset_index(drop=True)


def privacy_checks(manifest: pd.DataFrame) -> dict[str, bool]:
    """Independent checks of an exported manifest; each True when it passes."""
    cols = set(map(str, manifest.columns))
    def rounded(col: str) -> bool:
        if col not in manifest:
            return True
        v = manifest[col].to_numpy(dtype=float)
        return bool(np.allclose(v, np.round(v, COORD_DECIMALS), atol=1e-12))
    return {
        "only_needed_columns": cols <= set(ALLOWED_COLUMNS),
        "no_personal_columns": not (cols & set(PERSONAL_COLUMNS)),
        "coordinates_rounded": rounded("lat") and rounded("lon"),
    }


def privacy_score(manifest: pd.DataFrame) -> float:
    checks = privacy_checks(manifest)
    return sum(checks.values()) / len(checks)
