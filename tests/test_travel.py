"""Travel model: haversine × circuity without a graph (unchanged), fastest routes on a road graph."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import ConfigError
from engine.travel import RoadGraph, TravelModel, haversine_km, haversine_pairs_km, minutes, road_km

LAT0, LON0 = 30.0, 120.0
DEG_LAT = 1 / 111.195  # degrees of latitude per km (haversine sphere)
DEG_LON = DEG_LAT / np.cos(np.radians(LAT0))


def _square(oneway_bc: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A 1 km square A(0,0) B(1,0) C(1,1) D(0,1) (km east, north) plus the diagonal A-C.

    Fastest A→C is A-B-C (4 min, 2 km), not the shorter diagonal (5 min, 1.5 km) nor
    A-D-C (11 min).
    """
    xy = {"A": (0, 0), "B": (1, 0), "C": (1, 1), "D": (0, 1)}
    nodes = pd.DataFrame({"id": list(xy), "lat": [LAT0 + y * DEG_LAT for _, y in xy.values()],
                          "lon": [LON0 + x * DEG_LON for x, _ in xy.values()]})
    roads = pd.DataFrame({
        "from": ["A", "B", "A", "D", "A"], "to": ["B", "C", "D", "C", "C"],
        "length_km": [1.0, 1.0, 1.0, 1.0, 1.5], "minutes": [2.0, 2.0, 10.0, 1.0, 5.0],
        "oneway": [False, oneway_bc, False, False, False],
    })
    return nodes, roads


def _ids(g: RoadGraph, *names: str) -> np.ndarray:
    pos = {n: i for i, n in enumerate(g.node_ids)}
    return np.array([pos[n] for n in names])


def test_known_shortest_paths() -> None:
    g = RoadGraph.from_frames(*_square())
    idx = _ids(g, "A", "B", "C", "D")
    t, km = g.paths(idx, idx)
    assert t[0, 2] == pytest.approx(4.0) and km[0, 2] == pytest.approx(2.0)  # fastest, not shortest
    assert t[2, 0] == pytest.approx(4.0) and km[2, 0] == pytest.approx(2.0)
    assert t[3, 1] == pytest.approx(3.0) and km[3, 1] == pytest.approx(2.0)  # D-C-B
    assert t[0, 3] == pytest.approx(5.0) and km[0, 3] == pytest.approx(3.0)  # A-B-C-D beats the 10 min road
    assert np.allclose(np.diag(t), 0.0) and np.allclose(np.diag(km), 0.0)


def test_oneway_is_honoured() -> None:
    g = RoadGraph.from_frames(*_square(oneway_bc=True))
    a, b, c = _ids(g, "A", "B", "C")
    t, km = g.paths([a, c], [a, b, c])
    assert t[0, 2] == pytest.approx(4.0)  # A-B-C still allowed
    assert t[1, 0] == pytest.approx(5.0) and km[1, 0] == pytest.approx(1.5)  # C→A: diagonal, not C-B-A
    assert t[1, 1] == pytest.approx(7.0)  # C→B: diagonal + A-B (2 + 5)


def test_oneway_defaults_to_two_way() -> None:
    nodes, roads = _square()
    g = RoadGraph.from_frames(nodes, roads.drop(columns="oneway"))
    assert g.n_arcs == 2 * len(roads)


def test_snapping_and_access_legs() -> None:
    nodes, roads = _square()
    model = TravelModel(circuity=1.3, fleet_speed_kmh=20.0, crowd_speed_kmh=10.0,
                        graph=RoadGraph.from_frames(nodes, roads))
    # 100 m south of A and 100 m east of C
    lat = np.array([LAT0 - 0.1 * DEG_LAT, LAT0 + DEG_LAT])
    lon = np.array([LON0, LON0 + 1.1 * DEG_LON])
    node, access = model.graph.snap(lat, lon)
    assert list(model.graph.node_ids[node]) == ["A", "C"]
    assert access == pytest.approx([0.1, 0.1], rel=1e-3)
    km, fleet, crowd = model.legs(lat[:1], lon[:1], lat[1:], lon[1:])
    assert km[0, 0] == pytest.approx(2.0 + 0.2 * 1.3, rel=1e-3)
    assert fleet[0, 0] == pytest.approx(4.0 + 0.2 * 1.3 * 3.0, rel=1e-3)  # 3 min per km at 20 km/h
    assert crowd[0, 0] == pytest.approx(fleet[0, 0] * 2.0)  # crowd: same route, fleet/crowd speed
    assert model.minutes(lat[:1], lon[:1], lat[1:], lon[1:], "crowd") == pytest.approx(crowd)
    assert model.km(lat[:1], lon[:1], lat[1:], lon[1:]) == pytest.approx(km)
    # two points at the same node travel directly
    same = model.km(lat[:1], lon[:1], lat[:1] + 0.05 * DEG_LAT, lon[:1])
    assert same[0, 0] == pytest.approx(0.05 * 1.3, rel=1e-3)


def test_unknown_mode_and_bad_graph() -> None:
    model = TravelModel()
    with pytest.raises(ConfigError):
        model.minutes([LAT0], [LON0], [LAT0], [LON0], "bike")
    nodes, roads = _square()
    with pytest.raises(ConfigError):
        RoadGraph.from_frames(nodes, roads.assign(to=["B", "C", "D", "C", "X"]))
    with pytest.raises(ConfigError):
        TravelModel.from_frames(1.3, 22.0, 15.0, nodes, None)


@given(st.integers(0, 10_000), st.integers(1, 40), st.integers(1, 40), st.floats(1.0, 2.0))
def test_no_graph_is_todays_function_exactly(seed: int, n_a: int, n_b: int, circuity: float) -> None:
    rng = np.random.default_rng(seed)
    la, oa = LAT0 + rng.normal(0, 0.1, n_a), LON0 + rng.normal(0, 0.1, n_a)
    lb, ob = LAT0 + rng.normal(0, 0.1, n_b), LON0 + rng.normal(0, 0.1, n_b)
    model = TravelModel(circuity, 22.0, 15.0)
    km = road_km(la, oa, lb, ob, circuity)
    assert np.array_equal(model.km(la, oa, lb, ob), km)
    assert np.array_equal(model.minutes(la, oa, lb, ob, "fleet"), minutes(km, 22.0))
    assert np.array_equal(model.minutes(la, oa, lb, ob, "crowd"), minutes(km, 15.0))
    assert np.array_equal(model.minutes_at(la, oa, lb, ob, 30.0), minutes(km, 30.0))
    legs = model.legs(la, oa, lb, ob)
    assert np.array_equal(legs[0], km) and np.array_equal(legs[1], minutes(km, 22.0))
    assert np.array_equal(legs[2], minutes(km, 15.0))


def test_instance_without_roads_is_unchanged(metro_small) -> None:
    assert metro_small.travel_model().graph is None
    fw, z, t = metro_small.forward_warehouses, metro_small.zones, metro_small.manifest.travel
    expect = minutes(road_km(fw["lat"], fw["lon"], z["lat"], z["lon"], t.circuity), t.fleet_speed_kmh)
    assert np.array_equal(metro_small.warehouse_zone_minutes().to_numpy(), expect)


def _random_graph(seed: int, n: int, extra: int, oneway_share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A connected random graph: a random spanning tree plus extra roads, lengths >= straight line."""
    rng = np.random.default_rng(seed)
    lat = LAT0 + rng.uniform(0, 0.05, n)
    lon = LON0 + rng.uniform(0, 0.05, n)
    parent = np.array([rng.integers(0, i) for i in range(1, n)], dtype=int)
    u = np.r_[parent, rng.integers(0, n, extra)]
    v = np.r_[np.arange(1, n), rng.integers(0, n, extra)]
    ok = u != v
    u, v = u[ok], v[ok]
    key = np.minimum(u, v) * n + np.maximum(u, v)
    _, first = np.unique(key, return_index=True)
    u, v = u[np.sort(first)], v[np.sort(first)]
    length = haversine_pairs_km(lat[u], lon[u], lat[v], lon[v]) * rng.uniform(1.0, 1.6, len(u)) + 1e-3
    mins = length * rng.uniform(1.5, 4.0, len(u))
    ids = np.array([f"n{i}" for i in range(n)], dtype=object)
    oneway = rng.random(len(u)) < oneway_share
    return (pd.DataFrame({"id": ids, "lat": lat, "lon": lon}),
            pd.DataFrame({"from": ids[u], "to": ids[v], "length_km": length, "minutes": mins, "oneway": oneway}))


@given(st.integers(0, 10_000), st.integers(2, 30), st.integers(0, 40))
def test_routes_match_networkx_and_bound_by_straight_line(seed: int, n: int, extra: int) -> None:
    nodes, roads = _random_graph(seed, n, extra, oneway_share=0.0)
    g = RoadGraph.from_frames(nodes, roads)
    t, km = g.paths(np.arange(n), np.arange(n))
    # symmetric without one-way roads; triangle inequality of the times
    assert np.allclose(t, t.T) and np.allclose(km, km.T)
    assert np.all(t[:, None, :] <= t[:, :, None] + t[None, :, :] + 1e-9)
    # road km >= straight line between the nodes (roads are never shorter than the straight line)
    straight = haversine_km(g.lat, g.lon, g.lat, g.lon)
    assert np.all(km >= straight - 1e-9)
    # the km are those of the fastest route, as networkx finds it
    G = nx.Graph()
    for r in roads.itertuples(index=False):
        G.add_edge(r[0], r[1], minutes=r[3], km=r[2])
    src = str(g.node_ids[0])
    lengths, paths = nx.single_source_dijkstra(G, src, weight="minutes")
    for j, name in enumerate(g.node_ids):
        assert t[0, j] == pytest.approx(lengths[name])
        path = paths[name]
        assert km[0, j] == pytest.approx(sum(G[a][b]["km"] for a, b in zip(path, path[1:], strict=False)))


@given(st.integers(0, 10_000), st.integers(3, 25))
def test_oneway_graph_routes_match_networkx(seed: int, n: int) -> None:
    nodes, roads = _random_graph(seed, n, 2 * n, oneway_share=0.3)
    g = RoadGraph.from_frames(nodes, roads)
    t, _ = g.paths(np.arange(n), np.arange(n))
    G = nx.DiGraph()
    G.add_nodes_from(nodes["id"])
    for r in roads.itertuples(index=False):
        G.add_edge(r[0], r[1], minutes=r[3])
        if not r[4]:
            G.add_edge(r[1], r[0], minutes=r[3])
    expect = dict(nx.all_pairs_dijkstra_path_length(G, weight="minutes"))
    for i, a in enumerate(g.node_ids):
        for j, b in enumerate(g.node_ids):
            assert t[i, j] == pytest.approx(expect[a].get(b, np.inf))


@given(st.integers(0, 10_000), st.integers(1, 12), st.integers(1, 12))
def test_points_on_a_graph(seed: int, n_a: int, n_b: int) -> None:
    nodes, roads = _random_graph(seed, 12, 15, oneway_share=0.0)
    model = TravelModel(1.3, 22.0, 15.0, RoadGraph.from_frames(nodes, roads))
    rng = np.random.default_rng(seed + 1)
    la, oa = LAT0 + rng.uniform(0, 0.05, n_a), LON0 + rng.uniform(0, 0.05, n_a)
    km, fleet, crowd = model.legs(la, oa, la, oa)
    assert km.shape == (n_a, n_a) and np.allclose(km, km.T) and np.allclose(np.diag(km), 0.0)
    assert np.all(km >= haversine_km(la, oa, la, oa) - 1e-9)  # never shorter than the straight line
    assert np.allclose(crowd, fleet * 22.0 / 15.0)
    lb, ob = LAT0 + rng.uniform(0, 0.05, n_b), LON0 + rng.uniform(0, 0.05, n_b)
    assert model.km(la, oa, lb, ob).shape == (n_a, n_b)


def test_dispatch_problem_without_roads_is_unchanged(metro_small) -> None:
    from engine.dispatch.day import build_problem, orders_for_day

    orders = orders_for_day(metro_small, metro_small.manifest.planning.start_date).head(40)
    P = build_problem(metro_small, orders)
    t = metro_small.manifest.travel
    km = road_km(P.loc_lat, P.loc_lon, P.loc_lat, P.loc_lon, t.circuity)
    assert np.array_equal(P.dist_km[0], km) and np.array_equal(P.dist_km[1], km)
    assert np.array_equal(P.time_min[0], minutes(km, t.fleet_speed_kmh))
    assert np.array_equal(P.time_min[1], minutes(km, t.crowd_speed_kmh))
