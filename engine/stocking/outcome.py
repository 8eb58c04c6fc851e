"""What a back-end hands back before the plan is checked and evaluated."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.solver import SolveStatus


@dataclass(frozen=True, slots=True)
class Outcome:
    """Raw back-end output: a plan (maybe fractional or infeasible: it is checked later)."""

    units: np.ndarray | None  # (S, W) as returned by the back-end, None = no plan
    status: SolveStatus  # the back-end's own status, mapped
    objective: float | None  # as the back-end reports it (re-evaluated exactly later)
    bound: float | None  # valid upper bound on the optimal expected profit, if known
    build_seconds: float
    solve_seconds: float
    message: str = ""
    wall_seconds: float | None = None
    time_limit: float | None = None
