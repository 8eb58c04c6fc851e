"""Exact MIP back-ends: build the arrays here, solve in a child process (see ``worker``)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.solver import Settings, SolveStatus
from engine.stocking.model import build_model
from engine.stocking.outcome import Outcome
from engine.stocking.problem import StockingProblem

GRACE_S = 20.0  # beyond the time limit before the child is killed from outside


def run_mip(problem: StockingProblem, settings: Settings, backend: str) -> Outcome:
    """Build the deterministic equivalent and solve it with ``backend`` in a child process."""
    settings.check_options({"relax"}, where=f"stocking back-end {backend}")
    relax = bool(settings.option("relax", False))
    t0 = time.perf_counter()
    model = build_model(problem, relax=relax)
    build_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="nearstock-mip-") as tmp:
        src, out = Path(tmp) / "model.npz", Path(tmp) / "solution.npz"
        model.save(src)
        build_s = time.perf_counter() - t0
        cmd = [sys.executable, "-m", "engine.stocking.worker", backend, str(src), str(out),
               f"{settings.time_limit:g}", f"{settings.mip_gap:g}", str(settings.threads), str(settings.seed)]
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        t1 = time.perf_counter()
        hard = settings.time_limit + GRACE_S + 0.5 * settings.time_limit
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=hard, env=env)
            crashed = proc.returncode != 0
            err = (proc.stderr or "").strip().splitlines()[-1:] if crashed else []
        except subprocess.TimeoutExpired:
            wall = time.perf_counter() - t1
            return Outcome(None, SolveStatus.NO_SOLUTION, None, None, build_s, wall,
                           f"{backend} overran its {settings.time_limit:g} s limit and was stopped from outside after {wall:.0f} s")
        wall = time.perf_counter() - t1
        if crashed or not out.exists():
            return Outcome(None, SolveStatus.ERROR, None, None, build_s, wall,
                           f"{backend} worker failed: {' '.join(err) or 'no output'}")
        with np.load(out, allow_pickle=False) as z:
            status = str(z["status"])
            obj, bound = float(z["objective"]), float(z["bound"])
            x = z["x"]
            message = str(z["message"])
            load_s, solve_s = (float(v) for v in z["times"])
    st = SolveStatus(status)
    units = model.units(x) if x.size == model.n_cols else None
    if units is not None and relax:
        message += " (LP relaxation: plan rounded down)"
    return Outcome(
        units=units,
        status=st,
        objective=obj if np.isfinite(obj) else None,
        bound=bound if np.isfinite(bound) else None,
        build_seconds=build_s + load_s,
        solve_seconds=max(solve_s, 0.0) if solve_s > 0 else wall,
        message=message,
        wall_seconds=wall,
        time_limit=settings.time_limit,
    )
