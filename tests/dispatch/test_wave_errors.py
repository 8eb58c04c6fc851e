"""A wave whose solve fails is recorded and retried, never committed silently as empty."""

from __future__ import annotations

import pytest

from engine.dispatch import R_SOLVE_ERROR, check_solution, orders_for_day, plan_day
from engine.dispatch.schedule import screen
from engine.instance import load_instance
from engine.solver import Settings, SolveStatus
from tests.dispatch.helpers import FailingBackend, install_backend
from tests.helpers import tiny_copy


@pytest.fixture(scope="module")
def tiny_day(tmp_path_factory):
    inst = load_instance(tiny_copy(tmp_path_factory.mktemp("waves")))
    orders = orders_for_day(inst, inst.orders["date"].min())
    return inst, orders[orders["created_min"].between(1140, 1230)]  # the evening peak, couriers at work


@pytest.mark.parametrize("mode", ["raise", "status"])
def test_every_solve_failing_leaves_every_order_unserved_with_solve_error(tiny_day, monkeypatch, mode) -> None:
    inst, orders = tiny_day
    install_backend(monkeypatch, "broken", FailingBackend(None, mode))
    r = plan_day(inst, orders, Settings(backend="broken", time_limit=0.2))
    solves = r.meta["solves"]
    assert len(solves) > 1 and r.meta["errored_waves"] == len(solves)
    for rec in solves:
        assert rec["backend"] == "broken" and rec["status"] == "error"
        assert rec["orders_in"] > 0 and rec["orders_committed"] == 0
        assert ("crashed" if mode == "raise" else "gave up") in rec["error"]
    assert r.stats.status == SolveStatus.ERROR
    assert f"{len(solves)} of {len(solves)} solves failed" in r.stats.message
    a = r.assignments
    assert (a["status"] == "unserved").all() and len(r.routes) == 0
    # an order that could be served at all carries the solve error as its reason; one that
    # could not keeps the day-level reason (that is why it was unserved, whatever the solver did)
    _, day_why = screen(r.problem)
    reason = a.set_index("order").loc[list(r.problem.order_ids), "reason"].to_numpy()
    possible = day_why == ""
    assert possible.any() and (reason[possible] == R_SOLVE_ERROR).all()
    assert (reason[~possible] == day_why[~possible]).all()
    assert check_solution(r.problem, r) == []


def test_a_failed_wave_is_retried_at_the_next_epoch(tiny_day, monkeypatch) -> None:
    inst, orders = tiny_day
    backend = FailingBackend(fail_first=1)
    install_backend(monkeypatch, "flaky", backend)
    r = plan_day(inst, orders, Settings(backend="flaky", time_limit=0.2), wave_min=20)
    first, second, *_ = r.meta["solves"]
    assert first["error"] and "crashed on call 1" in first["error"] and first["orders_committed"] == 0
    assert not second["error"] and r.meta["errored_waves"] == 1
    assert r.stats.status != SolveStatus.ERROR and "1 of" in r.stats.message
    # the failed wave's orders were offered again at the next epoch, and some got delivered
    failed_wave = set(backend.seen[0])
    assert failed_wave and failed_wave <= set(backend.seen[1]) | set(_expired_by(r, second["epoch_min"]))
    served = set(r.assignments.loc[r.assignments["status"] == "served", "order"])
    assert served & failed_wave
    # solve_error only where the failed solve was an order's last chance (its deadline passed
    # before the next epoch); an order solved again is judged by that solve
    lost = set(r.assignments.loc[r.assignments["reason"] == R_SOLVE_ERROR, "order"])
    assert lost <= failed_wave - set(backend.seen[1])
    assert check_solution(r.problem, r) == []


def _expired_by(r, t: float) -> list[str]:  # type: ignore[no-untyped-def]
    P = r.problem
    return [o for o, due in zip(P.order_ids, P.due, strict=True) if due < t]


def test_solves_are_recorded_when_nothing_fails(tiny_day) -> None:
    inst, orders = tiny_day
    r = plan_day(inst, orders, Settings(backend="ortools", time_limit=0.2), rolling=20)
    solves = r.meta["solves"]
    assert r.meta["errored_waves"] == 0 and len(solves) == r.meta["replans"]
    assert all(rec["error"] == "" and rec["status"] != "error" for rec in solves)
    committed = sum(rec["orders_committed"] for rec in solves)
    assert committed == int((r.assignments["status"] == "served").sum())
    assert R_SOLVE_ERROR not in set(r.assignments["reason"].dropna())


def test_nearstock_dispatch_warns_when_solves_failed(tmp_path, monkeypatch) -> None:
    """The command says so on stderr (not in --json) when some epoch solves failed."""
    import json

    from typer.testing import CliRunner

    from engine.cli import app

    install_backend(monkeypatch, "flaky", FailingBackend(fail_first=1))
    res = CliRunner().invoke(app, ["dispatch", str(tiny_copy(tmp_path)), "--backend", "flaky",
                                   "--time-limit", "0.2", "--wave-min", "60", "--json"])
    assert res.exit_code == 0, res.output
    assert "warning:" in res.stderr and "1 of" in res.stderr and "crashed on call 1" in res.stderr
    assert "warning" not in res.stdout and json.loads(res.stdout)["headline"]
