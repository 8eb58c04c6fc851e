"""Experiments: up-front checks, isolated runs, resumable store, analysis, acceptance, Dask."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from engine.bench import (
    ResultStore,
    accept,
    load_experiment,
    performance_profile,
    run_experiment,
    summarise,
)
from engine.cli import app
from engine.errors import BackendError, ConfigError

EXP = """
name = "tiny-stocking"
kind = "stocking_random"
repetitions = 1
run_timeout = 120
baseline = "highs"

[instances]
paths = ["random:S=12,W=3,Z=5,K=4,seed=1", "random:S=15,W=3,Z=6,K=4,seed=2"]

[[configs]]
name = "highs"
backend = "highs"
time_limit = 10
mip_gap = 0.01  # stop on the gap, not the clock: a loaded machine must not change the plan

[[configs]]
name = "newsvendor"
backend = "newsvendor"
"""


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_runs_store_resume_and_analysis(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, EXP))
    assert len(exp.runs()) == 4
    first = run_experiment(exp, jobs=2)
    assert (first.total, first.skipped, first.ok, first.failed) == (4, 0, 4, 0)
    again = run_experiment(exp, jobs=2)
    assert (again.skipped, again.ok) == (4, 0)  # resumed: nothing re-run
    with ResultStore(exp.db_path) as store:
        runs = store.frame()
    assert len(runs) == 4 and set(runs["state"]) == {"ok"}
    exact = runs[runs["config"] == "highs"]
    assert (exact["bound"] >= exact["objective"] - 1e-6).all()  # maximisation: bound above
    summ = summarise(runs, sense="max", baseline="highs").set_index("config")
    assert summ.loc["highs", "ties"] == 2
    assert summ.loc["newsvendor", "wins"] == 0  # a rule never beats the exact optimum
    prof = performance_profile(runs, sense="max")
    assert prof.groupby("config")["share"].max().loc["highs"] == pytest.approx(1.0)
    checks = accept(runs, baseline="highs", candidate="newsvendor", metrics=["objective>="], tolerances=[1e-9])
    assert not checks[0].passed
    checks = accept(runs, baseline="newsvendor", candidate="highs", metrics=["objective>="], tolerances=[0.0])
    assert checks[0].passed


def test_crash_and_timeout_cost_only_their_run(tmp_path: Path) -> None:
    from engine.bench import run_isolated

    exp = load_experiment(write(tmp_path, EXP))
    spec = exp.runs()[0].to_dict()
    crash = run_isolated({**spec, "settings": {**spec["settings"], "backend": "gurobi"}})
    assert crash["state"] == "error" and "gurobi" in crash["error"]
    big = {**spec, "instance": "random:S=3000,W=10,Z=30,K=30,seed=2",
           "settings": {**spec["settings"], "time_limit": 600.0}}
    hung = run_isolated(big, timeout=8)
    assert hung["state"] == "timeout" and hung["elapsed"] < 30
    fine = run_isolated(spec)
    assert fine["state"] == "ok" and fine["result"]["objective"] > 0


@pytest.mark.parametrize(("patch", "error", "match"), [
    (("backend = \"newsvendor\"", "backend = \"gurobi\""), BackendError, "unknown stocking back-end 'gurobi'"),
    (("kind = \"stocking_random\"", "kind = \"magic\""), ConfigError, "kind must be one of"),
    (("repetitions = 1", "repetitions = 1\ncolour = 3"), ConfigError, "unknown key"),
    (("random:S=12", "rnd:S=12"), ConfigError, "random:S=1000"),
    (("time_limit = 10", "time_limit = -1"), ConfigError, "time_limit"),
    (("baseline = \"highs\"", "baseline = \"cplex\""), ConfigError, "baseline"),
    (("repetitions = 1", "repetitions = [1"), ConfigError, "not valid TOML"),
])
def test_bad_experiments_fail_before_any_run(tmp_path: Path, patch, error, match) -> None:
    p = write(tmp_path, EXP.replace(*patch))
    with pytest.raises(error, match=match):
        load_experiment(p)
    assert not p.with_suffix(".sqlite").exists()


def test_missing_instance_directory(tmp_path: Path) -> None:
    text = EXP.replace('kind = "stocking_random"', 'kind = "stocking"').replace(
        'paths = ["random:S=12,W=3,Z=5,K=4,seed=1", "random:S=15,W=3,Z=6,K=4,seed=2"]', 'paths = ["nowhere/*"]')
    with pytest.raises(ConfigError, match="no instance matches 'nowhere/\\*'"):
        load_experiment(write(tmp_path, text))


def test_cli_run_summary_accept_export(tmp_path: Path) -> None:
    p = write(tmp_path, EXP)
    runner = CliRunner()
    res = runner.invoke(app, ["bench", "run", str(p), "--jobs", "2"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["bench", "summary", str(p), "--html", str(tmp_path / "s.html"), "--csv", str(tmp_path / "s.csv")])
    assert res.exit_code == 0, res.output
    assert "tiny-stocking" in res.output and (tmp_path / "s.html").read_text().count("<svg") == 2
    assert set(pd.read_csv(tmp_path / "s.csv")["config"]) == {"highs", "newsvendor"}
    gate = ["bench", "accept", str(p), "--baseline", "highs", "--candidate", "newsvendor", "--metric", "objective>="]
    assert runner.invoke(app, gate).exit_code == 1
    swapped = ["bench", "accept", str(p), "--baseline", "newsvendor", "--candidate", "highs", "--metric", "objective>="]
    assert runner.invoke(app, swapped).exit_code == 0
    res = runner.invoke(app, ["bench", "export", str(p), str(tmp_path / "runs.parquet")])
    assert res.exit_code == 0 and len(pd.read_parquet(tmp_path / "runs.parquet")) == 4
    res = runner.invoke(app, ["bench", "accept", str(p), "--baseline", "highs", "--candidate", "newsvendor", "--metric", "speed!"])
    assert res.exit_code == 1 and "NAME<=" in res.output


def test_dask_local_cluster_matches_local_executor(tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed")
    one = EXP.replace('"random:S=12,W=3,Z=5,K=4,seed=1", ', "")
    exp = load_experiment(write(tmp_path, one))
    run_experiment(exp, jobs=2, db=tmp_path / "local.sqlite")
    res = run_experiment(exp, cluster="local:2", db=tmp_path / "dask.sqlite")
    assert res.ok == 2
    with ResultStore(tmp_path / "local.sqlite") as a, ResultStore(tmp_path / "dask.sqlite") as b:
        fa = a.frame().set_index("key").sort_index()
        fb = b.frame().set_index("key").sort_index()
    pd.testing.assert_series_equal(fa["objective"], fb["objective"])
    pd.testing.assert_series_equal(fa["state"], fb["state"])


@pytest.mark.parametrize("name", ["solomon-10s", "solomon-strategies", "solomon-strategies-quick", "stocking-backends"])
def test_shipped_experiments_load(name: str) -> None:
    from tests.helpers import REPO, SHARED

    if name.startswith("solomon") and not SHARED.is_dir():
        pytest.skip("../shared is not beside the repository")
    exp = load_experiment(REPO / "benchmarks" / "experiments" / f"{name}.toml")
    assert exp.runs() and exp.baseline in {c.name for c in exp.configs}


def test_fan_out_local_processes() -> None:
    import math

    from engine.bench import fan_out

    assert fan_out(math.factorial, [3, 4, 5], jobs=2) == [6, 24, 120]
