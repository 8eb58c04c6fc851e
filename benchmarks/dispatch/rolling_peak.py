"""Rolling mode on a live-stream peak vs the greedy nearest-available-courier baseline.

    .venv/bin/python benchmarks/dispatch/rolling_peak.py --orders 2000 --window 120 \
        --fleet 40 --crowd 60 --warehouses 6 --period 1 --backend pyvrp --out benchmarks/dispatch/results/rolling_peak.csv

Same seeded arrivals for every policy. Writes one row per policy (CSV) and, beside it, the
per-re-plan log (``*_replans.csv``), and prints it.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from engine.dispatch import check_solution
from engine.dispatch.day import plan_problem_day
from engine.dispatch.study import greedy_dispatch, service_metrics, synthetic_problem
from engine.io import atomic_write_frame
from engine.solver import Settings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--window", type=float, default=120.0)
    ap.add_argument("--fleet", type=int, default=40)
    ap.add_argument("--crowd", type=int, default=60)
    ap.add_argument("--warehouses", type=int, default=6)
    ap.add_argument("--radius", type=float, default=3.0)
    ap.add_argument("--period", type=float, default=1.0, help="re-plan every N minutes")
    ap.add_argument("--backend", default="pyvrp")
    ap.add_argument("--time-limit", type=float, default=1.2, help="cap per re-plan, seconds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-order", type=float, default=0.005, help="solver seconds per pending order per re-plan")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    P, created = synthetic_problem(a.seed, n_orders=a.orders, window_min=a.window, n_fleet=a.fleet,
                                   n_crowd=a.crowd, n_wh=a.warehouses, radius_km=a.radius)
    rows = []
    t = time.perf_counter()
    g = greedy_dispatch(P, created, seed=a.seed, simulate_declines=True)
    rows.append({"policy": "greedy nearest courier", **service_metrics(g, created),
                 "feasible": not check_solution(g.problem, g), "wall_s": time.perf_counter() - t})
    t = time.perf_counter()
    r = plan_problem_day(P, Settings(backend=a.backend, time_limit=a.time_limit, seed=a.seed), period=a.period,
                         rolling=True, created=created, simulate_declines=True,
                         wave_time_per_order=a.per_order)
    rows.append({"policy": f"rolling {a.backend} every {a.period:g} min", **service_metrics(r, created),
                 "feasible": not check_solution(P, r), "wall_s": time.perf_counter() - t,
                 "replans": r.meta["replans"], "replan_s_mean": r.meta["replan_seconds_mean"],
                 "replan_s_max": r.meta["replan_seconds_max"], "pending_max": r.meta["pending_max"],
                 "declines": r.meta["declines"]})
    log = pd.DataFrame(r.meta["replan_log"])
    upto = log[log["pending"] <= 300]
    rows[-1]["replan_s_max_pending_le_300"] = float(upto["seconds"].max()) if len(upto) else None
    rows[-1]["replan_s_p95"] = float(log["seconds"].quantile(0.95))
    if a.out:
        atomic_write_frame(str(a.out).replace(".csv", "_replans.csv"), log)
    df = pd.DataFrame(rows)
    df.insert(0, "scenario", f"{a.orders} orders/{a.window:g} min, {a.fleet} fleet + {a.crowd} crowd, "
                             f"{a.warehouses} warehouses, seed {a.seed}")
    if a.out:
        atomic_write_frame(a.out, df)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(df.T.to_string())


if __name__ == "__main__":
    main()
