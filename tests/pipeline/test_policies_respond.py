"""Every shipped instance executed under two dispatch decisions: the indicators that a dispatch
decision moves do move, and the one it cannot move (forward fill: same stock plan) does not."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from engine import RunSettings, Settings, load_instance, run
from engine.cli import app
from engine.quality.privacy import export_privacy, read_export
from engine.quality.scorecard import responsive_indicators
from tests.helpers import REPO, tiny_copy

SHIPPED = sorted(p.name for p in (REPO / "instances").iterdir() if (p / "instance.toml").is_file())
FAST = dict(forecast=Settings(backend="seasonal_naive"), stocking=Settings(backend="newsvendor"),
            scenarios=10, seed=3)
# moved by who dispatches and when: every shipped day has peaks, late orders and couriers of both kinds
MUST_MOVE = {"on_time_rate", "instant_delivery_rate", "peak_assignment_p95_min", "eta_error_p90_min"}


@pytest.mark.parametrize("name", SHIPPED)
def test_greedy_and_fleet_only_waves_differ_where_dispatch_matters(name: str) -> None:
    inst = load_instance(REPO / "instances" / name)
    reps = 1 if name == "metro-medium" else 2  # the largest day: one replication keeps CI short
    a = run(inst, RunSettings(**FAST, replications=reps, policy="greedy", period=5))
    b = run(inst, RunSettings(**FAST, replications=reps, policy="waves", period=30, couriers="fleet-only",
                              dispatch=Settings(backend="pyvrp", time_limit=1)))
    moved = set(responsive_indicators(a.scorecard, b.scorecard))
    assert MUST_MOVE <= moved, f"{name}: only {sorted(moved)} moved"
    assert "forward_fill_rate" not in moved  # the stock decision is the same in both runs
    # fleet-only really has no crowd courier; waves of 30 min assign on the 30-minute grid
    assert (b.dispatch.assignments["courier_kind"].dropna() == "fleet").all()
    acc = b.simulation.outcomes["assigned_min"].dropna()
    assert ((acc % 30).abs() < 1e-9).all()


def test_same_seed_gives_byte_identical_events_and_a_clean_export(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    args = ["run", str(root), "--forecast", "seasonal_naive", "--stocking", "newsvendor", "--scenarios", "10",
            "--replications", "2", "--policy", "greedy", "--seed", "5"]
    one, two = tmp_path / "one", tmp_path / "two"
    assert CliRunner().invoke(app, [*args, "--out", str(one)]).exit_code == 0
    assert CliRunner().invoke(app, [*args, "--out", str(two)]).exit_code == 0
    assert (one / "events.csv").read_bytes() == (two / "events.csv").read_bytes()
    ev = pd.read_csv(one / "events.csv")
    assert list(ev.columns) == ["minute", "kind", "order", "courier", "lat", "lon", "recorded"]
    assert {"created", "offered", "accepted", "picked", "delivered"} <= set(ev["kind"])
    # every file the run wrote is declared in the export policy and passes it
    rep = export_privacy(read_export(one))
    assert rep.passed, rep.failures
    written = {p.name for p in one.iterdir() if p.suffix == ".csv"}
    assert written == set(rep.checks["file"])
