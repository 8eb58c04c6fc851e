"""Where one executed replication's time goes: cProfile of ``execute_day`` (rolling, one
replication) on an instance's first day, reduced to the functions that matter.

    python benchmarks/simulate/profile_day.py --instance instances/metro-medium \
        --out benchmarks/simulate/results/profile_metro-medium.csv
    python benchmarks/simulate/profile_day.py --from-dump prof.out --out ...   # from an earlier dump

The allocation is that of ``speed.py`` (ample stock at every forward warehouse). One row per
function: calls, cumulative seconds, share of the replication's profiled wall time. The rows
overlap (a caller's time includes its callees'): read them as a tree, not as a sum.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

import pandas as pd

# (what, file suffix, function name): the tree of one replication, top down
ROWS = (
    ("execute_day: one replication", "engine/simulate/replicate.py", "execute_day"),
    ("  build the day problem (once per execute_day)", "engine/dispatch/day.py", "build_problem"),
    ("  SimPy run", "engine/simulate/execute.py", "run"),
    ("    epoch: the dispatcher's turn", "engine/simulate/execute.py", "epoch"),
    ("      policy.decide (rolling)", "engine/dispatch/policy.py", "decide"),
    ("        epoch_problem (slice + screen)", "engine/dispatch/policy.py", "epoch_problem"),
    ("        dispatch()", "engine/dispatch/solve.py", "dispatch"),
    ("          solve_pyvrp", "engine/dispatch/backend_pyvrp.py", "solve_pyvrp"),
    ("            pyvrp.solve (time-limited search)", "pyvrp/solve.py", "solve"),
    ("              LocalSearch", "pyvrp/search/LocalSearch.py", "__call__"),
    ("            build_model", "engine/dispatch/backend_pyvrp.py", "build_model"),
    ("          _repair (build_result + check_solution of the solve)", "engine/dispatch/solve.py", "_repair"),
    ("      _Execution.check (build_result + check_solution of the trips)", "engine/simulate/execute.py", "check"),
    ("      _Execution.offer", "engine/simulate/execute.py", "offer"),
    ("      _Execution.view", "engine/simulate/execute.py", "view"),
    ("    give_up (orders no courier can still deliver in time)", "engine/simulate/execute.py", "give_up"),
    ("  collect (tables of the day)", "engine/simulate/execute.py", "collect"),
    ("all callers: check_solution (trips and solves)", "engine/dispatch/check.py", "check_solution"),
    ("all callers: build_result (trips and solves)", "engine/dispatch/schedule.py", "build_result"),
)


def reduce(stats: pstats.Stats) -> pd.DataFrame:
    """The functions of ``ROWS`` with their calls and cumulative seconds."""
    found: dict[tuple[str, str], tuple[int, float]] = {}
    for (file, _line, name), (_cc, nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        for _what, suffix, fn in ROWS:
            if name == fn and file.replace("\\", "/").endswith(suffix):
                calls, cum = found.get((suffix, fn), (0, 0.0))
                found[(suffix, fn)] = (calls + nc, cum + ct)
    total = found.get(("engine/simulate/replicate.py", "execute_day"), (1, 1.0))[1]
    rows = []
    for what, suffix, fn in ROWS:
        calls, cum = found.get((suffix, fn), (0, 0.0))
        rows.append({"what": what, "function": f"{suffix}:{fn}", "calls": calls, "cum_s": round(cum, 3),
                     "share": round(cum / total, 4)})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instance", default=str(Path(__file__).resolve().parents[2] / "instances" / "metro-medium"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--from-dump", default=None, help="reduce an existing cProfile dump instead of running")
    ap.add_argument("--dump", default=None, help="also keep the raw cProfile dump here")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    if a.from_dump:
        stats = pstats.Stats(a.from_dump)
    else:
        sys.path.insert(0, str(Path(__file__).parent))
        from speed import _day

        from engine.simulate.replicate import execute_day

        inst, _day_date, allocated = _day(a.instance)
        prof = cProfile.Profile()
        t = time.perf_counter()
        prof.enable()
        execute_day(inst, allocated, policy="rolling", replications=1, seed=a.seed)
        prof.disable()
        print(f"profiled wall {time.perf_counter() - t:.1f} s", file=sys.stderr)
        if a.dump:
            prof.dump_stats(a.dump)
        stats = pstats.Stats(prof)
    df = reduce(stats)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(a.out, index=False)
    print(df.to_string(index=False))


if __name__ == "__main__":
    main()
