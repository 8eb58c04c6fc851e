"""Road graphs in instances: generation, validation (file, line, column, code), use, end to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from engine.errors import InstanceError
from engine.instance import load_instance, write_instance
from engine.instance.generate import generate_instance
from engine.travel import haversine_pairs_km, minutes, road_km
from tests.helpers import REPO, TINY_KNOBS, edit_csv, set_cell

RIVER = REPO / "instances" / "metro-river"


@pytest.fixture(scope="module")
def tiny_roads(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("roads") / "tiny-roads"
    generate_instance(path, preset="small", seed=11, roads=True, **TINY_KNOBS)
    return path


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    return dst


def _issues(path: Path) -> list:
    with pytest.raises(InstanceError) as exc:
        load_instance(path)
    return list(exc.value.issues)


def _has(issues: list, file: str, row: int | None, column: str | None, code: str) -> bool:
    return any(i.file == file and i.row == row and i.column == column and i.code == code for i in issues)


def test_generated_graph_is_valid_and_used(tiny_roads: Path) -> None:
    inst = load_instance(tiny_roads)
    assert len(inst.road_nodes) > 100 and len(inst.roads) > 100
    assert inst.summary()["roads"] == len(inst.roads)
    graph = inst.travel_model().graph
    assert graph is not None and graph.main.all()  # the generator keeps every node reachable
    # lengths never shorter than the straight line between their ends
    pos = pd.Series(np.arange(len(inst.road_nodes)), index=inst.road_nodes["id"])
    u, v = pos[inst.roads["from"]].to_numpy(), pos[inst.roads["to"]].to_numpy()
    straight = haversine_pairs_km(graph.lat[u], graph.lon[u], graph.lat[v], graph.lon[v])
    assert np.all(inst.roads["length_km"].to_numpy() >= straight - 1e-9)
    assert inst.roads["oneway"].dtype == bool


def test_roads_leave_the_rest_of_the_city_unchanged(tiny_roads: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    generate_instance(plain, preset="small", seed=11, name="tiny-roads", **TINY_KNOBS)
    for name in ("warehouses.csv", "zones.csv", "skus.csv", "demand.csv", "orders.csv", "fleet.csv", "crowd.csv"):
        assert (plain / name).read_bytes() == (tiny_roads / name).read_bytes(), name
    assert not (plain / "roads.csv").exists()


def test_same_seed_same_graph(tiny_roads: Path, tmp_path: Path) -> None:
    again = tmp_path / "tiny-roads"
    generate_instance(again, preset="small", seed=11, roads=True, **TINY_KNOBS)
    for name in ("road_nodes.csv", "roads.csv", "instance.toml"):
        assert (again / name).read_bytes() == (tiny_roads / name).read_bytes(), name


def test_round_trip(tiny_roads: Path, tmp_path: Path) -> None:
    inst = load_instance(tiny_roads)
    back = load_instance(write_instance(inst, tmp_path / "copy"))
    pd.testing.assert_frame_equal(back.roads, inst.roads)
    pd.testing.assert_frame_equal(back.road_nodes, inst.road_nodes)


def test_unknown_node(tiny_roads: Path, tmp_path: Path) -> None:
    root = _copy(tiny_roads, tmp_path)
    set_cell(root / "roads.csv", 3, "to", "NOWHERE")
    assert _has(_issues(root), "roads.csv", 3, "to", "unknown_reference")


def test_non_positive_length_and_minutes(tiny_roads: Path, tmp_path: Path) -> None:
    root = _copy(tiny_roads, tmp_path)
    set_cell(root / "roads.csv", 4, "length_km", "-1.5")
    set_cell(root / "roads.csv", 5, "minutes", "0")
    issues = _issues(root)
    assert _has(issues, "roads.csv", 4, "length_km", "out_of_range")
    assert _has(issues, "roads.csv", 5, "minutes", "out_of_range")


def test_duplicate_node_and_self_loop(tiny_roads: Path, tmp_path: Path) -> None:
    root = _copy(tiny_roads, tmp_path)
    edit_csv(root / "road_nodes.csv", lambda f: pd.concat([f, f.iloc[[0]]], ignore_index=True))
    n = len(pd.read_csv(root / "road_nodes.csv"))
    first = pd.read_csv(root / "roads.csv", dtype=str).loc[0, "from"]
    set_cell(root / "roads.csv", 2, "to", first)
    issues = _issues(root)
    assert _has(issues, "road_nodes.csv", n + 1, "id", "duplicate_key")
    assert _has(issues, "roads.csv", 2, "to", "self_loop")


@pytest.mark.parametrize("gone", ["roads.csv", "road_nodes.csv"])
def test_one_file_without_the_other(tiny_roads: Path, tmp_path: Path, gone: str) -> None:
    root = _copy(tiny_roads, tmp_path)
    (root / gone).unlink()
    issues = _issues(root)
    assert _has(issues, gone, None, None, "missing_pair")
    assert len(issues) == 1  # one clear message, not one per road


def test_disconnected_zone(tiny_roads: Path, tmp_path: Path) -> None:
    root = _copy(tiny_roads, tmp_path)
    zone = pd.read_csv(root / "zones.csv", dtype=str).iloc[1]
    # a lone node right at the zone centre: the zone's nearest node reaches nothing
    edit_csv(root / "road_nodes.csv",
             lambda f: pd.concat([f, pd.DataFrame({"id": ["LONE"], "lat": [zone["lat"]], "lon": [zone["lon"]]})],
                                 ignore_index=True))
    issues = _issues(root)
    assert _has(issues, "zones.csv", 3, "id", "road_unreachable")
    assert "LONE" in next(i.message for i in issues if i.code == "road_unreachable")


def test_oneway_column_is_optional(tiny_roads: Path, tmp_path: Path) -> None:
    root = _copy(tiny_roads, tmp_path)
    edit_csv(root / "roads.csv", lambda f: f.drop(columns="oneway"))
    inst = load_instance(root)
    assert not inst.roads["oneway"].any()


def test_shipped_river_instance() -> None:
    inst = load_instance(RIVER)
    assert inst.travel_model().graph is not None
    assert sum(p.stat().st_size for p in RIVER.iterdir()) < 1_000_000
    assert np.isfinite(inst.warehouse_zone_minutes().to_numpy()).all()
    assert inst.coverage().any(axis=0).mean() > 0.5
    # the river shows: some zone → zone trips take far longer than haversine × circuity
    z, t = inst.zones, inst.manifest.travel
    plain = minutes(road_km(z["lat"], z["lon"], z["lat"], z["lon"], t.circuity), t.fleet_speed_kmh)
    road = inst.travel_model().minutes(z["lat"], z["lon"], z["lat"], z["lon"], "fleet")
    off = ~np.eye(len(z), dtype=bool)
    assert (road[off] / plain[off]).max() > 1.4


def test_dispatch_problem_uses_the_graph() -> None:
    from engine.dispatch.day import build_problem, orders_for_day

    inst = load_instance(RIVER)
    orders = orders_for_day(inst, inst.manifest.planning.start_date).head(30)
    P = build_problem(inst, orders)
    fleet, crowd = P.time_min
    assert np.isfinite(P.time_min).all() and np.allclose(np.diag(fleet), 0.0)
    t = inst.manifest.travel
    assert np.allclose(crowd, fleet * t.fleet_speed_kmh / t.crowd_speed_kmh)
    plain = road_km(P.loc_lat, P.loc_lon, P.loc_lat, P.loc_lon, t.circuity)
    assert not np.allclose(P.dist_km[0], plain)


def test_run_end_to_end(tmp_path: Path) -> None:
    from engine.cli import app

    out = tmp_path / "run"
    res = CliRunner().invoke(app, [
        "run", str(RIVER), "--out", str(out), "--forecast", "seasonal_naive", "--stocking-time-limit", "5",
        "--dispatch-time-limit", "0.3", "--scenarios", "8", "--replications", "2",
    ])
    assert res.exit_code == 0, res.output
    assert any(out.iterdir())
