"""Dispatch: assign the orders of a day to fleet and crowdsourced couriers and route them.

Public API::

    DispatchProblem, DispatchResult      static problem / result types
    DISPATCH                             back-end registry ("ortools", "pyvrp")
    build_problem(instance, orders, ...) one static problem from an instance
    dispatch(problem, settings)          solve one static problem
    plan_day(instance, orders, settings) a full day in waves, or rolling re-plans
    check_solution(problem, result)      independent feasibility checker (find_violations: records)
    read_vrptw(path), solve_vrptw_file(path, settings)   Solomon / VRPLIB benchmarks

Multi-warehouse pickup: a courier trip serves the orders of one warehouse. A fleet courier
starts and ends at its own warehouse and makes several trips per shift (one per wave it is
free in); a crowd courier rides from its own place to the warehouse it is given for the wave
(the nearest one with work, spread by pending orders), leaves when every order on board is
ready, and ends at its last delivery. Crowd work is planned on expected cost (pay + the
decline probability × a re-offer cost); declined work is re-offered at the next wave.
Details: :mod:`engine.dispatch.problem` (route shape) and :mod:`engine.dispatch.day` (waves,
rolling re-plans).
"""

from engine.dispatch.build import problem_from_frames
from engine.dispatch.check import PlanCheckError, Violation, check_solution, find_violations
from engine.dispatch.day import (
    R_SOLVE_ERROR,
    build_problem,
    check_day_settings,
    orders_for_day,
    plan_day,
)
from engine.dispatch.problem import DispatchInputError, DispatchProblem
from engine.dispatch.result import DispatchResult
from engine.dispatch.solve import DISPATCH, dispatch
from engine.dispatch.vrptw import read_vrptw, solve_vrptw_file

__all__ = [
    "DISPATCH",
    "DispatchInputError",
    "DispatchProblem",
    "DispatchResult",
    "PlanCheckError",
    "R_SOLVE_ERROR",
    "Violation",
    "build_problem",
    "check_day_settings",
    "check_solution",
    "dispatch",
    "find_violations",
    "orders_for_day",
    "plan_day",
    "problem_from_frames",
    "read_vrptw",
    "solve_vrptw_file",
]
