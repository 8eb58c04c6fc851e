"""No status is trusted blindly: fractional, infeasible and bound-inconsistent outcomes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.solver import Settings, SolveStatus, relative_gap
from engine.stocking import check_plan, finalize
from engine.stocking.outcome import Outcome

SMALL = Path(__file__).resolve().parents[2] / "instances" / "metro-small"


def test_fractional_plan_is_floored_and_downgraded(small, small_optimum):
    frac = small_optimum.units + 0.5  # what PuLP loads when CBC has no integer solution
    res = finalize(small, Outcome(frac, SolveStatus.OPTIMAL, 1e9, 1e9, 0, 0, "pretend"), "fake", Settings())
    assert res.stats.status != SolveStatus.OPTIMAL
    assert "fractional" in res.stats.message
    assert not check_plan(small, res.units)
    assert res.stats.objective < 1e9  # re-evaluated, not copied


def test_infeasible_plan_is_repaired(small):
    big = np.full((len(small.skus), len(small.warehouses)), 10_000.0)
    res = finalize(small, Outcome(big, SolveStatus.OPTIMAL, None, None, 0, 0), "fake", Settings())
    assert "repaired" in res.stats.message and res.stats.status == SolveStatus.FEASIBLE
    assert not check_plan(small, res.units)


def test_bound_below_objective_is_dropped(small, small_optimum):
    out = Outcome(small_optimum.units, SolveStatus.OPTIMAL, None, 0.0, 0, 0)
    res = finalize(small, out, "fake", Settings())
    assert res.stats.bound is None and "dropped" in res.stats.message
    assert res.stats.status != SolveStatus.OPTIMAL


def test_no_plan_gets_a_fallback_labelled_as_the_fallback(small, small_optimum):
    from engine.stocking import solve_stocking

    bound = small_optimum.stats.objective + 1.0
    out = Outcome(None, SolveStatus.NO_SOLUTION, None, bound, 0, 0, "timeout")
    res = finalize(small, out, "fake", Settings())
    rule = solve_stocking(small, Settings(backend="newsvendor"))
    st = res.stats
    # the plan is the newsvendor's, and the statistics say so rather than crediting "fake"
    assert np.array_equal(res.units, rule.units) and not check_plan(small, res.units)
    assert st.backend == "newsvendor" and st.status == SolveStatus.FEASIBLE
    assert st.requested_backend == "fake"
    assert st.fallback_reason is not None and "no_solution" in st.fallback_reason and "timeout" in st.fallback_reason
    assert st.objective == pytest.approx(rule.stats.objective)
    # a bound the failed back-end proved still bounds the optimum: kept, gap measured against it
    assert st.bound == pytest.approx(bound) and st.gap == pytest.approx(relative_gap(st.objective, bound))
    d = res.to_dict()["stats"]
    assert (d["backend"], d["requested_backend"]) == ("newsvendor", "fake")


def test_a_plan_of_its_own_is_not_labelled_a_fallback(small_optimum):
    st = small_optimum.stats
    assert st.backend == "highs" and st.requested_backend is None and st.fallback_reason is None


def _failing_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the MIP child process fail the way a crashed solver does, without starting one."""
    import subprocess

    def crashed(cmd, **kw):  # noqa: ANN001, ANN003, ANN202
        return subprocess.CompletedProcess(cmd, 1, stdout="", stderr="Traceback ...\nRuntimeError: solver crashed")

    monkeypatch.setattr("engine.stocking.mip.subprocess.run", crashed)


def test_failed_mip_backend_is_not_credited_with_the_fallback_plan(small, monkeypatch):
    from engine.stocking import solve_stocking

    _failing_worker(monkeypatch)
    res = solve_stocking(small, Settings(backend="highs", time_limit=5))
    st = res.stats
    assert st.backend == "newsvendor" and st.requested_backend == "highs"
    assert st.status == SolveStatus.FEASIBLE and st.bound is None and st.gap is None
    assert "error" in st.fallback_reason and "solver crashed" in st.fallback_reason
    assert res.summary().startswith("newsvendor:")


def test_bench_row_and_cli_show_the_fallback(small, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from engine.bench import ResultStore, summarise
    from engine.bench.tasks import run_stocking_random
    from engine.cli import app
    from engine.stocking.study import scaling_run

    _failing_worker(monkeypatch)
    frame = scaling_run([(6, 3, 5, 4)], ["cbc"], time_limit=5, seed=1)
    assert frame.loc[0, ["backend", "requested_backend"]].tolist() == ["newsvendor", "cbc"]
    assert "cbc returned no plan" in frame.loc[0, "fallback_reason"]

    spec = {"key": "k1", "experiment": "e", "kind": "stocking_random", "instance": "random:S=6,W=3,Z=5,K=4,seed=1",
            "config": "cbc", "repetition": 0, "settings": {"backend": "cbc", "seed": 0}, "params": {},
            "code_version": "test"}
    result = run_stocking_random(spec["instance"], Settings(backend="cbc", time_limit=5), {})
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.record(spec, {"state": "ok", "result": result, "elapsed": 0.1})
        frame = store.frame()
    row = frame.iloc[0]
    assert summarise(frame, sense="max").loc[0, "fallbacks"] == 1
    assert (row["backend"], row["requested_backend"], row["status"]) == ("newsvendor", "cbc", "feasible")
    assert "cbc returned no plan (error)" in row["fallback_reason"]

    r = CliRunner().invoke(app, ["stock", str(SMALL), "--backend", "highs", "--scenarios", "5",
                                 "--forecast", "seasonal_naive"])
    assert r.exit_code == 0, r.output
    assert "plan from newsvendor, not highs" in " ".join(r.output.split())


def test_time_limit_returns_best_plan_with_gap():
    from engine.stocking import random_problem, solve_stocking

    p = random_problem(60, 5, 12, 10, seed=2)
    res = solve_stocking(p, Settings(backend="highs", time_limit=1.0))
    st = res.stats
    if st.backend == "highs":  # HiGHS' own plan
        assert st.status in (SolveStatus.TIME_LIMIT, SolveStatus.OPTIMAL) and st.requested_backend is None
    else:  # no plan in time: the fallback's, labelled as such
        assert (st.backend, st.requested_backend, st.status) == ("newsvendor", "highs", SolveStatus.FEASIBLE)
    assert not check_plan(p, res.units)
    assert res.stats.solve_seconds < 30
