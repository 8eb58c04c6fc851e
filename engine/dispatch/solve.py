"""The back-end registry and :func:`dispatch`, the one entry point for a static problem."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from engine.dispatch.backend_ortools import OPTIONS as ORTOOLS_OPTIONS
from engine.dispatch.backend_pyvrp import OPTIONS as PYVRP_OPTIONS
from engine.dispatch.check import check_solution
from engine.dispatch.problem import DispatchProblem
from engine.dispatch.result import DispatchResult
from engine.dispatch.schedule import R_REACH, Trip, build_result, screen, trips_from_sequences
from engine.errors import BackendError
from engine.solver import Registry, Settings, SolveStats, SolveStatus, stopwatch

BackendFn = Callable[..., tuple[list[list[int]], SolveStatus, float | None, str]]

DISPATCH: Registry[BackendFn] = Registry("dispatch", default="pyvrp")


def _has(mod: str) -> Callable[[], bool]:
    return lambda: importlib.util.find_spec(mod) is not None


# the option names are declared here so that they are checked before any stage runs (the
# back-end modules are light to import; the solver libraries load only when a solve starts)
@DISPATCH.register("ortools", description="OR-Tools RoutingModel, cheapest insertion + guided local search",
                   available=_has("ortools"), options=ORTOOLS_OPTIONS)
def _ortools(*args, **kw):  # type: ignore[no-untyped-def]
    from engine.dispatch.backend_ortools import solve_ortools

    return solve_ortools(*args, **kw)


@DISPATCH.register("pyvrp", description="PyVRP iterated local search + route recombination", available=_has("pyvrp"),
                   options=PYVRP_OPTIONS)
def _pyvrp(*args, **kw):  # type: ignore[no-untyped-def]
    from engine.dispatch.backend_pyvrp import solve_pyvrp

    return solve_pyvrp(*args, **kw)


def _repair(P: DispatchProblem, trips: list[Trip], stats: SolveStats, reasons: dict[int, str]
            ) -> tuple[list[Trip], list[str], DispatchResult | None]:
    """Drop orders from trips the checker rejects (never trust a solver blindly).

    Each round removes the last order of every trip of an offending courier (a shorter trip
    is never less feasible here); after a few rounds such couriers' trips are dropped whole.
    """
    notes: list[str] = []
    for attempt in range(6):
        res = build_result(P, trips, stats, reasons=reasons)
        issues = check_solution(P, res)
        if not issues:
            return trips, notes, res
        notes.extend(issues[:3])
        bad = {P.courier_ids.index(c) for c in res.routes["courier"].unique()
               if any(s.startswith((f"courier {c} ", f"courier {c}:")) for s in issues)}
        if attempt == 5 or not bad:
            return [t for t in trips if t.courier not in bad], notes, None
        trips = [replace(t, orders=t.orders[:-1]) if t.courier in bad else t for t in trips]
    return trips, notes, None


# first-solution strategies tried side by side when OR-Tools gets several threads
_ORTOOLS_PORTFOLIO = ("LOCAL_CHEAPEST_INSERTION", "PARALLEL_CHEAPEST_INSERTION", "SAVINGS",
                      "LOCAL_CHEAPEST_COST_INSERTION")


def _member(name: str, settings: Settings, i: int) -> Settings:
    """Settings of portfolio member ``i``: another seed (PyVRP) or first-solution strategy (OR-Tools).

    (Tried on the 56 Solomon instances at 10 s: giving PyVRP's second member a longer
    late-acceptance history instead of only another seed made no measurable difference,
    0.139% against 0.134% mean gap, so the members differ by seed alone.)
    """
    s = settings.with_(threads=1, seed=settings.seed + i)
    if name == "ortools" and "first_solution" not in settings.options:
        s = s.with_(options={**settings.options, "first_solution": _ORTOOLS_PORTFOLIO[i % len(_ORTOOLS_PORTFOLIO)]})
    return s


def _call(name: str, problem: DispatchProblem, settings: Settings, cand: np.ndarray,
          initial: Sequence[Sequence[int]] | None, deadline: float | None = None,
          ) -> tuple[list[list[int]], SolveStatus, float | None, str]:
    if deadline is not None:  # a spawned member: its start-up counts against the time limit
        settings = settings.with_(time_limit=max(deadline - time.time(), 0.05 * settings.time_limit))
    return DISPATCH.get(name)(problem, settings, cand, initial)


def _portfolio(name: str, problem: DispatchProblem, settings: Settings, cand: np.ndarray,
               initial: Sequence[Sequence[int]] | None, reasons: dict[int, str]
               ) -> tuple[list[list[int]], SolveStatus, float | None, str]:
    """``settings.threads`` independent runs; the cheapest plan (own evaluation) wins.

    Member 0 runs here, the others in spawned processes whose start-up is taken out of
    their time limit, so the whole portfolio ends about ``time_limit`` after it starts.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    k = settings.threads
    deadline = time.time() + settings.time_limit
    ctx = multiprocessing.get_context("spawn")  # never fork a process that holds solver threads
    with ProcessPoolExecutor(max_workers=k - 1, mp_context=ctx) as ex:
        futs = [ex.submit(_call, name, problem, _member(name, settings, i), cand, initial, deadline)
                for i in range(1, k)]
        outs = [_call(name, problem, _member(name, settings, 0), cand, initial)]
        outs += [f.result() for f in futs]
    probe = SolveStats(backend=name, status=SolveStatus.FEASIBLE)

    def cost(out: tuple[list[list[int]], SolveStatus, float | None, str]) -> float:
        if not out[1].has_solution:
            return float("inf")
        r = build_result(problem, trips_from_sequences(problem, out[0]), probe, reasons=reasons)
        return r.cost["total"] + float(r.meta.get("expected_decline_cost", 0.0))

    costs = [cost(o) for o in outs]
    best = int(np.argmin(costs))
    seqs, status, objective, msg = outs[best]
    return seqs, status, objective, f"{msg}; best of {k} runs (member {best}, costs {[round(c, 2) for c in costs]})"


def _pick_warehouses(P: DispatchProblem) -> tuple[DispatchProblem, str]:
    """Give couriers with no warehouse (-1, "any": a day-level problem) one for this solve.

    The back-ends route each courier from one warehouse, so a static solve picks it the way
    day planning does at every epoch: the nearest warehouse with orders that the courier can
    reach before its shift ends, about one courier per two pending orders of a warehouse.
    Couriers that reach none keep -1 and get no orders.
    """
    free = np.flatnonzero(P.courier_warehouse < 0)
    if len(free) == 0 or P.n_orders == 0 or len(P.warehouse_ids) == 0:
        return P, ""
    from engine.dispatch.build import assign_crowd_warehouses

    pending = np.bincount(P.order_wh, minlength=len(P.warehouse_ids)).astype(float)
    reach = P.time_min[P.courier_profile[free][:, None], P.start_loc[free][:, None], P.warehouse_loc[None, :]]
    wh = P.courier_warehouse.copy()
    wh[free] = assign_crowd_warehouses(reach, P.start_min[free], P.work_end[free], pending)
    got = int((wh[free] >= 0).sum())
    return replace(P, courier_warehouse=wh), (f"{got} of {len(free)} couriers without a warehouse were given "
                                              "the nearest one with orders")


def dispatch(
    problem: DispatchProblem,
    settings: Settings | None = None,
    *,
    initial: Sequence[Sequence[int]] | None = None,
) -> DispatchResult:
    """Solve one static dispatch problem with the back-end named in ``settings``.

    ``initial`` (optional) is a warm start: for each courier, a sequence of order indices.
    With ``settings.threads > 1`` the back-end runs that many times in parallel processes
    (PyVRP: other seeds; OR-Tools: other first-solution strategies) and the cheapest plan wins;
    one runs in this process and the others in spawned processes, whose start-up (a second or
    two) is taken out of their time limit, so the call still ends about ``time_limit`` after it
    starts (scripts need the usual ``if __name__ == "__main__":`` guard).
    Orders no courier can serve are reported unserved with the reason; a back-end that finds
    nothing returns an all-unserved plan with status ``no_solution`` rather than raising.
    """
    settings = settings or Settings()
    name = settings.backend or DISPATCH.default
    fn = DISPATCH.check(settings).func  # unknown back-end or option names fail before any work
    with stopwatch() as build:
        problem, picked = _pick_warehouses(problem)
        cand, why = screen(problem)
        idle = problem.courier_warehouse < 0  # still none: no orders for them in this solve
        if idle.any() and len(cand):
            cand[:, idle] = False
            why = np.where((why == "") & ~cand.any(axis=1), R_REACH, why)
    reasons = {int(i): str(r) for i, r in enumerate(why) if r}
    with stopwatch() as solve:
        try:
            if settings.threads > 1 and name in ("ortools", "pyvrp"):
                seqs, status, objective, msg = _portfolio(name, problem, settings, cand, initial, reasons)
            else:
                seqs, status, objective, msg = fn(problem, settings, cand, initial)
        except BackendError:
            raise
        except (ValueError, RuntimeError) as exc:  # a back-end rejecting its own model
            raise BackendError(f"dispatch back-end {name!r} failed: {exc}") from exc
    if picked:
        msg = f"{msg}; {picked}"
    stats = SolveStats(backend=name, status=status, objective=None, bound=None,
                       build_seconds=build(), solve_seconds=solve(), message=msg)
    trips = trips_from_sequences(problem, seqs)
    if trips:
        trips, notes, res = _repair(problem, trips, stats, reasons)
    else:  # nothing planned: the all-unserved plan needs no repair
        notes, res = [], None
    if notes:
        stats = SolveStats(backend=name, status=status, build_seconds=build(), solve_seconds=solve(),
                           message=f"{msg}; repaired: {'; '.join(notes)}")
    if res is None or notes:
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
