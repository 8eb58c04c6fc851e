"""Combine per-instance ``nearstock bench mdrp --out`` files into one results file.

A long benchmark (``rolling`` on all 120 MDRP instances) runs one instance per command so that
every finished instance is kept even if the rest is stopped:

    for d in ../shared/data/courier/mdrp/*; do
        nearstock bench mdrp $d --policy rolling --period 2 --out rows/$(basename $d).csv
    done
    python benchmarks/dispatch/mdrp_combine.py rows/*.csv --out benchmarks/dispatch/results/mdrp_all_rolling.csv

The rows are sorted by instance; an instance found twice, or a file with other columns than the
command writes, is an error. The output is written atomically (temporary file, then renamed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]


def combine(paths: list[Path]) -> pd.DataFrame:
    sys.path.insert(0, str(REPO))
    from engine.bench.mdrp import ROW_COLUMNS

    frames = []
    for p in paths:
        df = pd.read_csv(p)
        if list(df.columns) != list(ROW_COLUMNS):
            raise SystemExit(f"{p}: columns are not those of `nearstock bench mdrp --out`")
        frames.append(df)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(ROW_COLUMNS))
    twice = out.loc[out["instance"].duplicated(), "instance"]
    if len(twice):
        raise SystemExit(f"instances found twice: {sorted(set(twice))}")
    return out.sort_values("instance", kind="stable").reset_index(drop=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rows", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    df = combine(a.rows)
    tmp = a.out.with_name(f".{a.out.name}.tmp")
    df.to_csv(tmp, index=False, lineterminator="\n")
    tmp.replace(a.out)
    print(f"{len(df)} instances -> {a.out}")


if __name__ == "__main__":
    main()
