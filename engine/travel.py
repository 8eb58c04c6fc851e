"""Distances and travel times.

Without a road graph, road distance is the great-circle (haversine) distance times a
circuity factor (about 1.3 in cities), and time is distance over a mode's speed. With a road
graph (an instance's ``road_nodes.csv`` + ``roads.csv``), :class:`TravelModel` routes on it:
snap to the nearest node, fastest path by Dijkstra from the distinct source nodes only. All
functions are vectorised over arrays of points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from engine.errors import ConfigError

if TYPE_CHECKING:  # scipy loads only when a road graph is built (fast start without one)
    from scipy.sparse import csr_matrix
    from scipy.spatial import cKDTree

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


def haversine_pairs_km(lat_a: ArrayLike, lon_a: ArrayLike, lat_b: ArrayLike, lon_b: ArrayLike) -> NDArray[np.float64]:
    """Great-circle distances (km) between a[i] and b[i], element by element."""
    la, oa = np.radians(np.asarray(lat_a, dtype=float)), np.radians(np.asarray(lon_a, dtype=float))
    lb, ob = np.radians(np.asarray(lat_b, dtype=float)), np.radians(np.asarray(lon_b, dtype=float))
    h = np.sin((lb - la) / 2) ** 2 + np.cos(la) * np.cos(lb) * np.sin((ob - oa) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


# ---- road graphs --------------------------------------------------------------------------
MODES = ("fleet", "crowd")


@dataclass(frozen=True, eq=False)
class RoadGraph:
    """A directed road graph: nodes with coordinates, arcs with length (km) and fleet minutes.

    Build it with :meth:`from_frames`. Parallel arcs keep the fastest one. Points are snapped
    to the nearest node of the *main part* of the graph (its largest strongly connected
    component), so every snapped pair has a finite route.
    """

    node_ids: NDArray[np.object_]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    arc_min: csr_matrix  # fleet minutes per arc (N x N)
    arc_keys: NDArray[np.int64]  # sorted u * N + v of every arc
    arc_km: NDArray[np.float64]  # length of the arc with the same position in arc_keys
    main: NDArray[np.bool_]  # node is in the largest strongly connected component
    _tree: cKDTree = field(repr=False)
    _main_idx: NDArray[np.int64] = field(repr=False)
    _origin: tuple[float, float] = field(repr=False)

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_arcs(self) -> int:
        return len(self.arc_keys)

    @classmethod
    def from_frames(cls, nodes: pd.DataFrame, roads: pd.DataFrame) -> RoadGraph:
        """From ``nodes`` (id, lat, lon) and ``roads`` (from, to, length_km, minutes, [oneway])."""
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import connected_components
        from scipy.spatial import cKDTree

        ids = nodes["id"].astype(str).to_numpy()
        if len(ids) == 0 or len(roads) == 0:
            raise ConfigError("a road graph needs at least one node and one road")
        if len(set(ids)) != len(ids):
            raise ConfigError("road node ids must be unique")
        pos = pd.Series(np.arange(len(ids)), index=ids)
        u = roads["from"].astype(str).map(pos)
        v = roads["to"].astype(str).map(pos)
        if u.isna().any() or v.isna().any():
            bad = sorted(set(roads["from"].astype(str)[u.isna()]) | set(roads["to"].astype(str)[v.isna()]))
            raise ConfigError(f"roads refer to unknown node id(s): {', '.join(bad[:5])}")
        length = roads["length_km"].to_numpy(dtype=float)
        mins = roads["minutes"].to_numpy(dtype=float)
        if not (np.all(length > 0) and np.all(mins > 0)):
            raise ConfigError("road lengths and minutes must be positive")
        oneway = (roads["oneway"].to_numpy(dtype=bool) if "oneway" in roads.columns
                  else np.zeros(len(roads), dtype=bool))
        u, v = u.to_numpy(dtype=np.int64), v.to_numpy(dtype=np.int64)
        back = ~oneway
        # every two-way road is two arcs; of parallel arcs the fastest (then shortest) wins
        au, av = np.concatenate([u, v[back]]), np.concatenate([v, u[back]])
        am, ak = np.concatenate([mins, mins[back]]), np.concatenate([length, length[back]])
        n = len(ids)
        keys = au * n + av
        order = np.lexsort((ak, am, keys))
        keys = keys[order]
        first = np.r_[True, keys[1:] != keys[:-1]]
        keep = order[first]
        arc_min = csr_matrix((am[keep], (au[keep], av[keep])), shape=(n, n))
        _, label = connected_components(arc_min, directed=True, connection="strong")
        main = label == np.bincount(label).argmax()
        lat = nodes["lat"].to_numpy(dtype=float)
        lon = nodes["lon"].to_numpy(dtype=float)
        origin = (float(lat.mean()), float(lon.mean()))
        main_idx = np.flatnonzero(main)
        tree = cKDTree(_project(lat[main_idx], lon[main_idx], origin))
        return cls(ids.astype(object), lat, lon, arc_min, keys[first], ak[keep], main, tree, main_idx, origin)

    def snap(self, lat: ArrayLike, lon: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Nearest main-part node of each point and the straight-line (haversine) km to it."""
        lat, lon = np.asarray(lat, dtype=float).ravel(), np.asarray(lon, dtype=float).ravel()
        if len(lat) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        _, k = self._tree.query(_project(lat, lon, self._origin))
        node = self._main_idx[np.asarray(k, dtype=np.int64)]
        return node, haversine_pairs_km(lat, lon, self.lat[node], self.lon[node])

    def nearest_any(self, lat: ArrayLike, lon: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Nearest node of the whole graph (main part or not) and the haversine km to it."""
        from scipy.spatial import cKDTree

        lat, lon = np.asarray(lat, dtype=float).ravel(), np.asarray(lon, dtype=float).ravel()
        xy = _project(self.lat, self.lon, self._origin)
        _, k = cKDTree(xy).query(_project(lat, lon, self._origin))
        node = np.asarray(k, dtype=np.int64)
        return node, haversine_pairs_km(lat, lon, self.lat[node], self.lon[node])

    def paths(self, src: ArrayLike, dst: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Fleet minutes and km of the fastest route from each node of ``src`` to each of ``dst``.

        Dijkstra runs once per *distinct* source node (never all pairs of the graph); the km
        are the length of that same fastest route (summed along the shortest-path tree).
        Unreachable pairs are ``inf``.
        """
        src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
        if len(src) == 0 or len(dst) == 0:
            return np.zeros((len(src), len(dst))), np.zeros((len(src), len(dst)))
        from scipy.sparse.csgraph import dijkstra

        uniq, inv = np.unique(src, return_inverse=True)
        dist, pred = dijkstra(self.arc_min, directed=True, indices=uniq, return_predecessors=True)
        km = self._tree_km(pred)
        km[~np.isfinite(dist)] = np.inf
        rows = inv.ravel()
        return dist[np.ix_(rows, dst)], km[np.ix_(rows, dst)]

    def _tree_km(self, pred: NDArray[np.int32]) -> NDArray[np.float64]:
        """km from the root of each shortest-path tree (rows of ``pred``) to every node."""
        n = self.n_nodes
        has = pred >= 0
        node = np.broadcast_to(np.arange(n), pred.shape)
        acc = np.zeros(pred.shape)
        key = pred[has].astype(np.int64) * n + node[has]
        acc[has] = self.arc_km[np.searchsorted(self.arc_keys, key)]
        up = np.where(has, pred, -1).astype(np.int64)
        # pointer jumping: each pass doubles how far every node has summed towards the root
        while (up >= 0).any():
            live = up >= 0
            safe = np.maximum(up, 0)
            acc = acc + np.where(live, np.take_along_axis(acc, safe, axis=1), 0.0)
            up = np.where(live, np.take_along_axis(up, safe, axis=1), -1)
        return acc


def _project(lat: NDArray[np.float64], lon: NDArray[np.float64], origin: tuple[float, float]) -> NDArray[np.float64]:
    """Local equirectangular projection in km around ``origin`` (good for snapping in a city)."""
    k = np.pi * EARTH_RADIUS_KM / 180.0
    return np.column_stack([(lon - origin[1]) * np.cos(np.radians(origin[0])) * k, (lat - origin[0]) * k])


@dataclass(frozen=True, eq=False)
class TravelModel:
    """Distances and travel times between points, with or without a road graph.

    Without ``graph``: km = haversine × circuity and minutes = km / speed of the mode, exactly
    :func:`road_km` and :func:`minutes`. With ``graph``: each point is snapped to its nearest
    road node; a trip is access leg + fastest road route + access leg. Access legs are
    haversine × circuity driven at the mode's speed. The route is the one of least *fleet*
    minutes (what a courier drives); its km are the length of that same route. Road minutes
    in the graph are fleet minutes; crowd couriers take the same route scaled by
    fleet_speed / crowd_speed, so crowd minutes = fleet minutes × fleet_speed / crowd_speed.
    Two points snapped to the same node travel directly (haversine × circuity).
    """

    circuity: float = 1.3
    fleet_speed_kmh: float = 22.0
    crowd_speed_kmh: float = 15.0
    graph: RoadGraph | None = None

    def __post_init__(self) -> None:
        if self.fleet_speed_kmh <= 0 or self.crowd_speed_kmh <= 0:
            raise ConfigError("travel speeds must be positive")

    @classmethod
    def from_frames(cls, circuity: float, fleet_speed_kmh: float, crowd_speed_kmh: float,
                    nodes: pd.DataFrame | None = None, roads: pd.DataFrame | None = None) -> TravelModel:
        """A model from travel parameters and (optional, both or neither) road tables."""
        has_nodes, has_roads = nodes is not None and len(nodes) > 0, roads is not None and len(roads) > 0
        if has_nodes != has_roads:
            raise ConfigError("a road graph needs both road nodes and roads")
        graph = RoadGraph.from_frames(nodes, roads) if has_nodes else None  # type: ignore[arg-type]
        return cls(float(circuity), float(fleet_speed_kmh), float(crowd_speed_kmh), graph)

    def speed(self, mode: str) -> float:
        if mode not in MODES:
            raise ConfigError(f"travel mode must be one of {', '.join(MODES)}, got {mode!r}")
        return self.fleet_speed_kmh if mode == "fleet" else self.crowd_speed_kmh

    def legs(self, lat_a: ArrayLike, lon_a: ArrayLike, lat_b: ArrayLike, lon_b: ArrayLike
             ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """km, fleet minutes and crowd minutes from every point of a to every point of b (len a × len b)."""
        if self.graph is None:
            km = road_km(lat_a, lon_a, lat_b, lon_b, self.circuity)
            return km, minutes(km, self.fleet_speed_kmh), minutes(km, self.crowd_speed_kmh)
        g = self.graph
        na, acc_a = g.snap(lat_a, lon_a)
        nb, acc_b = g.snap(lat_b, lon_b)
        path_min, path_km = g.paths(na, nb)
        access = (acc_a[:, None] + acc_b[None, :]) * self.circuity
        km = access + path_km
        fleet = access * (60.0 / self.fleet_speed_kmh) + path_min
        same = na[:, None] == nb[None, :]
        if same.any():
            direct = road_km(lat_a, lon_a, lat_b, lon_b, self.circuity)
            km = np.where(same, direct, km)
            fleet = np.where(same, direct * (60.0 / self.fleet_speed_kmh), fleet)
        return km, fleet, fleet * (self.fleet_speed_kmh / self.crowd_speed_kmh)

    def km(self, lat_a: ArrayLike, lon_a: ArrayLike, lat_b: ArrayLike, lon_b: ArrayLike) -> NDArray[np.float64]:
        """Road km from every point of a to every point of b."""
        if self.graph is None:
            return road_km(lat_a, lon_a, lat_b, lon_b, self.circuity)
        return self.legs(lat_a, lon_a, lat_b, lon_b)[0]

    def minutes(self, lat_a: ArrayLike, lon_a: ArrayLike, lat_b: ArrayLike, lon_b: ArrayLike,
                mode: str = "fleet") -> NDArray[np.float64]:
        """Travel minutes for ``mode`` ("fleet" or "crowd") from every point of a to every point of b."""
        speed = self.speed(mode)
        if self.graph is None:
            return minutes(road_km(lat_a, lon_a, lat_b, lon_b, self.circuity), speed)
        return self.legs(lat_a, lon_a, lat_b, lon_b)[1 if mode == "fleet" else 2]

    def minutes_at(self, lat_a: ArrayLike, lon_a: ArrayLike, lat_b: ArrayLike, lon_b: ArrayLike,
                   speed_kmh: float) -> NDArray[np.float64]:
        """Travel minutes at any speed: on a graph, fleet minutes scaled by fleet_speed / speed."""
        if self.graph is None:
            return minutes(road_km(lat_a, lon_a, lat_b, lon_b, self.circuity), speed_kmh)
        if speed_kmh <= 0:
            raise ValueError(f"speed must be positive, got {speed_kmh}")
        return self.legs(lat_a, lon_a, lat_b, lon_b)[1] * (self.fleet_speed_kmh / float(speed_kmh))
