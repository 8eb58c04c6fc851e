"""Forward stocking: two-stage stochastic MIP over demand scenarios, back-ends and baselines."""

from engine.stocking.evaluate import PlanEvaluation, check_plan, evaluate_plan
from engine.stocking.generate import random_problem
from engine.stocking.problem import StockingProblem
from engine.stocking.result import StockingResult
from engine.stocking.solve import STOCKING, finalize, solve_stocking

__all__ = [
    "STOCKING",
    "PlanEvaluation",
    "StockingProblem",
    "StockingResult",
    "build_problem",
    "check_plan",
    "evaluate_plan",
    "finalize",
    "random_problem",
    "solve_stocking",
]


def build_problem(instance, forecast_result, *, cycle_days=None, scenarios=None, on_hand=None):  # noqa: ANN001, ANN201
    """See :func:`engine.stocking.build.build_problem` (imported lazily: it needs the instance package)."""
    from engine.stocking.build import build_problem as _build

    return _build(instance, forecast_result, cycle_days=cycle_days, scenarios=scenarios, on_hand=on_hand)
