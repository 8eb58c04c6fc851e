"""Distances and travel times.

Without a road graph, road distance is the great-circle (haversine) distance times a
circuity factor (about 1.3 in cities), and time is distance over a mode's speed. All
functions are vectorised over arrays of points.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat_a: ArrayLike, lon_a: ArrayLike, lat_b: ArrayLike, lon_b: ArrayLike) -> NDArray[np.float64]:
    """Great-circle distances (km) between every point of a and every point of b: shape (len a, len b)."""
    la = np.radians(np.asarray(lat_a, dtype=float))[:, None]
    oa = np.radians(np.asarray(lon_a, dtype=float))[:, None]
    lb = np.radians(np.asarray(lat_b, dtype=float))[None, :]
    ob = np.radians(np.asarray(lon_b, dtype=float))[None, :]
    h = np.sin((lb - la) / 2) ** 2 + np.cos(la) * np.cos(lb) * np.sin((ob - oa) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def road_km(lat_a: ArrayLike, lon_a: ArrayLike, lat_b: ArrayLike, lon_b: ArrayLike, circuity: float) -> NDArray[np.float64]:
    """Estimated road distance: haversine × circuity."""
    return haversine_km(lat_a, lon_a, lat_b, lon_b) * float(circuity)


def minutes(km: ArrayLike, speed_kmh: float) -> NDArray[np.float64]:
    """Travel minutes for a distance at a constant speed."""
    if speed_kmh <= 0:
        raise ValueError(f"speed must be positive, got {speed_kmh}")
    return np.asarray(km, dtype=float) * (60.0 / float(speed_kmh))
