"""Dispatch policies side by side on the executed day: greedy vs rolling (and more).

For each instance and policy, ``nearstock run``'s chain (the instance's own forecast, stocking
and dispatch settings) executes the day R times with one seed; the per-replication indicator
values go to ``results/policies.csv``. Because the execution draws common random numbers per
order and courier, replication r of two policies shares its luck, so the table reports the
**paired** difference and its 95% Student-t interval.

    python benchmarks/simulate/policies.py --instances metro-small olist-sp-city --policies greedy rolling \
        --replications 5 --seed 7          # runs, writes results/policies.csv, prints the table
    python benchmarks/simulate/policies.py --render-only      # the table from the committed CSV
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RESULTS = HERE / "results" / "policies.csv"
SHOWN = ("instant_delivery_rate", "on_time_rate", "peak_assignment_p95_min", "eta_error_p90_min",
         "tracking_complete_rate", "returns_tracked_rate", "damage_loss_rate", "special_goods_on_time")


def measure(instances: list[str], policies: list[str], replications: int, seed: int) -> pd.DataFrame:
    from engine import RunSettings, load_instance, run

    rows = []
    for name in instances:
        inst = load_instance(REPO / "instances" / name)
        for policy in policies:
            t = time.perf_counter()
            res = run(inst, RunSettings(policy=policy, replications=replications, seed=seed))
            wall = time.perf_counter() - t
            per = res.scorecard.per_replication
            eff = res.scorecard.efficiency
            for r in per.itertuples(index=False):
                rows.append({"instance": name, "policy": policy, "replication": int(r.replication),
                             "indicator": r.indicator, "value": float(r.value)})
            rows.append({"instance": name, "policy": policy, "replication": -1, "indicator": "cost_per_order",
                         "value": float(eff["cost_per_order"])})
            rows.append({"instance": name, "policy": policy, "replication": -1, "indicator": "wall_seconds",
                         "value": wall})
            rows.append({"instance": name, "policy": policy, "replication": -1, "indicator": "service_quality_index",
                         "value": float(res.scorecard.index)})
            print(f"{name} {policy}: index {res.scorecard.index:.1f}, {wall:.0f} s", flush=True)
    out = pd.DataFrame(rows)
    out.attrs["meta"] = {"date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                         "seed": seed, "replications": replications}
    return out


def render(df: pd.DataFrame, base: str = "greedy") -> str:
    from engine.quality.indicators import INDICATOR_BY_NAME
    from engine.report.compare import delta_interval

    lines = []
    for name, g in df.groupby("instance", sort=False):
        pols = list(dict.fromkeys(g["policy"]))
        others = [p for p in pols if p != base]
        cols = [base, *others]  # the header's order, whatever order the file's rows are in
        head = f"| indicator | {base} | " + " | ".join(others) + " | " + " | ".join(f"{p} − {base} (95% CI, paired)" for p in others) + " |"
        lines += [f"**{name}** ({int(g.loc[g['replication'] >= 0, 'replication'].nunique())} replications, seed shared)", "",
                  f"Source: `benchmarks/simulate/results/policies.csv` (rows of {name}), printed by "
                  "`python benchmarks/simulate/policies.py --render-only`.", "",
                  head, "|" + "---|" * (1 + len(pols) + len(others))]
        for ind in SHOWN:
            share = INDICATOR_BY_NAME[ind].unit == "share"
            fmt = (lambda x: f"{100 * x:.1f}%") if share else (lambda x: f"{x:.1f}")
            dfmt = (lambda x: f"{100 * x:+.1f}") if share else (lambda x: f"{x:+.1f}")
            vals = {p: g[(g["policy"] == p) & (g["indicator"] == ind)].sort_values("replication")["value"].to_numpy(float)
                    for p in pols}
            cells = [fmt(np.nanmean(vals[p])) if np.isfinite(vals[p]).any() else "–" for p in cols]
            diffs = []
            for p in others:
                m, lo, hi = delta_interval(vals[base], vals[p], paired=len(vals[base]) == len(vals[p]))
                diffs.append("–" if not np.isfinite(m) else f"{dfmt(m)} [{dfmt(lo)}, {dfmt(hi)}]"
                             + (" *" if np.isfinite(lo) and (lo > 0 or hi < 0) else ""))
            unit = " (pp)" if share else " (min)"
            lines.append(f"| {INDICATOR_BY_NAME[ind].label}{unit if others else ''} | " + " | ".join(cells) + " | "
                         + " | ".join(diffs) + " |")
        for metric in ("service_quality_index", "cost_per_order", "wall_seconds"):
            cells = []
            for p in cols:
                v = g[(g["policy"] == p) & (g["indicator"] == metric)]["value"]
                cells.append(f"{float(v.iloc[0]):.2f}" if len(v) else "–")
            lines.append(f"| {metric.replace('_', ' ')} | " + " | ".join(cells) + " | " + " | ".join("" for _ in others) + " |")
        lines.append("")
    lines.append("`*`: the paired 95% interval excludes zero. pp = percentage points.")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", nargs="+", default=["metro-small", "olist-sp-city"])
    ap.add_argument("--policies", nargs="+", default=["greedy", "rolling"])
    ap.add_argument("--replications", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--render-only", action="store_true")
    a = ap.parse_args()
    if not a.render_only:
        df = measure(a.instances, a.policies, a.replications, a.seed)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        tmp = RESULTS.with_suffix(".tmp")
        df.to_csv(tmp, index=False, lineterminator="\n")
        tmp.replace(RESULTS)
    print(render(pd.read_csv(RESULTS)))


if __name__ == "__main__":
    main()
