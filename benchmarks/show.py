"""Print a committed result file (CSV, Parquet or JSON lines) as a markdown table.

    python benchmarks/show.py benchmarks/dispatch/results/fleet_crowd.csv
    python benchmarks/show.py benchmarks/dispatch/results/rolling_peak.csv --cols policy,on_time_share,replan_s_max
    python benchmarks/show.py benchmarks/forecast/results/kaggle_backtest.csv --where fold=all --where segment=all

The RESULTS.md tables that are laid out by hand name this command next to them: it prints the
rows their numbers come from, straight from the committed file. ``--where COLUMN=VALUE`` keeps
the rows whose COLUMN, read as text, equals VALUE (repeatable); ``--cols`` picks columns.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def read_result(path: Path) -> pd.DataFrame:
    """A result file as a frame; JSON lines files keep only their scalar fields."""
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".jsonl":
        frame = pd.read_json(path, lines=True)
        return frame[[c for c in frame.columns if not frame[c].map(lambda v: isinstance(v, (list, dict))).any()]]
    raise SystemExit(f"{path}: expected a .csv, .parquet or .jsonl file")


def markdown(frame: pd.DataFrame) -> str:
    def cell(v: object) -> str:
        if isinstance(v, float):
            return "" if v != v else f"{v:.6g}"
        return str(v)

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    sep = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(cell(v) for v in r) + " |" for r in frame.itertuples(index=False)]
    return "\n".join([head, sep, *rows])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", type=Path)
    ap.add_argument("--cols", default="", help="comma-separated columns to show (default: all)")
    ap.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE")
    args = ap.parse_args(argv)
    if not args.path.is_file():
        raise SystemExit(f"{args.path}: no such file")
    frame = read_result(args.path)
    for cond in args.where:
        col, sep, value = cond.partition("=")
        if not sep or col not in frame.columns:
            raise SystemExit(f"--where expects COLUMN=VALUE with a column of {args.path}, got {cond!r}")
        frame = frame[frame[col].astype(str) == value]
    if args.cols:
        cols = [c for c in args.cols.split(",") if c]
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise SystemExit(f"{args.path} has no column(s) {', '.join(missing)}; it has {', '.join(frame.columns)}")
        frame = frame[cols]
    print(markdown(frame))
    return 0


if __name__ == "__main__":
    sys.exit(main())
