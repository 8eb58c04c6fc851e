"""Tune the ``matching`` policy's knobs on MDRP instances: one row per (configuration, instance).

    python benchmarks/dispatch/mdrp_tune.py --out benchmarks/dispatch/results/mdrp_tune.csv \\
        --instances 0o100t100s1p100,1o100t100s1p100,6o100t100s1p100 \\
        --config '{}' --config '{"busy_weight": 0.5}' ... [--jobs 2]

Each configuration is a JSON object of ``MatchingPolicy`` fields (``engine.bench.mdrp.MATCHING_KNOBS``),
``{}`` being the defaults. Rows already in ``--out`` (same configuration and instance) are skipped,
so a tuning session can be resumed; new rows are appended (the file is rewritten atomically).
Print the comparison with ``--show`` (``--against-first [--watch INSTANCE]``: each configuration
instance by instance against the first one in the file).
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "courier" / "mdrp"
KEEP = ("instance", "delivered", "orders", "click_to_door_mean", "lower_bound_mean", "within_target_when_possible",
        "orders_per_trip", "pay_per_order", "replan_s_p95")


def one(job: tuple[str, str]) -> dict[str, object]:
    sys.path.insert(0, str(REPO))
    from engine.bench.mdrp import read_mdrp, run_mdrp
    from engine.solver import Settings

    config, name = job
    row = run_mdrp(read_mdrp(DATA / name), "matching", period=2.0,
                   settings=Settings(backend="pyvrp", time_limit=1.0, options=json.loads(config))).row
    return {"config": config, **{k: row[k] for k in KEEP}}


def show(df: pd.DataFrame) -> str:
    """One markdown row per configuration, in the order first tried."""
    df = df.assign(ratio=df["click_to_door_mean"] / df["lower_bound_mean"],
                   undelivered=df["orders"] - df["delivered"])
    head = ("| configuration (changes from the defaults) | instances | undelivered | mean / bound: mean | max "
            "| ≤ 40 of bound ≤ 40: min | orders / trip: mean |")
    rows = [head, "|---|" + "---:|" * 6]
    for config, g in df.groupby("config", sort=False):
        rows.append(f"| `{config}` | {len(g)} | {int(g['undelivered'].sum())} | {g['ratio'].mean():.3f} "
                    f"| {g['ratio'].max():.3f} | {g['within_target_when_possible'].min():.1%} "
                    f"| {g['orders_per_trip'].mean():.2f} |")
    return "\n".join(rows)


def against_first(df: pd.DataFrame, watch: str = "") -> str:
    """Each configuration against the first one tried, instance by instance: orders delivered more,
    click-to-door minutes more (mean and max over the instances, and on how many it is worse),
    and the orders delivered on the ``watch`` instance."""
    configs = list(dict.fromkeys(df["config"]))
    base = df[df["config"] == configs[0]].set_index("instance")
    head = ("| configuration | instances | orders delivered more | click-to-door more: mean | max | worse on "
            + (f"| delivered on {watch} |" if watch else "|"))
    rows = [head, "|---|" + "---:|" * (5 + bool(watch))]
    for c in configs:
        x = df[df["config"] == c].set_index("instance")
        common = x.index.intersection(base.index)
        dd = x.loc[common, "delivered"] - base.loc[common, "delivered"]
        dc = x.loc[common, "click_to_door_mean"] - base.loc[common, "click_to_door_mean"]
        tail = f" {int(x.at[watch, 'delivered'])} of {int(x.at[watch, 'orders'])} |" if watch else ""
        rows.append(f"| `{c}` | {len(common)} | {int(dd.sum()):+d} | {dc.mean():+.2f} | {dc.max():+.2f} "
                    f"| {int((dc > 1e-9).sum())} |{tail}")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--instances", default="")
    ap.add_argument("--config", action="append", default=[])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--show", action="store_true")
    ap.add_argument("--against-first", action="store_true", help="with --show: each configuration against the first")
    ap.add_argument("--watch", default="", help="with --against-first: an instance whose deliveries get a column")
    a = ap.parse_args()
    old = pd.read_csv(a.out) if a.out.is_file() else pd.DataFrame(columns=["config", *KEEP])
    done = set(zip(old["config"], old["instance"], strict=True))
    configs = [json.dumps(json.loads(c), sort_keys=True) for c in a.config]
    jobs = [(c, i) for c in configs for i in a.instances.split(",") if i and (c, i) not in done]
    if jobs:
        with ProcessPoolExecutor(a.jobs) as ex:
            rows = list(ex.map(one, jobs))
        new = pd.concat([old, pd.DataFrame(rows)], ignore_index=True)
        tmp = a.out.with_name(f".{a.out.name}.tmp")
        new.to_csv(tmp, index=False)
        tmp.replace(a.out)
        old = new
    if a.show or not jobs:
        sel = old[old["config"].isin(configs)] if configs else old
        print(against_first(sel, a.watch) if a.against_first else show(sel))


if __name__ == "__main__":
    main()
