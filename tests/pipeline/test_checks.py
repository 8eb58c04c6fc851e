"""`run` checks what it executes: option names up front, every epoch's plan before it is
executed, every executed log after, failed dispatch solves reported."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import engine.dispatch
import engine.forecast
import engine.pipeline
from engine import RunSettings, Settings, load_instance, run
from engine.cli import app
from engine.errors import ConfigError
from engine.pipeline import ExecutionCheckError
from engine.simulate.execute import PlanRejected
from tests.dispatch.helpers import FailingBackend, install_backend
from tests.helpers import tiny_copy

FAST = dict(forecast=Settings(backend="seasonal_naive"), stocking=Settings(backend="newsvendor"),
            dispatch=Settings(backend="ortools", time_limit=0.3), replications=2, scenarios=10)
CLI_FAST = ["--forecast", "seasonal_naive", "--stocking", "newsvendor", "--dispatch-time-limit", "0.3",
            "--replications", "2", "--scenarios", "10", "--seed", "1"]


@pytest.fixture(scope="module")
def inst(tmp_path_factory):
    return load_instance(tiny_copy(tmp_path_factory.mktemp("checks")))


def _no_forecast(*_a, **_k):  # type: ignore[no-untyped-def]
    raise AssertionError("the forecast ran although the settings were invalid")


@pytest.mark.parametrize(("stage", "settings", "key", "hint"), [
    ("dispatch", Settings(backend="pyvrp", options={"recombne": 0.2}), "recombne", "recombine"),
    ("dispatch", Settings(backend="ortools", options={"simulate_decline": True}), "simulate_decline",
     "simulate_declines"),
    ("stocking", Settings(backend="decomp", options={"polish_round": 2}), "polish_round", "polish_rounds"),
    ("forecast", Settings(backend="ets", options={"ets_windw": 20}), "ets_windw", "ets_window"),
])
def test_an_option_typo_fails_before_any_stage_runs(inst, monkeypatch, stage, settings, key, hint) -> None:
    monkeypatch.setattr(engine.forecast, "forecast", _no_forecast)
    with pytest.raises(ConfigError) as err:
        run(inst, RunSettings(**{**FAST, stage: settings}))
    msg = str(err.value)
    assert f"{stage} back-end {settings.backend!r}" in msg
    assert f"{key!r} (did you mean {hint}" in msg
    assert f"the {stage} settings given to the run" in msg


def test_day_planning_options_pass_the_up_front_check(inst, monkeypatch) -> None:
    monkeypatch.setattr(engine.forecast, "forecast", _no_forecast)
    ok = Settings(backend="ortools", options={"wave_time_per_order": 0.001, "first_solution": "SAVINGS"})
    with pytest.raises(AssertionError, match="the forecast ran"):  # got past the checks
        run(inst, RunSettings(**{**FAST, "dispatch": ok}))


def test_cli_names_the_manifest_table_of_a_misspelt_option(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    toml = root / "instance.toml"
    text = toml.read_text()
    assert "[solver.dispatch.options]\n" in text
    toml.write_text(text.replace("[solver.dispatch.options]\n", "[solver.dispatch.options]\nrecombne = 0.2\n"))
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", str(root), "--out", str(out), *CLI_FAST])
    assert res.exit_code == 1, res.output
    flat = " ".join(res.output.split())
    # the loader already knows the back-end's declared names: the file and the key are named
    assert "instance.toml" in flat and "solver.dispatch.options.recombne" in flat and "recombine" in flat
    assert not out.exists()


# ---- every epoch's plan is checked before it is executed ---------------------------------------
def _late_trips(trips):  # type: ignore[no-untyped-def]
    """Every trip set off ten hours later than planned: its stops miss even the hard limit."""
    return [replace(t, start_min=t.start_min + 600.0) for t in trips]


def _twice(trips):  # type: ignore[no-untyped-def]
    """The first order of the first trip planned again in a second trip."""
    if len(trips) < 2:
        return trips
    return [trips[0], replace(trips[1], orders=(*trips[1].orders, trips[0].orders[0]))]


def _break_policy(monkeypatch, tamper) -> None:  # type: ignore[no-untyped-def]
    from engine.dispatch.policy import SolvingPolicy

    real = SolvingPolicy.decide

    def broken(self, view):  # type: ignore[no-untyped-def]
        return tamper(real(self, view))

    monkeypatch.setattr(SolvingPolicy, "decide", broken)


def test_a_late_plan_is_refused_before_it_is_executed(inst, monkeypatch) -> None:
    _break_policy(monkeypatch, _late_trips)
    with pytest.raises(PlanRejected) as err:
        run(inst, RunSettings(**FAST))
    assert "fails the feasibility check" in str(err.value) and "after its deadline" in str(err.value)


def test_an_order_planned_twice_is_refused(inst, monkeypatch) -> None:
    _break_policy(monkeypatch, _twice)
    with pytest.raises(PlanRejected, match="planned twice"):
        run(inst, RunSettings(**{**FAST, "policy": "waves"}))


def test_cli_refuses_a_broken_plan_with_exit_1_and_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    _break_policy(monkeypatch, _late_trips)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", str(tiny_copy(tmp_path)), "--out", str(out), *CLI_FAST,
                                   "--dispatch", "ortools"])
    assert res.exit_code == 1, res.output
    flat = " ".join(res.output.split())
    assert "fails the feasibility check" in flat and "after its deadline" in flat
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_an_inconsistent_executed_log_is_not_scored(inst, monkeypatch) -> None:
    import engine.simulate.logcheck as lc

    monkeypatch.setattr(lc, "check_execution", lambda day: ["courier X was in two places (test)"])
    with pytest.raises(ExecutionCheckError, match="two places"):
        run(inst, RunSettings(**FAST))


# ---- failed dispatch solves are reported ----------------------------------------------------
def test_failed_solves_are_counted_and_warned_about(tmp_path: Path, monkeypatch) -> None:
    install_backend(monkeypatch, "broken", FailingBackend(None, "raise"))
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", str(tiny_copy(tmp_path)), "--out", str(out), *CLI_FAST,
                                   "--dispatch", "broken"])
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    summary = json.loads((out / "run.json").read_text())["summary"]
    waves = summary["dispatch_waves"]
    assert waves["solves"] > 0 and waves["errored"] == waves["solves"]
    assert "crashed" in waves["errors"][0]["error"]
    assert summary["dispatch"]["status"] == "error"
    assert f"warning: {waves['errored']} of {waves['solves']} dispatch solves failed" in flat
    reasons = pd.read_csv(out / "assignments.csv")["reason"].fillna("")
    assert reasons.str.startswith("solve_error:").any()


def test_a_clean_run_reports_no_failed_solves(inst) -> None:
    res = run(inst, RunSettings(**FAST))
    waves = res.summary()["dispatch_waves"]
    ep = res.simulation.epochs
    assert waves["solves"] == int((ep["status"] != "idle").sum()) > 0
    assert waves["errored"] == 0 and waves["errors"] == []
