"""Markdown summary of Solomon results from committed files: bench CSVs (written by
`nearstock bench vrptw ... --out`) or exported VRPTW experiments (`nearstock bench export
EXPERIMENT.toml benchmarks/experiments/results/NAME.csv`; each configuration is a column).
Gaps are to the best known solution (BKS), not proven gaps.

    .venv/bin/python benchmarks/dispatch/summarize.py benchmarks/dispatch/results/solomon_*_10s.csv
    .venv/bin/python benchmarks/dispatch/summarize.py benchmarks/experiments/results/solomon-10s*.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def md(df: pd.DataFrame) -> str:
    """A DataFrame as a GitHub markdown table (no extra dependency)."""
    d = df.reset_index()
    head = "| " + " | ".join(map(str, d.columns)) + " |"
    sep = "|" + "|".join("---" for _ in d.columns) + "|"
    rows = ["| " + " | ".join("" if pd.isna(v) else str(v) for v in r) + " |" for r in d.itertuples(index=False)]
    return "\n".join([head, sep, *rows])


def from_export(runs: pd.DataFrame) -> pd.DataFrame:
    """An exported experiment (``nearstock bench export``) in the bench-CSV layout, the configuration
    as ``backend``; only finished runs."""
    runs = runs[runs["state"] == "ok"]
    return pd.DataFrame({
        "instance": runs["instance"].map(lambda s: Path(s).stem), "backend": runs["config"],
        "gap": runs["gap"], "feasible": runs["kpi_feasible"].astype(bool),
        "vehicles": runs["kpi_vehicles"], "bks_vehicles": runs["kpi_bks_vehicles"],
    })


def read(path: str) -> pd.DataFrame:
    frame = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    return from_export(frame) if "config" in frame.columns else frame


def main(paths: list[str]) -> None:
    frames = [read(p) for p in paths]
    df = pd.concat(frames, ignore_index=True)
    df["class"] = df["instance"].str.extract(r"^([A-Z]+\d)", expand=False)
    df["gap_pct"] = 100 * df["gap"]
    by = df.groupby(["backend", "class"]).agg(n=("instance", "size"), mean_gap_to_bks_pct=("gap_pct", "mean"),
                                            max_gap_to_bks_pct=("gap_pct", "max"), feasible=("feasible", "sum"))
    tot = df.groupby("backend").agg(n=("instance", "size"), mean_gap_to_bks_pct=("gap_pct", "mean"),
                                    max_gap_to_bks_pct=("gap_pct", "max"), feasible=("feasible", "sum"),
                                    vehicles_vs_bks=("vehicles", "sum"), bks_vehicles=("bks_vehicles", "sum"))
    print(md(tot.round(3)))
    print()
    print(md(by.round(3)))
    print()
    wide = df.pivot_table(index="instance", columns="backend", values="gap_pct").round(2)
    print(md(wide))


if __name__ == "__main__":
    main(sys.argv[1:])
