"""`nearstock compare`: differences with paired (same seed) or Welch intervals over replications."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.report import compare_runs
from engine.report.compare import delta_interval
from tests.helpers import tiny_copy


def test_paired_interval_is_narrower_when_luck_is_shared() -> None:
    rng = np.random.default_rng(0)
    luck = rng.normal(0, 1.0, 8)  # shared by both policies in each replication
    a, b = 10 + luck, 10.5 + luck + rng.normal(0, 0.05, 8)
    m, lo, hi = delta_interval(a, b, paired=True)
    assert m == pytest.approx(0.5, abs=0.1) and lo > 0  # the paired test sees the difference
    _, wlo, whi = delta_interval(a, b, paired=False)
    assert wlo < 0 < whi and (whi - wlo) > 5 * (hi - lo)  # Welch drowns it in the shared noise
    assert np.isnan(delta_interval(a[:1], b[:1], paired=True)[1])


def test_compare_of_two_policies_reports_paired_intervals(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    base = ["run", str(root), "--forecast", "seasonal_naive", "--stocking", "newsvendor", "--scenarios", "10",
            "--replications", "3", "--seed", "4", "--dispatch-time-limit", "0.3"]
    g, r = tmp_path / "greedy", tmp_path / "rolling"
    assert CliRunner().invoke(app, [*base, "--policy", "greedy", "--out", str(g)]).exit_code == 0
    assert CliRunner().invoke(app, [*base, "--policy", "rolling", "--out", str(r)]).exit_code == 0
    cmp = compare_runs(g, r)
    ind = cmp.indicators.set_index("indicator")
    assert (ind["test"] == "paired").all()
    ok = ind["delta_low"].notna()
    assert ok.any()
    assert ((ind.loc[ok, "delta_low"] <= ind.loc[ok, "delta"] + 1e-12)
            & (ind.loc[ok, "delta"] <= ind.loc[ok, "delta_high"] + 1e-12)).all()
    sig = ind.loc[ok, "significant"].astype(bool)
    excl = (ind.loc[ok, "delta_low"] > 0) | (ind.loc[ok, "delta_high"] < 0)
    assert (sig == excl).all()
    res = CliRunner().invoke(app, ["compare", str(g), str(r)])
    assert res.exit_code == 0 and "paired" in res.output
