"""Checks of the optional road graph (``road_nodes.csv`` + ``roads.csv``) against the instance.

Column types, ranges, unknown node ids and duplicate keys are checked by the schema like any
table; here: the two files come as a pair, no road is a loop, and every warehouse and zone
centre lies on the main part of the graph, so it can reach every forward warehouse and zone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from engine.errors import ConfigError
from engine.instance.tables import IssueLog
from engine.travel import RoadGraph


def check_roads(frames: dict[str, pd.DataFrame | None], fname: Callable[[str], str], log: IssueLog) -> None:
    """Log every road-graph problem of an instance being loaded (``frames`` by table name)."""
    nodes, roads = frames.get("road_nodes"), frames.get("roads")
    if nodes is None or roads is None:
        return  # unreadable or without the required columns: already reported
    if len(nodes) == 0 and len(roads) == 0:
        return
    if len(roads) == 0:
        log.add(fname("roads"), None, None, "missing_pair",
                f"{fname('road_nodes')} gives road nodes but there are no roads: add {fname('roads')} "
                f"(from, to, length_km, minutes) or remove {fname('road_nodes')}")
        return
    if len(nodes) == 0:
        log.add(fname("road_nodes"), None, None, "missing_pair",
                f"{fname('roads')} gives roads but there are no road nodes: add {fname('road_nodes')} (id, lat, lon)")
        return
    loop = (roads["from"] == roads["to"]).to_numpy()
    if loop.any():
        log.add_rows(fname("roads"), log.rows(fname("roads"), loop), "to", "self_loop",
                     [f"road from {v!r} back to itself: a road joins two different nodes" for v in roads.loc[loop, "to"]])
    if log.has_issues(fname("roads")) or log.has_issues(fname("road_nodes")):
        return  # routing needs a clean graph; the defects above are reported first
    try:
        graph = RoadGraph.from_frames(nodes, roads)
    except ConfigError as exc:  # pragma: no cover - the schema checks catch these first
        log.add(fname("roads"), None, None, "invalid_graph", str(exc))
        return
    n_main, n = int(graph.main.sum()), graph.n_nodes
    for table, what in (("warehouses", "warehouse"), ("zones", "zone centre")):
        frame = frames.get(table)
        if frame is None or frame.empty:
            continue
        lat, lon = frame["lat"].to_numpy(dtype=float), frame["lon"].to_numpy(dtype=float)
        placed = np.isfinite(lat) & np.isfinite(lon)  # bad coordinates are reported elsewhere
        node, dist = graph.nearest_any(np.where(placed, lat, graph.lat[0]), np.where(placed, lon, graph.lon[0]))
        off = ~graph.main[node] & placed
        if off.any():
            log.add_rows(fname(table), log.rows(fname(table), off), "id", "road_unreachable", [
                f"{what} {i!r} cannot reach every forward warehouse and zone by road: its nearest road node "
                f"{graph.node_ids[k]!r} ({d:.2f} km away) is outside the main connected part of the road graph "
                f"({n_main} of {n} nodes reach each other); connect that node in {fname('roads')}"
                for i, k, d in zip(frame.loc[off, "id"], node[off], dist[off], strict=True)])
