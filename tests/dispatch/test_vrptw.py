"""Solomon / VRPLIB reading and solving (small time limits; full runs are benchmarks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.dispatch import DispatchInputError, read_vrptw, solve_vrptw_file
from engine.dispatch.vrptw import vrptw_problem
from engine.solver import Settings

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "vrptw" / "solomon"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="shared Solomon data not present")


@needs_data
def test_both_formats_agree() -> None:
    a = read_vrptw(DATA / "solomon_format" / "RC201.txt")
    b = read_vrptw(DATA / "vrplib_format" / "RC201.vrp")
    assert a.name == b.name == "RC201"
    for f in ("x", "y", "demand", "ready", "due", "service"):
        np.testing.assert_allclose(getattr(a, f), getattr(b, f))
    assert (a.capacity, a.vehicles) == (b.capacity, b.vehicles) == (1000.0, 25)
    d = a.distances()
    assert d[0, 1] == np.floor(10 * np.hypot(a.x[0] - a.x[1], a.y[0] - a.y[1])) / 10


@needs_data
@pytest.mark.parametrize("backend", ["ortools", "pyvrp"])
def test_c101_reaches_bks(backend: str) -> None:
    r = solve_vrptw_file(DATA / "solomon_format" / "C101.txt", Settings(backend=backend, time_limit=2))
    assert r["feasible"] and r["served"] == 100
    assert r["bks_distance"] == pytest.approx(827.3)
    assert r["gap"] is not None and r["gap"] < 0.02
    assert "truncated to one decimal" in r["convention"]


def test_tiny_vrptw_file(tmp_path: Path) -> None:
    f = tmp_path / "T1.txt"
    f.write_text("T1\n\nVEHICLE\nNUMBER     CAPACITY\n  2         10\n\nCUSTOMER\n"
                 "CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n\n"
                 "0 0 0 0 0 100 0\n1 3 4 5 0 50 1\n2 6 8 5 0 50 1\n3 0 5 6 0 50 1\n")
    inst = read_vrptw(f)
    assert inst.n_customers == 3 and inst.vehicles == 2
    P = vrptw_problem(inst)
    assert P.n_orders == 3 and P.n_couriers == 2
    for backend in ("ortools", "pyvrp"):
        r = solve_vrptw_file(f, Settings(backend=backend, time_limit=0.3), bks={"T1": {"distance": 30.0, "vehicles": 2}})
        assert r["feasible"], r
        assert r["vehicles"] == 2  # 16 units of demand, capacity 10
        assert r["gap"] is not None


def test_bad_vrptw_files(tmp_path: Path) -> None:
    f = tmp_path / "bad.txt"
    f.write_text("nothing here\n")
    with pytest.raises(DispatchInputError):
        read_vrptw(f)
    g = tmp_path / "bad.vrp"
    g.write_text("NAME : X\nDIMENSION : 3\nNODE_COORD_SECTION\n1 0 0\n2 1 1\n3 2 2\nEOF\n")
    with pytest.raises(DispatchInputError, match="missing"):
        read_vrptw(g)
    with pytest.raises(DispatchInputError, match="cannot read"):
        read_vrptw(tmp_path / "absent.txt")
