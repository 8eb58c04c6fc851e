"""Synthetic road graph for generated cities: a jittered street grid cut by a river.

The grid covers the city (every zone, forward warehouse and crowd courier start) with a margin.
Every fifth street is an arterial (faster). A sinuous river runs across the city; only the
streets at a few bridges cross it, so trips between the banks detour to a bridge and road
travel differs visibly from haversine × circuity. The central DC, outside the city, hangs on
an expressway to the nearest street corner. A few interior streets are one-way, as long as
every node can still reach every other. Road lengths are never shorter than the straight
line between their ends; road minutes are fleet minutes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from engine.travel import haversine_pairs_km

ARTERIAL_EVERY = 5
SPEED_FACTOR = {"local": 0.9, "arterial": 1.35, "expressway": 2.2}  # × fleet speed
ONEWAY_SHARE = 0.04

LatLon = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def road_network(rng: np.random.Generator, city_xy: np.ndarray, dc_xy: np.ndarray, to_latlon: LatLon, *,
                 spacing_km: float = 0.8, bridges: int = 3, fleet_speed_kmh: float = 22.0,
                 margin_km: float = 2.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Road nodes (id, lat, lon) and roads (from, to, length_km, minutes, oneway).

    ``city_xy`` (P × 2, km east/north of the city centre) are the points the grid must cover,
    ``dc_xy`` the central DC, ``to_latlon`` the generator's projection back to degrees.
    """
    if spacing_km <= 0 or bridges < 1:
        raise ValueError("road spacing must be positive and there must be at least one bridge")
    lo = city_xy.min(axis=0) - margin_km
    hi = city_xy.max(axis=0) + margin_km
    nx, ny = (np.ceil((hi - lo) / spacing_km).astype(int) + 1).tolist()
    ix, iy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    ix, iy = ix.ravel(), iy.ravel()  # node k = ix * ny + iy
    xy = lo + np.column_stack([ix, iy]) * spacing_km
    xy = xy + rng.normal(0.0, 0.12 * spacing_km, size=xy.shape)

    # streets: to the next node east (same row) and north (same column)
    k = np.arange(nx * ny)
    east = k[ix < nx - 1]
    north = k[iy < ny - 1]
    u = np.concatenate([east, north])
    v = np.concatenate([east + ny, north + 1])
    arterial = np.concatenate([iy[east] % ARTERIAL_EVERY == 0, ix[north] % ARTERIAL_EVERY == 0])

    # the river: y = y0 + a sin(2 pi x / wave + phase), kept two blocks inside the grid
    height = hi[1] - lo[1]
    y0 = lo[1] + height * rng.uniform(0.4, 0.6)
    amp, wave, phase = rng.uniform(0.6, 1.6), rng.uniform(10.0, 18.0), rng.uniform(0.0, 2 * np.pi)

    def river(x: np.ndarray) -> np.ndarray:
        return np.clip(y0 + amp * np.sin(2 * np.pi * x / wave + phase), lo[1] + 2 * spacing_km, hi[1] - 2 * spacing_km)

    north_bank = xy[:, 1] > river(xy[:, 0])
    crossing = north_bank[u] != north_bank[v]
    bridge_cols = np.unique(np.round((np.arange(bridges) + rng.uniform(0.3, 0.7, bridges)) / bridges * (nx - 1)).astype(int))
    is_bridge = crossing & (ix[u] == ix[v]) & np.isin(ix[u], bridge_cols)
    keep = ~crossing | is_bridge
    u, v, arterial = u[keep], v[keep], arterial[keep] | is_bridge[keep]

    # the DC: an expressway of ~2 km links to the nearest street corner
    corner = int(np.argmin(np.hypot(*(xy - dc_xy).T)))
    hops = max(1, int(np.ceil(np.hypot(*(xy[corner] - dc_xy)) / 2.0)))
    chain = dc_xy + np.outer(np.arange(hops) / hops, xy[corner] - dc_xy)  # DC first, corner excluded
    base = len(xy)
    xy = np.vstack([xy, chain])
    cu = base + np.arange(hops)
    cv = np.r_[cu[1:], corner]
    kind = np.r_[np.where(arterial, "arterial", "local"), np.full(hops, "expressway")]
    u, v = np.r_[u, cu], np.r_[v, cv]
    xy, u, v, kind = _largest_part(xy, u, v, kind)  # a river bend may strand a corner: drop it

    lat, lon = to_latlon(xy)
    straight = haversine_pairs_km(lat[u], lon[u], lat[v], lon[v])
    # roads bend a little; round up so a road is never shorter than the straight line
    length = np.ceil(straight * rng.uniform(1.0, 1.08, len(u)) * 1000.0) / 1000.0
    length = np.maximum(length, 0.001)
    speed = pd.Series(kind).map(SPEED_FACTOR).to_numpy(dtype=float) * fleet_speed_kmh
    mins = np.ceil(length / speed * 60.0 * 100.0) / 100.0
    u, v, oneway = _one_way_streets(rng, u, v, kind, len(xy))

    ids = np.array([f"N{i + 1:05d}" for i in range(len(xy))], dtype=object)
    nodes = pd.DataFrame({"id": ids, "lat": lat, "lon": lon})
    roads = pd.DataFrame({"from": ids[u], "to": ids[v], "length_km": length, "minutes": mins, "oneway": oneway})
    return nodes, roads


def _largest_part(xy: np.ndarray, u: np.ndarray, v: np.ndarray, kind: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keep the largest connected part of the (two-way) street graph; node indices renumbered."""
    n = len(xy)
    _, label = connected_components(csr_matrix((np.ones(len(u)), (u, v)), shape=(n, n)), directed=False)
    main = label == np.bincount(label).argmax()
    new = np.cumsum(main) - 1
    ok = main[u] & main[v]
    return xy[main], new[u[ok]], new[v[ok]], kind[ok]


def _one_way_streets(rng: np.random.Generator, u: np.ndarray, v: np.ndarray, kind: np.ndarray,
                     n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A few local streets become one-way in a random direction; none if that would cut the graph."""
    local = np.flatnonzero(kind == "local")
    pick = local[rng.random(len(local)) < ONEWAY_SHARE]
    flip = pick[rng.random(len(pick)) < 0.5]
    fu, fv = u.copy(), v.copy()
    fu[flip], fv[flip] = v[flip], u[flip]
    oneway = np.zeros(len(u), dtype=bool)
    oneway[pick] = True
    back = ~oneway
    graph = csr_matrix((np.ones(len(u) + int(back.sum())), (np.r_[fu, fv[back]], np.r_[fv, fu[back]])), shape=(n, n))
    n_parts, _ = connected_components(graph, directed=True, connection="strong")
    if n_parts != 1:  # keep every street two-way rather than strand a block
        return u, v, np.zeros(len(u), dtype=bool)
    return fu, fv, oneway
