"""Write benchmarks/experiments/RESULTS.md from the experiments' committed exports.

    nearstock bench run benchmarks/experiments/solomon-strategies-quick.toml
    nearstock bench export benchmarks/experiments/solomon-strategies-quick.toml \
        benchmarks/experiments/results/solomon-strategies-quick.csv
    python benchmarks/experiments/results.py

Every table comes from ``results/<experiment file stem>.csv`` (one row per run, as ``nearstock
bench export`` writes it), never from the SQLite stores, which are gitignored working files.
Each table quotes, per configuration, medians over runs and the objective's ratio against the
experiment's baseline configuration (geometric mean over paired runs), side by side. VRPTW gaps
are to the best known solution (BKS, a reference, not a bound); stocking gaps are proven gaps to
the back-end's own bound.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from engine.bench import SENSE, load_experiment, summarise
from engine.solver import relative_gap

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
ROOT = HERE.parent.parent
COMMAND = "python benchmarks/experiments/results.py"


def export_path(exp_path: Path, results: Path = RESULTS) -> Path:
    return results / f"{exp_path.stem}.csv"


def _rel(p: Path) -> Path:
    p = p.resolve()
    return p.relative_to(ROOT) if p.is_relative_to(ROOT) else p


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


def table(exp_path: Path, results: Path = RESULTS) -> str:
    """The RESULTS.md section of one experiment, from its committed export in ``results``."""
    exp = load_experiment(exp_path)
    rel = _rel(exp_path)
    src = export_path(exp_path, results)
    if not src.is_file():
        return (f"## {exp.name}\n\n{exp.description}\n\nNo committed rows (`{_rel(src)}` does not exist), "
                f"so no numbers. To make this table: `nearstock bench run {rel}`, then "
                f"`nearstock bench export {rel} {_rel(src)}`, then `{COMMAND}`.\n")
    runs = pd.read_csv(src)
    if exp.kind != "vrptw":  # proven gaps under the current definition (engine.solver.relative_gap)
        runs["gap"] = pd.to_numeric(pd.Series(
            [relative_gap(o, b) if b == b and o == o else None for o, b in zip(runs["objective"], runs["bound"],
                                                                               strict=True)], dtype=object))
    kpis = ["feasible", "vehicles"] if exp.kind == "vrptw" else []
    if exp.kind == "vrptw":
        runs["kpi_feasible"] = runs["kpi_feasible"].astype(str).str.lower().map({"true": 1.0, "false": 0.0})
    s = summarise(runs, sense=SENSE[exp.kind], baseline=exp.baseline, kpis=kpis)
    ratio = ratio_vs_baseline(runs, exp.baseline) if exp.baseline else {}
    hosts = ", ".join(sorted(set(runs["host"].dropna().astype(str)))) or "unknown"
    versions = ", ".join(f"`{v}`" for v in sorted(set(runs["code_version"].dropna().astype(str)))) or "unknown"
    gap = "gap to BKS" if exp.kind == "vrptw" else "proven gap"
    lines = [f"## {exp.name}", "", exp.description, "",
             f"Source: `{_rel(src)}` · regenerate: `{COMMAND}`", "",
             f"{len(runs)} runs over {runs['instance'].nunique()} instances, finished {runs['finished'].min()} to "
             f"{runs['finished'].max()} on {hosts}; code version {versions}. "
             f"Objective is {'minimised' if SENSE[exp.kind] == 'min' else 'maximised'}; "
             f"ratio = geometric mean over paired runs of objective / objective of `{exp.baseline}`. "
             + ("Gap: to the best known solution (distance, arcs truncated to one decimal), not a proven gap."
                if exp.kind == "vrptw" else "Gap: proven, against the back-end's own bound (none for rules)."), "",
             f"| config | runs | ok | failed | median {gap} | mean {gap} | max {gap} | median s | ratio vs baseline "
             "| W/T/L |" + (" feasible | vehicles |" if exp.kind == "vrptw" else ""),
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
    if exp.kind != "vrptw":  # few instances of different sizes: show every run, and whose plan it is
        lines += ["", f"Source: `{_rel(src)}` · regenerate: `{COMMAND}`", "",
                  "| instance | config | plan from | status | objective | proven gap | seconds |",
                  "|---|---|---|---|---|---|---|"]
        for r in runs.sort_values(["instance", "config"]).itertuples(index=False):
            g = "–" if r.gap is None or r.gap != r.gap else f"{100 * r.gap:.3f}%"
            who = r.backend if r.backend == r.requested_backend else f"{r.backend} (fallback for {r.requested_backend})"
            lines.append(f"| `{r.instance}` | `{r.config}` | {who} | {r.status} | {r.objective:,.1f} | {g} | "
                         f"{r.wall_seconds:.1f} |")
    return "\n".join(lines) + "\n"


HEAD = f"""# Solver-settings experiments

Written by `{COMMAND}` from the committed exports in `benchmarks/experiments/results/` (one row
per run: host, finish time and code version included). Each run is an isolated process
(`nearstock bench run`); times are the solve as the back-end reports it.

The tables this file showed until issue #13 (runs of 2026-11-22: `solomon-10s-2cores`,
`solomon-10s`, `solomon-strategies-quick`, `stocking-backends`) were rendered from SQLite stores
that were never committed and no longer exist. Those numbers are **not traceable** and are no
longer quoted here; they remain readable in this file's git history (commit 6903a76). In that
`stocking-backends` run the `cbc` rows were the newsvendor fallback's plans, then credited to CBC.

"""


def main() -> int:
    files = sorted(HERE.glob("*.toml"))
    body = "\n".join(table(f) for f in files)
    (HERE / "RESULTS.md").write_text(HEAD + body)
    print((HERE / "RESULTS.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
