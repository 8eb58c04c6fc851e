"""The feasibility checker's cost per call: the vectorised ``find_violations`` against the earlier
pandas one (kept in tests/dispatch/reference_check.py), on plans of a few sizes.

    python benchmarks/simulate/checker_speed.py --out benchmarks/simulate/results/checker.csv

Plans: random tiny problems (tests/dispatch/helpers.py) solved by OR-Tools (the size of an
epoch's plan in the execution), and synthetic days (engine.dispatch.study) planned by the
greedy baseline (whole-day plans, one order per trip). Every plan is checked by both (same
violations asserted) and timed as the median of ``--repeat`` calls after one warm-up call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from engine.dispatch import dispatch, find_violations  # noqa: E402
from engine.dispatch.study import greedy_dispatch, synthetic_problem  # noqa: E402
from engine.solver import Settings  # noqa: E402
from tests.dispatch.helpers import tiny_problem  # noqa: E402
from tests.dispatch.reference_check import reference_violations  # noqa: E402

TINY = ((6, 1, 2), (12, 2, 3), (20, 3, 4))  # orders, fleet, crowd: epoch-sized plans
DAYS = ((300, 12, 20), (2000, 40, 60))  # whole synthetic days


def _median_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    rows = []
    plans = []
    for n, fleet, crowd in TINY:
        P = tiny_problem(1, n=n, n_fleet=fleet, n_crowd=crowd)
        plans.append(("epoch-sized, OR-Tools", P, dispatch(P, Settings(backend="ortools", time_limit=0.3, seed=1))))
    for n, fleet, crowd in DAYS:
        P, created = synthetic_problem(1, n_orders=n, n_fleet=fleet, n_crowd=crowd)
        plans.append(("synthetic day, greedy", P, greedy_dispatch(P, created)))
    for kind, P, res in plans:
        n = P.n_orders
        assert find_violations(P, res) == reference_violations(P, res)
        fast = _median_ms(lambda: find_violations(P, res), a.repeat)  # noqa: B023
        ref = _median_ms(lambda: reference_violations(P, res), a.repeat)  # noqa: B023
        rows.append({"plan": kind, "orders": n, "couriers": P.n_couriers, "stops": len(res.routes),
                     "trips": int(res.routes.groupby(["courier", "trip"]).ngroups),
                     "reference_ms": round(ref, 3), "vectorised_ms": round(fast, 3), "speedup": round(ref / fast, 2),
                     "load": os.getloadavg()[0]})
        print(rows[-1], flush=True)
    if a.out:
        pd.DataFrame(rows).to_csv(a.out, index=False)


if __name__ == "__main__":
    main()
