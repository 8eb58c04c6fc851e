"""The back-end registry and :func:`dispatch`, the one entry point for a static problem."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from engine.dispatch.check import check_solution
from engine.dispatch.problem import DispatchProblem
from engine.dispatch.result import DispatchResult
from engine.dispatch.schedule import Trip, build_result, screen, trips_from_sequences
from engine.errors import BackendError
from engine.solver import Registry, Settings, SolveStats, SolveStatus, stopwatch

BackendFn = Callable[..., tuple[list[list[int]], SolveStatus, float | None, str]]

DISPATCH: Registry[BackendFn] = Registry("dispatch", default="pyvrp")


def _has(mod: str) -> Callable[[], bool]:
    return lambda: importlib.util.find_spec(mod) is not None


@DISPATCH.register("ortools", description="OR-Tools RoutingModel, parallel cheapest insertion + GLS",
                   available=_has("ortools"))
def _ortools(*args, **kw):  # type: ignore[no-untyped-def]
    from engine.dispatch.backend_ortools import solve_ortools

    return solve_ortools(*args, **kw)


@DISPATCH.register("pyvrp", description="PyVRP hybrid genetic search", available=_has("pyvrp"))
def _pyvrp(*args, **kw):  # type: ignore[no-untyped-def]
    from engine.dispatch.backend_pyvrp import solve_pyvrp

    return solve_pyvrp(*args, **kw)


def _repair(P: DispatchProblem, trips: list[Trip], stats: SolveStats, reasons: dict[int, str]
            ) -> tuple[list[Trip], list[str]]:
    """Drop orders from trips the checker rejects (never trust a solver blindly).

    Each round removes the last order of every trip of an offending courier (a shorter trip
    is never less feasible here); after a few rounds such couriers' trips are dropped whole.
    """
    notes: list[str] = []
    for attempt in range(6):
        res = build_result(P, trips, stats, reasons=reasons)
        issues = check_solution(P, res)
        if not issues:
            return trips, notes
        notes.extend(issues[:3])
        bad = {P.courier_ids.index(c) for c in res.routes["courier"].unique()
               if any(s.startswith((f"courier {c} ", f"courier {c}:")) for s in issues)}
        if attempt == 5 or not bad:
            return [t for t in trips if t.courier not in bad], notes
        trips = [replace(t, orders=t.orders[:-1]) if t.courier in bad else t for t in trips]
    return trips, notes


def dispatch(
    problem: DispatchProblem,
    settings: Settings | None = None,
    *,
    initial: Sequence[Sequence[int]] | None = None,
) -> DispatchResult:
    """Solve one static dispatch problem with the back-end named in ``settings``.

    ``initial`` (optional) is a warm start: for each courier, a sequence of order indices.
    Orders no courier can serve are reported unserved with the reason; a back-end that finds
    nothing returns an all-unserved plan with status ``no_solution`` rather than raising.
    """
    settings = settings or Settings()
    name = settings.backend or DISPATCH.default
    fn = DISPATCH.get(name)
    with stopwatch() as build:
        cand, why = screen(problem)
    reasons = {int(i): str(r) for i, r in enumerate(why) if r}
    with stopwatch() as solve:
        try:
            seqs, status, objective, msg = fn(problem, settings, cand, initial)
        except BackendError:
            raise
        except (ValueError, RuntimeError) as exc:  # a back-end rejecting its own model
            raise BackendError(f"dispatch back-end {name!r} failed: {exc}") from exc
    stats = SolveStats(backend=name, status=status, objective=None, bound=None,
                       build_seconds=build(), solve_seconds=solve(), message=msg)
    trips = trips_from_sequences(problem, seqs)
    trips, notes = _repair(problem, trips, stats, reasons)
    if notes:
        stats = SolveStats(backend=name, status=status, build_seconds=build(), solve_seconds=solve(),
                           message=f"{msg}; repaired: {'; '.join(notes)}")
    res = build_result(problem, trips, stats, reasons=reasons)
    if notes and check_solution(problem, res):  # still wrong after repair: say so, do not hide it
        status = SolveStatus.ERROR
    # planning objective: total cost + expected cost of declined crowd offers
    obj = res.cost["total"] + float(res.meta.get("expected_decline_cost", 0.0))
    final = SolveStats(backend=name, status=status,
                       objective=obj if status.has_solution else None, bound=None,
                       build_seconds=stats.build_seconds, solve_seconds=stats.solve_seconds,
                       message=stats.message)
    return DispatchResult(assignments=res.assignments, routes=res.routes, cost=res.cost, stats=final,
                          problem=problem, meta={**res.meta, "backend_objective": objective,
                                                 "screened_out": int(np.sum(why != ""))})
