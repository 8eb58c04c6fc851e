"""Write benchmarks/experiments/RESULTS.md from the experiments' result stores.

    nearstock bench run benchmarks/experiments/solomon-strategies-quick.toml
    nearstock bench run benchmarks/experiments/stocking-backends.toml
    python benchmarks/experiments/results.py

Each table quotes, per configuration, medians over runs and the objective's ratio against the
experiment's baseline configuration (geometric mean over paired runs), side by side.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from engine.bench import SENSE, ResultStore, load_experiment, summarise
from engine.solver import relative_gap

HERE = Path(__file__).resolve().parent


def machine() -> str:
    cpu = ""
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    mem = ""
    try:
        kb = int(next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")))
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores{mem}; Python {platform.python_version()}; {platform.platform()}"


def ratio_vs_baseline(runs: pd.DataFrame, baseline: str) -> dict[str, float]:
    ok = runs[runs["state"] == "ok"]
    base = ok[ok["config"] == baseline].set_index(["instance", "repetition"])["objective"]
    out = {}
    for cfg, g in ok.groupby("config"):
        both = pd.concat([g.set_index(["instance", "repetition"])["objective"].rename("c"), base.rename("b")],
                         axis=1, join="inner").dropna()
        both = both[(both["b"] > 0) & (both["c"] > 0)]
        out[cfg] = float(np.exp(np.log(both["c"] / both["b"]).mean())) if len(both) else float("nan")
    return out


def table(exp_path: Path) -> str:
    exp = load_experiment(exp_path)
    if not exp.db_path.is_file():
        return f"## {exp.name}\n\nNot run yet: `nearstock bench run {exp_path.relative_to(HERE.parent.parent)}`.\n"
    with ResultStore(exp.db_path) as store:
        runs = store.frame()
    if exp.kind != "vrptw":  # proven gaps under the current definition (engine.solver.relative_gap)
        runs["gap"] = [relative_gap(o, b) if b == b and o == o else None for o, b in zip(runs["objective"], runs["bound"], strict=True)]
        runs["gap"] = pd.to_numeric(runs["gap"])
    kpis = ["feasible", "vehicles"] if exp.kind == "vrptw" else []
    s = summarise(runs, sense=SENSE[exp.kind], baseline=exp.baseline, kpis=kpis)
    ratio = ratio_vs_baseline(runs, exp.baseline) if exp.baseline else {}
    when = runs["finished"].max()
    lines = [f"## {exp.name}", "", exp.description, "",
             f"{len(runs)} runs over {runs['instance'].nunique()} instances, finished {when}. "
             f"Objective is {'minimised' if SENSE[exp.kind] == 'min' else 'maximised'}; "
             f"ratio = geometric mean over paired runs of objective / objective of `{exp.baseline}`. "
             + ("Gap: against the best known solution (distance, arcs truncated to one decimal)." if exp.kind == "vrptw"
                else "Gap: proven, against the back-end's own bound (none for rules)."), "",
             "| config | runs | ok | failed | median gap | mean gap | max gap | median s | ratio vs baseline | W/T/L |"
             + (" feasible | vehicles |" if exp.kind == "vrptw" else ""),
             "|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if exp.kind == "vrptw" else "")]
    def pct(v: float) -> str:
        return "–" if v != v else f"{100 * v:.2f}%"
    for r in s.itertuples(index=False):
        row = (f"| `{r.config}` | {r.runs} | {r.ok} | {r.error + r.timeout} | {pct(r.gap_median)} | {pct(r.gap_mean)} | "
               f"{pct(r.gap_max)} | {r.seconds_median:.2f} | {ratio.get(r.config, float('nan')):.4f} | "
               f"{getattr(r, 'wins', '–')}/{getattr(r, 'ties', '–')}/{getattr(r, 'losses', '–')} |")
        if exp.kind == "vrptw":
            row += f" {r.feasible_mean:.0%} | {r.vehicles_mean:.1f} |"
        lines.append(row)
    if exp.kind != "vrptw":  # few instances of different sizes: show every run
        lines += ["", "| instance | config | status | objective | gap | seconds |", "|---|---|---|---|---|---|"]
        for r in runs.sort_values(["instance", "config"]).itertuples(index=False):
            gap = "–" if r.gap != r.gap or r.gap is None else f"{100 * r.gap:.3f}%"
            lines.append(f"| `{r.instance}` | `{r.config}` | {r.status} | {r.objective:,.1f} | {gap} | {r.wall_seconds:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    files = sorted(HERE.glob("*.toml"))
    body = "\n".join(table(f) for f in files)
    head = (f"# Solver-settings experiments\n\nMachine: {machine()}. Written {dt.date.today().isoformat()} by "
            f"`python benchmarks/experiments/results.py`. Each run is an isolated process (`nearstock bench run`); "
            f"times are the solve as the back-end reports it. The quick and stocking experiments ran one run at a time while other work shared the machine (time-limited heuristics find less on a busy machine, so those gaps are, if anything, pessimistic); "
            f"solomon-10s ran on a quiet machine two runs at a time (one core each; `ortools-tuned-10s` was added later under the same conditions, `pyvrp-10s` predates the removal of an unused depot from the PyVRP model; `pyvrp-recombine-10s` was added later under the same conditions, and `pyvrp-2c-recombine` to solomon-10s-2cores; configurations without options stored before then ran PyVRP without route recombination), "
            f"solomon-10s-2cores one run at a time on both cores (`threads = 2`).\n\n")
    (HERE / "RESULTS.md").write_text(head + body)
    print((HERE / "RESULTS.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
