"""How late may a PyVRP epoch plan an order that can no longer be on time? The dispatch option
``late_window_min`` on the executed day, side by side with its default (0: up to the hard limit).

    python benchmarks/simulate/late_window.py --instances metro-small olist-sp-city metro-medium \
        --windows 0 10 20 30 --replications 5 --seed 7        # runs, writes results/late_window.csv
    python benchmarks/simulate/late_window.py --render-only  # the RESULTS.md tables from the CSV

Each instance's first planning day with the allocation of ``speed.py`` (every SKU stocked
without limit at every forward warehouse, so every order a forward warehouse covers is a
courier order), executed with ``rolling`` and the instance's dispatch settings plus
``late_window_min = W``; the replications share their seeds across windows, so replication r
of two windows draws the same travel factors, declines and no-shows: differences are paired.
Per replication, over the forward orders: delivered by a courier, on time, moved to the slow
tier (and delivered by the central DC's carrier), and the minutes late of the late deliveries
(mean, p95, max).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RESULTS = HERE / "results" / "late_window.csv"
sys.path.insert(0, str(HERE))


def _code_version() -> str:
    """The commit measured, ``-dirty`` when ``engine/`` differs from it."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("-dirty" if git("status", "--porcelain", "--", "engine") else "")


def measure(instances: list[str], windows: list[float], replications: int, seed: int) -> pd.DataFrame:
    from speed import _day

    from engine.simulate.replicate import execute_day

    rows = []
    for name in instances:
        inst, _day_date, allocated = _day(str(REPO / "instances" / name))
        base = inst.manifest.settings("dispatch")
        for w in windows:
            settings = base.with_(options={**base.options, "late_window_min": float(w)})
            t, cpu = time.perf_counter(), time.process_time()
            res = execute_day(inst, allocated, policy="rolling", settings=settings, replications=replications, seed=seed)
            wall, cpu = time.perf_counter() - t, time.process_time() - cpu
            o = res.outcomes[res.outcomes["source"] == "forward"]
            for r, g in o.groupby("replication"):
                served = g["served_by_plan"].astype(bool)
                late = g.loc[served, "late_min"].to_numpy(float)
                late = late[np.isfinite(late) & (late > 1e-6)]
                rows.append({"instance": name, "window_min": float(w), "replication": int(r), "orders": len(g),
                             "by_courier": int(served.sum()), "on_time": int(g.loc[served, "on_time"].astype(bool).sum()),
                             "slow": int((~served).sum()), "late": len(late),
                             "late_mean_min": float(late.mean()) if len(late) else 0.0,
                             "late_p95_min": float(np.percentile(late, 95)) if len(late) else 0.0,
                             "late_max_min": float(late.max()) if len(late) else 0.0,
                             "run_wall_s": wall, "run_cpu_s": cpu})
            print(f"{name} W={w:g}: {wall:.0f} s", flush=True)
    out = pd.DataFrame(rows)
    out["code"] = _code_version()
    out["date"] = dt.date.today().isoformat()
    out["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
    return out


def render(df: pd.DataFrame) -> str:
    """One table per instance: means over the replications, and on time against W = 0 (paired)."""
    from engine.report.compare import delta_interval

    parts = []
    for name, g in df.groupby("instance", sort=False):
        reps = int(g["replication"].nunique())
        parts.append(f"**{name}** ({int(g['orders'].iloc[0])} forward orders, {reps} replications, seeds shared)\n")
        parts.append(f"Source: `benchmarks/simulate/results/late_window.csv` (rows of {name}) · print it: "
                     "`python benchmarks/simulate/late_window.py --render-only`\n")
        parts.append("| late_window_min | by courier | on time | on time − W=0 (95% CI, paired) | slow tier "
                     "| late deliveries | minutes late: mean | p95 | max | run CPU s |")
        parts.append("|---|---|---|---|---|---|---|---|---|---|")
        base = g[g["window_min"] == 0].sort_values("replication")
        for w, h in g.groupby("window_min", sort=True):
            h = h.sort_values("replication")
            m = h.mean(numeric_only=True)
            if w == 0:
                diff = "–"
            else:
                d, lo, hi = delta_interval(base["on_time"].to_numpy(float), h["on_time"].to_numpy(float), paired=True)
                diff = f"{d:+.1f} [{lo:+.1f}, {hi:+.1f}]" + (" *" if lo > 0 or hi < 0 else "")
            parts.append(f"| {'0 (default)' if w == 0 else f'{w:g}'} | {m['by_courier']:.1f} | {m['on_time']:.1f} | {diff} "
                         f"| {m['slow']:.1f} | {m['late']:.1f} | {m['late_mean_min']:.1f} | {m['late_p95_min']:.1f} "
                         f"| {m['late_max_min']:.1f} | {h['run_cpu_s'].iloc[0]:.1f} |")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", nargs="+", default=["metro-small", "olist-sp-city", "metro-medium"])
    ap.add_argument("--windows", nargs="+", type=float, default=[0, 10, 20, 30])
    ap.add_argument("--replications", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--render-only", action="store_true")
    a = ap.parse_args()
    if not a.render_only:
        df = measure(a.instances, a.windows, a.replications, a.seed)
        out = Path(a.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        df.to_csv(tmp, index=False)
        tmp.replace(out)
    print(render(pd.read_csv(a.out)))


if __name__ == "__main__":
    main()
