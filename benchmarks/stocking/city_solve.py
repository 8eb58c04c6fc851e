"""The stocking solve alone on a generated city, with a longer limit: how far the proven gap goes.

Loads the instance, forecasts its scenarios as `nearstock stock` does (auto: top-down at this
shape), builds the problem, then times ``solve_stocking`` with ``--time-limit`` seconds for the
solver alone (CPU seconds from ``getrusage``; the machine is shared: load recorded). Appends a
row to ``results/city_solve.csv``::

    python benchmarks/stocking/city_solve.py runs/city --time-limit 300 --scenarios 50
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
CSV = HERE / "results" / "city_solve.csv"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    from engine.forecast import forecast
    from engine.instance import load_instance
    from engine.solver import Settings
    from engine.stocking import build_problem, solve_stocking

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("instance", type=Path)
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--scenarios", type=int, default=50)
    a = ap.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE,
                            check=False).stdout.strip()
    load0 = os.getloadavg()[0]
    inst = load_instance(a.instance)
    m = inst.manifest
    fc = forecast(inst.demand, horizon=m.planning.horizon_days, start=m.planning.start_date, events=inst.events,
                  n_scenarios=a.scenarios, settings=m.settings("forecast").with_(seed=m.seed))
    problem = build_problem(inst, fc, scenarios=a.scenarios)
    c0, t0 = _cpu(), time.perf_counter()
    res = solve_stocking(problem, Settings(backend="decomp", time_limit=a.time_limit, seed=m.seed))
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    s = res.stats
    util = res.warehouse_frame()["utilisation"]
    row = {"instance": inst.name, "S": problem.shape[0], "W": problem.shape[1], "Z": problem.shape[2],
           "K": problem.n_scenarios, "forecast": fc.method, "time_limit": a.time_limit, "status": str(s.status),
           "objective": s.objective, "bound": s.bound, "gap": s.gap, "solve_wall_s": round(wall, 1),
           "solve_cpu_s": round(cpu, 1), "full_warehouses": int((util >= 0.99).sum()), "commit": commit,
           "load_before": round(load0, 2), "load_after": round(os.getloadavg()[0], 2),
           "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "message": s.message}
    print(row)
    old = pd.read_csv(CSV) if CSV.exists() else None
    new = pd.DataFrame([row])
    (pd.concat([old, new], ignore_index=True) if old is not None else new).to_csv(CSV, index=False)


if __name__ == "__main__":
    main()
