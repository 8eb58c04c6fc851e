"""Back-end registry and :func:`solve_stocking`: run a back-end, then check what it returned.

No status is taken on trust: every plan is rounded only if it is integral within 1e-6
(otherwise it is floored and the status downgraded), checked against capacity, budget,
special storage and the minimum lot (and repaired if needed), and its objective is
re-computed exactly with the optimal second stage. A bound below the exact objective is
dropped as invalid. A back-end without a plan gets the newsvendor plan as a fallback, so a time
limit never ends in a crash or an empty result; the result then says so plainly: ``backend`` is
``newsvendor`` (the plan's author) with the newsvendor plan's status, ``requested_backend`` the
back-end that found nothing, and ``fallback_reason`` its status and message. A bound the failed
back-end did prove is kept: it bounds the optimum, whichever plan is measured against it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from engine.solver import Registry, Settings, SolveStats, SolveStatus, relative_gap
from engine.stocking.evaluate import check_plan, evaluate_plan
from engine.stocking.mip import run_mip
from engine.stocking.outcome import Outcome
from engine.stocking.problem import StockingProblem
from engine.stocking.result import StockingResult
from engine.stocking.rules import days_of_cover, fit_to_limits, newsvendor

log = logging.getLogger(__name__)

Backend = Callable[[StockingProblem, Settings], Outcome]
FALLBACK = "newsvendor"  # the rule whose plan stands in when a back-end returns none
STOCKING: Registry[Backend] = Registry("stocking", default="decomp")
# option names each back-end accepts, declared at registration so that they are checked up front
MIP_OPTIONS = frozenset({"relax"})  # highs, cbc, scip (run_mip checks the same names)
NEWSVENDOR_OPTIONS: frozenset[str] = frozenset()
DAYS_OF_COVER_OPTIONS = frozenset({"cover_days"})


def _has(module: str) -> Callable[[], bool]:
    def probe() -> bool:
        import importlib.util

        return importlib.util.find_spec(module) is not None

    return probe


@STOCKING.register("highs", description="exact MIP, HiGHS (highspy) from arrays", available=_has("highspy"),
                  options=MIP_OPTIONS)
def _highs(problem: StockingProblem, settings: Settings) -> Outcome:
    return run_mip(problem, settings, "highs")


@STOCKING.register("cbc", description="exact MIP, CBC (PuLP's bundled binary) on an MPS file", available=_has("pulp"),
                  options=MIP_OPTIONS)
def _cbc(problem: StockingProblem, settings: Settings) -> Outcome:
    return run_mip(problem, settings, "cbc")


@STOCKING.register("scip", description="exact MIP, SCIP through OR-Tools model_builder", available=_has("ortools"),
                  options=MIP_OPTIONS)
def _scip(problem: StockingProblem, settings: Settings) -> Outcome:
    return run_mip(problem, settings, "scip")


def _rule(name: str, func: Callable[[StockingProblem, Settings], np.ndarray]) -> Backend:
    def run(problem: StockingProblem, settings: Settings) -> Outcome:
        t0 = time.perf_counter()
        q = func(problem, settings)
        return Outcome(q, SolveStatus.FEASIBLE, None, None, 0.0, time.perf_counter() - t0, f"{name} rule")

    return run


def _newsvendor(problem: StockingProblem, settings: Settings) -> np.ndarray:
    settings.check_options(NEWSVENDOR_OPTIONS, where="stocking back-end newsvendor")
    return newsvendor(problem)


def _days_of_cover(problem: StockingProblem, settings: Settings) -> np.ndarray:
    settings.check_options(DAYS_OF_COVER_OPTIONS, where="stocking back-end days_of_cover")
    return days_of_cover(problem, settings.option("cover_days"))


STOCKING.register("newsvendor", description="per-warehouse critical fractile, scaled to capacity",
                  options=NEWSVENDOR_OPTIONS)(
    _rule("newsvendor", _newsvendor)
)
STOCKING.register("days_of_cover", description="mean demand x cover days, scaled to capacity",
                  options=DAYS_OF_COVER_OPTIONS)(
    _rule("days_of_cover", _days_of_cover)
)


def _register_decomp() -> None:
    from engine.stocking.decomp import OPTIONS, solve_decomp

    STOCKING.register("decomp", description="per-SKU decomposition: priced coordinate ascent + Lagrangian bound",
                      options=OPTIONS)(
        solve_decomp
    )


_register_decomp()


def solve_stocking(problem: StockingProblem, settings: Settings | None = None) -> StockingResult:
    """Solve ``problem`` with ``settings.backend`` (default ``decomp``) and check the plan."""
    settings = settings or Settings()
    info = STOCKING.check(settings)  # unknown back-end or option names fail before any work
    outcome = info.func(problem, settings)
    return finalize(problem, outcome, info.name, settings)


def finalize(problem: StockingProblem, out: Outcome, backend: str, settings: Settings) -> StockingResult:
    """Check, repair if needed, evaluate exactly and package a back-end's outcome."""
    notes = list(problem.notes)
    msgs = [out.message] if out.message else []
    status = out.status
    requested: str | None = None
    reason: str | None = None
    if out.units is None:
        q = newsvendor(problem)
        requested, reason = backend, f"{backend} returned no plan ({out.status})"
        if out.message:
            reason += f": {out.message}"
        msgs.append(f"no plan from {backend}: returned the newsvendor plan instead")
        backend, status = FALLBACK, SolveStatus.FEASIBLE
    else:
        q = np.asarray(out.units, dtype=float)
        if not np.all(np.isfinite(q)):
            q = np.nan_to_num(q, nan=0.0, posinf=0.0, neginf=0.0)
            msgs.append("plan had non-finite values (set to 0)")
        dev = float(np.abs(q - np.rint(q)).max(initial=0.0))
        if dev > 1e-6:
            msgs.append(f"plan was fractional (largest deviation {dev:.3g}): floored to integers")
            q = np.floor(q + 1e-6)
            if status == SolveStatus.OPTIMAL:
                status = SolveStatus.FEASIBLE
        else:
            q = np.rint(q)
        q = np.maximum(q, 0.0)
        bad = check_plan(problem, q)
        if bad:
            msgs.append("plan broke constraints (" + "; ".join(bad) + "): repaired")
            q = fit_to_limits(problem, q)
            if status == SolveStatus.OPTIMAL:
                status = SolveStatus.FEASIBLE
    left = check_plan(problem, q)
    if left:  # fit_to_limits always gives a feasible plan; this guards against regressions
        raise AssertionError(f"stocking plan still infeasible after repair: {left}")
    t0 = time.perf_counter()
    expected = evaluate_plan(problem, q)
    eval_s = time.perf_counter() - t0
    obj = expected.profit
    tol = 1e-6 * max(1.0, abs(obj))
    if out.objective is not None and out.units is not None and abs(out.objective - obj) > 1e-4 * max(1.0, abs(obj)):
        msgs.append(f"back-end objective {out.objective:.6g} differs from the exact evaluation {obj:.6g}")
    bound = out.bound
    if bound is not None and bound < obj - tol:
        msgs.append(f"reported bound {bound:.6g} is below the plan's exact value {obj:.6g}: dropped")
        bound = None
    if bound is not None:
        bound = max(bound, obj)
    gap = relative_gap(obj, bound)
    if status == SolveStatus.OPTIMAL and (gap is None or gap > settings.mip_gap + 1e-6):
        msgs.append("back-end said optimal but the gap is not proven within mip_gap")
        status = SolveStatus.FEASIBLE if gap is None else SolveStatus.TIME_LIMIT
    if out.wall_seconds is not None and out.time_limit is not None and out.wall_seconds > 1.2 * out.time_limit + 5:
        msgs.append(f"back-end took {out.wall_seconds:.0f} s against a {out.time_limit:g} s limit")
    stats = SolveStats(
        backend=backend,
        status=status,
        objective=obj,
        bound=bound,
        gap=gap,
        build_seconds=out.build_seconds,
        solve_seconds=out.solve_seconds,
        message="; ".join(m for m in msgs if m),
        requested_backend=requested,
        fallback_reason=reason,
    )
    log.debug("stocking %s: %s (evaluation %.2fs)", backend, stats.status, eval_s)
    return StockingResult(
        units=q.astype(np.int64),
        skus=problem.skus,
        warehouses=problem.warehouses,
        stats=stats,
        expected=expected,
        unit_volume_m3=problem.volume_m3,
        unit_value=problem.unit_value,
        capacity_m3=problem.capacity_m3,
        notes=tuple(notes),
    )
