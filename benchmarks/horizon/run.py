"""Horizon benchmarks (#16.5, #16.6): stocking policies side by side over weeks, and speed.

policies — the three nightly stocking plans (``stochastic``, ``days_of_cover``, ``mean``) over
the same days, orders, forecasts and seeds (common random numbers), so each day's difference
between two policies is paired:

    python benchmarks/horizon/run.py policies --instance instances/metro-medium --days 14 \\
        --replications 3 --policy greedy --out benchmarks/horizon/results/policies_metro-medium.csv
    python benchmarks/horizon/run.py summary benchmarks/horizon/results/policies_metro-medium.csv

speed — one horizon, stage timings and peak memory (the machine's load average is recorded):

    python benchmarks/horizon/run.py speed --instance instances/metro-medium --days 28 \\
        --policy greedy --workers 2 --out benchmarks/horizon/results/speed_metro-medium.csv
    python benchmarks/horizon/run.py speed-summary benchmarks/horizon/results/speed_metro-medium.csv
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine import load_instance  # noqa: E402
from engine.simulate.horizon import (  # noqa: E402
    STOCKING_POLICIES,
    HorizonSettings,
    horizon_forecasts,
    simulate_horizon,
)

METRICS = ("service_index", "forward_fill_rate", "on_time_rate", "stockout_orders", "inventory_turnover_days",
           "warehouse_utilisation", "cost_per_order")


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _settings(args: argparse.Namespace, stocking: str) -> HorizonSettings:
    inst_st = load_instance(args.instance).manifest.settings("stocking")
    st = inst_st.with_(mip_gap=args.gap, time_limit=args.stocking_time_limit)
    return HorizonSettings(days=args.days, stocking=stocking, seed=args.seed, stocking_settings=st,
                           replications=args.replications, policy=args.policy, workers=args.workers,
                           full_refit_every=args.full_refit_every, check_logs=not args.no_log_check)


def policies(args: argparse.Namespace) -> None:
    code = _commit()
    inst = load_instance(args.instance)
    load0 = os.getloadavg()[0]
    base = _settings(args, "stochastic")
    m = inst.manifest
    t0 = time.perf_counter()
    from engine.pipeline import _stage_settings

    fc_settings = _stage_settings(inst, "forecast", None, m.seed if args.seed is None else args.seed)
    days = [m.planning.start_date + dt.timedelta(days=i) for i in range(args.days)]
    nights = list(horizon_forecasts(inst, days, fc_settings, scenarios=m.planning.scenarios,
                                    full_refit_every=args.full_refit_every))
    fc_s = time.perf_counter() - t0
    print(f"forecasts of {len(days)} nights: {fc_s:.0f} s", flush=True)
    frames, reps = [], []
    for policy in args.stocking.split(","):
        t = time.perf_counter()
        res = simulate_horizon(inst, _with(base, policy), forecasts=nights)
        print(f"{policy}: {time.perf_counter() - t:.0f} s, index {res.kpis['overall']['service_index']:.2f}, "
              f"fill {res.kpis['overall']['forward_fill_rate']:.3f}", flush=True)
        frames.append(res.days.assign(stocking=policy))
        reps.append(res.index_by_replication.assign(stocking=policy))
    out = pd.concat(frames, ignore_index=True)
    rep = pd.concat(reps, ignore_index=True)
    meta = {"instance": inst.name, "days": args.days, "replications": args.replications, "policy": args.policy,
            "log_check": not args.no_log_check,
            "seed": m.seed if args.seed is None else args.seed, "code": code,
            "measured": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"), "load_before": round(load0, 1),
            "load_after": round(os.getloadavg()[0], 1), "machine": f"{platform.machine()} {os.cpu_count()} cores",
            "forecast_seconds": round(fc_s, 1)}
    out = out.assign(**meta)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out, index=False)
    rep.assign(**meta).to_csv(str(args.out).replace(".csv", "_reps.csv"), index=False)
    print(summary_table(out))


def _with(base: HorizonSettings, policy: str) -> HorizonSettings:
    from dataclasses import replace

    return replace(base, stocking=policy)


def _paired(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    d = np.asarray(b, float) - np.asarray(a, float)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return float(d.mean()) if d.size else float("nan"), float("nan"), float("nan")
    half = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)


def summary_table(frame: pd.DataFrame) -> str:
    """Per policy: the horizon's means; then each policy minus stochastic, paired by day (95% t)."""
    pol = list(dict.fromkeys(frame["stocking"]))
    lines = ["| stocking | days | " + " | ".join(METRICS) + " |", "|---|---|" + "---|" * len(METRICS)]
    for p in pol:
        g = frame[frame["stocking"] == p]
        cells = []
        for mtr in METRICS:
            v = g[mtr].astype(float)
            cells.append(f"{v.sum():.0f}" if mtr == "stockout_orders" else f"{v.mean():.3f}")
        lines.append(f"| {p} | {len(g)} | " + " | ".join(cells) + " |")
    if "stochastic" in pol:
        lines += ["", "| B − stochastic, paired by day | " + " | ".join(METRICS) + " |",
                  "|---|" + "---|" * len(METRICS)]
        a = frame[frame["stocking"] == "stochastic"].sort_values("date")
        for p in pol:
            if p == "stochastic":
                continue
            b = frame[frame["stocking"] == p].sort_values("date")
            cells = []
            for mtr in METRICS:
                mean, lo, hi = _paired(a[mtr].to_numpy(float), b[mtr].to_numpy(float))
                cells.append(f"{mean:+.3f} [{lo:+.3f}, {hi:+.3f}]")
            lines.append(f"| {p} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def speed(args: argparse.Namespace) -> None:
    code = _commit()  # the code this process runs (HEAD may move while it does)
    inst = load_instance(args.instance)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    res = simulate_horizon(inst, _settings(args, args.stocking.split(",")[0]),
                           progress=lambda i, d, s: print(f"day {i + 1} {d} {s} {time.perf_counter() - t0:.0f} s",
                                                          flush=True) if s == "quality" else None)
    wall = time.perf_counter() - t0
    cpu = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    t = res.timings
    row = {"instance": inst.name, "days": args.days, "stocking": res.settings.stocking, "policy": args.policy,
           "replications": args.replications, "workers": args.workers, "full_refit_every": args.full_refit_every,
           "log_check": not args.no_log_check,
           "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), **{f"{k}_s": round(v, 1) for k, v in t.items() if k != "total"},
           "per_day_s": round(wall / args.days, 1), "peak_rss_mb": round(res.peak_memory_mb, 0),
           "service_index": round(res.kpis["overall"]["service_index"], 2),
           "load_before": round(load0, 1), "load_after": round(os.getloadavg()[0], 1),
           "machine": f"{platform.machine()} {os.cpu_count()} cores", "code": code,
           "measured": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    old = pd.read_csv(out) if out.exists() and args.append else None
    frame = pd.concat([old, pd.DataFrame([row])], ignore_index=True) if old is not None else pd.DataFrame([row])
    frame.to_csv(out, index=False)
    print(speed_table(frame))


def speed_table(frame: pd.DataFrame) -> str:
    cols = ["instance", "days", "stocking", "policy", "replications", "workers", "log_check", "wall_s", "cpu_s",
            "forecast_s",
            "stocking_s", "allocate_s", "execute_s", "quality_s", "per_day_s", "peak_rss_mb", "load_before",
            "load_after", "code"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    frame = frame.reindex(columns=cols)
    for r in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in r) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("policies", "speed"):
        p = sub.add_parser(name)
        p.add_argument("--instance", default=str(ROOT / "instances" / "metro-medium"))
        p.add_argument("--days", type=int, default=14)
        p.add_argument("--replications", type=int, default=3 if name == "policies" else 1)
        p.add_argument("--policy", default="greedy")
        p.add_argument("--stocking", default=",".join(STOCKING_POLICIES))
        p.add_argument("--gap", type=float, default=1e-3)
        p.add_argument("--stocking-time-limit", type=float, default=10.0)
        p.add_argument("--full-refit-every", type=int, default=7)
        p.add_argument("--workers", type=int, default=1)
        p.add_argument("--seed", type=int, default=None)
        p.add_argument("--append", action="store_true")
        p.add_argument("--no-log-check", action="store_true", help="skip the executed-log checker")
        p.add_argument("--out", required=True)
    s = sub.add_parser("summary")
    s.add_argument("file")
    s2 = sub.add_parser("speed-summary")
    s2.add_argument("file")
    args = ap.parse_args()
    if args.cmd == "policies":
        policies(args)
    elif args.cmd == "speed":
        speed(args)
    elif args.cmd == "summary":
        print(summary_table(pd.read_csv(args.file)))
    else:
        print(speed_table(pd.read_csv(args.file)))


if __name__ == "__main__":
    main()
