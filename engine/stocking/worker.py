"""Child process that solves a saved :class:`LinearModel` with one MIP solver.

Run as ``python -m engine.stocking.worker BACKEND MODEL.npz OUT.npz TIME_LIMIT MIP_GAP THREADS SEED``.

Why a separate process: highspy and OR-Tools each bundle their own HiGHS build and cannot be
loaded into one Python process (undefined-symbol errors on import), and a child can be stopped
from outside when a solver ignores its time limit. The parent reads only arrays back
(``np.load(allow_pickle=False)``); it never trusts the status written here without checking.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.stocking.model import INF, LinearModel


def _save(out: Path, status: str, objective: float, bound: float, x: np.ndarray, message: str,
          load_s: float, solve_s: float) -> None:
    np.savez(out, status=np.array(status), objective=np.array(objective), bound=np.array(bound),
             x=x, message=np.array(message), times=np.array([load_s, solve_s]))


def solve_highs(m: LinearModel, tl: float, gap: float, threads: int, seed: int) -> tuple:
    import highspy

    t0 = time.perf_counter()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    lp = highspy.HighsLp()
    A = m.A.tocsc()
    lp.num_col_, lp.num_row_ = int(A.shape[1]), int(A.shape[0])
    lp.col_cost_ = m.c
    lp.col_lower_ = m.lb
    lp.col_upper_ = np.where(m.ub >= INF, highspy.kHighsInf, m.ub)
    lp.row_lower_ = np.where(m.row_lb <= -INF, -highspy.kHighsInf, m.row_lb)
    lp.row_upper_ = np.where(m.row_ub >= INF, highspy.kHighsInf, m.row_ub)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr
    lp.a_matrix_.index_ = A.indices
    lp.a_matrix_.value_ = A.data
    lp.sense_ = highspy.ObjSense.kMaximize
    h.passModel(lp)
    ints = np.flatnonzero(m.integer).astype(np.int32)
    if ints.size:
        kinds = np.full(ints.size, highspy.HighsVarType.kInteger.value, dtype=np.uint8)
        h.changeColsIntegrality(int(ints.size), ints, kinds)
    h.setOptionValue("time_limit", float(tl))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("random_seed", int(seed))
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    h.run()
    solve_s = time.perf_counter() - t1
    ms = h.getModelStatus()
    info = h.getInfo()
    has_primal = info.primal_solution_status == 2  # kSolutionStatusFeasible
    name = h.modelStatusToString(ms)
    MS = highspy.HighsModelStatus
    if ms == MS.kOptimal:
        status = "optimal"
    elif ms == MS.kInfeasible:
        status = "infeasible"
    elif ms in (MS.kTimeLimit, MS.kIterationLimit, MS.kSolutionLimit, MS.kInterrupt):
        status = "time_limit" if has_primal else "no_solution"
    else:
        status = "feasible" if has_primal else "error"
    x = np.asarray(h.getSolution().col_value, dtype=float) if has_primal else np.zeros(0)
    obj = float(info.objective_function_value) if has_primal else float("nan")
    if m.integer.any():
        bound = float(info.mip_dual_bound)
    else:
        bound = obj if status == "optimal" else float("nan")
    return status, obj, bound, x, f"HiGHS: {name}", load_s, solve_s


def _write_mps(m: LinearModel, path: Path) -> None:
    """Free-format MPS of min -c.x (CBC and OR-Tools both read it)."""
    A = m.A.tocsc()
    n = A.shape[1]
    col_of = np.repeat(np.arange(n), np.diff(A.indptr))
    # objective entries go first in each column block
    cols = np.concatenate([np.flatnonzero(m.c != 0), col_of])
    rows = np.concatenate([np.full(int((m.c != 0).sum()), -1), A.indices])
    vals = np.concatenate([-m.c[m.c != 0], A.data])
    order = np.argsort(cols, kind="stable")
    cols, rows, vals = cols[order], rows[order], vals[order]
    rname = np.where(rows < 0, "obj", np.char.add("R", rows.astype(str)))
    lines = np.char.add(np.char.add(np.char.add(np.char.add(np.char.add(" C", cols.astype(str)), " "), rname), " "),
                        np.char.mod("%.17g", vals))
    int_cols = np.flatnonzero(m.integer)
    n_int = int_cols.size  # integer columns are the leading block
    split = int(np.searchsorted(cols, n_int))
    out = ["NAME stocking FREE", "ROWS", " N obj"]
    sense = np.where(m.row_lb <= -INF, "L", "G")
    out += list(np.char.add(np.char.add(np.char.add(" ", sense), " R"), np.arange(m.n_rows).astype(str)))
    out.append("COLUMNS")
    if n_int:
        out.append(" MARKER 'MARKER' 'INTORG'")
        out += list(lines[:split])
        out.append(" MARKER 'MARKER' 'INTEND'")
    out += list(lines[split:])
    out.append("RHS")
    rhs = np.where(m.row_lb <= -INF, m.row_ub, m.row_lb)
    nz = np.flatnonzero(rhs != 0)
    out += list(np.char.add(np.char.add(np.char.add(" rhs R", nz.astype(str)), " "), np.char.mod("%.17g", rhs[nz])))
    out.append("BOUNDS")
    ub = m.ub
    fin = np.flatnonzero(ub < INF)
    out += list(np.char.add(np.char.add(np.char.add(" UP bnd C", fin.astype(str)), " "), np.char.mod("%.17g", ub[fin])))
    out.append("ENDATA")
    path.write_text("\n".join(out) + "\n")


def solve_cbc(m: LinearModel, tl: float, gap: float, threads: int, seed: int) -> tuple:
    import pulp

    t0 = time.perf_counter()
    exe = pulp.apis.PULP_CBC_CMD().path
    with tempfile.TemporaryDirectory(prefix="nearstock-cbc-") as tmp:
        mps, sol = Path(tmp) / "m.mps", Path(tmp) / "m.sol"
        _write_mps(m, mps)
        load_s = time.perf_counter() - t0
        cmd = [exe, str(mps), "-timeMode", "elapsed", "-sec", f"{tl:g}", "-ratioGap", f"{gap:g}", "-threads", str(threads),
               "-randomCbcSeed", str(seed + 1), "-solve", "-solu", str(sol)]
        t1 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            log, _ = proc.communicate(timeout=tl + 5)
            killed = ""
        except subprocess.TimeoutExpired:
            # CBC overran its own limit: interrupt (it then writes its incumbent), then kill
            proc.send_signal(signal.SIGINT)
            try:
                log, _ = proc.communicate(timeout=5)
                killed = "CBC ignored its time limit and was interrupted from outside; "
            except subprocess.TimeoutExpired:
                proc.kill()
                log, _ = proc.communicate()
                killed = "CBC ignored its time limit and was killed; "
        solve_s = time.perf_counter() - t1
        if not sol.exists():
            return "no_solution", float("nan"), float("nan"), np.zeros(0), killed + "CBC wrote no solution", load_s, solve_s
        text = sol.read_text().splitlines()
    head = text[0] if text else ""
    x = np.zeros(m.n_cols)
    body = [ln.replace("**", " ").split() for ln in text[1:] if ln.strip()]
    if body:
        idx = np.array([int(b[0]) for b in body])
        val = np.array([float(b[2]) for b in body])
        x[idx] = val
    low = head.lower()
    # CBC writes the LP values with "Stopped on time" when it has no integer solution; its log
    # then shows the 1e50 sentinel as the objective: treat that as no solution at all
    mlog = re.search(r"Objective value:\s+(-?[0-9.eE+-]+)", log)
    no_incumbent = mlog is not None and abs(float(mlog.group(1))) >= 1e40
    if no_incumbent and not low.startswith("optimal"):
        mb = re.search(r"Lower bound:\s+(-?[0-9.eE+-]+)", log)
        bound = -float(mb.group(1)) if mb else float("nan")
        return ("no_solution", float("nan"), bound, np.zeros(0),
                killed + "CBC found no integer solution (its solution file holds LP values)", load_s, solve_s)
    if low.startswith("optimal"):
        status = "optimal"
    elif "infeasible" in low:
        status = "infeasible"
    elif "stopped" in low or killed:
        status = "time_limit" if "no integer" not in low else "no_solution"
    else:
        status = "feasible"
    mo = re.search(r"objective value\s+(-?[0-9.eE+-]+)", head)
    obj = -float(mo.group(1)) if mo and status != "infeasible" else float("nan")
    mb = re.search(r"Lower bound:\s+(-?[0-9.eE+-]+)", log)
    bound = -float(mb.group(1)) if mb else (obj if status == "optimal" else float("nan"))
    if status in ("infeasible", "no_solution"):
        x = np.zeros(0)
    return status, obj, bound, x, killed + f"CBC: {head.strip()}", load_s, solve_s


def solve_scip(m: LinearModel, tl: float, gap: float, threads: int, seed: int) -> tuple:
    from ortools.linear_solver.python import model_builder as mb

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nearstock-scip-") as tmp:
        mps = Path(tmp) / "m.mps"
        _write_mps(m, mps)
        model = mb.Model()
        if not model.import_from_mps_file(str(mps)):
            return "error", float("nan"), float("nan"), np.zeros(0), "OR-Tools could not read the model", 0.0, 0.0
    solver = mb.Solver("scip")
    if not solver.solver_is_supported():
        return "error", float("nan"), float("nan"), np.zeros(0), "SCIP is not available in OR-Tools", 0.0, 0.0
    solver.set_time_limit_in_seconds(float(tl))
    solver.set_solver_specific_parameters(f"limits/gap = {gap:g}\nrandomization/randomseedshift = {seed}")
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    st = solver.solve(model)
    solve_s = time.perf_counter() - t1
    S = mb.SolveStatus
    has = st in (S.OPTIMAL, S.FEASIBLE)
    status = {S.OPTIMAL: "optimal", S.FEASIBLE: "time_limit", S.INFEASIBLE: "infeasible"}.get(st, "no_solution")
    if has:
        x = np.asarray(solver.values(model.get_variables()), dtype=float)
        obj = -float(solver.objective_value)
        bound = -float(solver.best_objective_bound)
    else:
        x, obj, bound = np.zeros(0), float("nan"), float("nan")
    return status, obj, bound, x, f"SCIP: {st.name}", load_s, solve_s


SOLVERS = {"highs": solve_highs, "cbc": solve_cbc, "scip": solve_scip}


def main(argv: list[str]) -> int:
    backend, src, out = argv[0], Path(argv[1]), Path(argv[2])
    tl, gap, threads, seed = float(argv[3]), float(argv[4]), int(argv[5]), int(argv[6])
    m = LinearModel.load(src)
    try:
        res = SOLVERS[backend](m, tl, gap, threads, seed)
    except Exception as exc:  # report solver crashes to the parent as a status
        _save(out, "error", float("nan"), float("nan"), np.zeros(0), f"{backend} failed: {exc}", 0.0, 0.0)
        return 0
    _save(out, *res)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
