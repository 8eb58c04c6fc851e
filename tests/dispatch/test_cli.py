"""`nearstock dispatch` and `nearstock bench vrptw` through the typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from engine.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

TINY = ("T1\n\nVEHICLE\nNUMBER     CAPACITY\n  2         10\n\nCUSTOMER\n"
        "CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n\n"
        "0 0 0 0 0 100 0\n1 3 4 5 0 50 1\n2 6 8 5 0 50 1\n3 0 5 6 0 50 1\n")


def test_bench_vrptw_writes_csv(tmp_path: Path) -> None:
    f = tmp_path / "T1.txt"
    f.write_text(TINY)
    out = tmp_path / "res.csv"
    r = runner.invoke(app, ["bench", "vrptw", str(f), "--backend", "ortools", "--time-limit", "0.3", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "truncated to one decimal" in r.output.replace("\n", " ")
    df = pd.read_csv(out)
    assert list(df["instance"]) == ["T1"] and bool(df["feasible"].iloc[0])


def test_bench_vrptw_bad_backend(tmp_path: Path) -> None:
    f = tmp_path / "T1.txt"
    f.write_text(TINY)
    r = runner.invoke(app, ["bench", "vrptw", str(f), "--backend", "nope", "--time-limit", "0.3"])
    assert r.exit_code == 1
    assert "unknown dispatch back-end" in r.output


@pytest.mark.skipif(not (ROOT / "instances" / "metro-small").exists(), reason="no shipped instance")
def test_dispatch_command(tmp_path: Path) -> None:
    out = tmp_path / "d"
    r = runner.invoke(app, ["dispatch", str(ROOT / "instances" / "metro-small"), "--backend", "ortools",
                            "--time-limit", "0.2", "--wave-min", "30", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["issues"] == [] and data["headline"]["orders"] > 0
    a = pd.read_csv(out / "assignments.csv")
    assert len(a) == data["headline"]["orders"]
    assert (out / "routes.csv").exists() and (out / "summary.json").exists()


@pytest.mark.skipif(not (ROOT / "instances" / "metro-small").exists(), reason="no shipped instance")
def test_dispatch_command_bad_day() -> None:
    r = runner.invoke(app, ["dispatch", str(ROOT / "instances" / "metro-small"), "--day", "1999-01-01"])
    assert r.exit_code == 1
    assert "no orders on 1999-01-01" in r.output
