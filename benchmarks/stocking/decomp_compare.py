"""Decomposition back-end before/after a change, one size at a time, with the load average noted.

    .venv/bin/python benchmarks/stocking/decomp_compare.py --label after
    git archive <commit> engine | tar -x -C /tmp/before   # the code before the change
    .venv/bin/python benchmarks/stocking/decomp_compare.py --label before --engine-root /tmp/before --commit <commit>

Appends one row per (size, slotting) to results/decomp_compare.csv and rewrites the "decomp before/after" section
of RESULTS.md (run.py keeps that section when it renders RESULTS.md). threads=1, seed 0 by default.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CSV = "results/decomp_compare.csv"
BEGIN, END = "<!-- decomp-compare:begin -->", "<!-- decomp-compare:end -->"

# (S, W, Z, K, time limit, slotting fixed cost, min lot)
SIZES = {
    "1000": (1000, 10, 30, 30, 10.0, 0.0, 0),
    "5000": (5000, 10, 30, 30, 60.0, 0.0, 0),
    "20000": (20000, 10, 30, 50, 120.0, 0.0, 0),
    "slot200": (200, 5, 20, 20, 10.0, 5.0, 2),
    "slot1000": (1000, 10, 30, 30, 60.0, 5.0, 2),
}


def compare_section(out: Path) -> str:
    """Markdown of results/decomp_compare.csv (empty if there is none)."""
    import pandas as pd

    path = out / CSV
    if not path.exists():
        return ""
    f = pd.read_csv(path)
    head = ("| case | S | W | Z | K | slot F/lot | limit s | label | commit | objective | bound | gap | build_s | solve_s "
            "| wall_s | load before/after | date |\n|" + "---|" * 17 + "\n")
    rows = []
    for case in f["case"].drop_duplicates():
        for r in f[f["case"] == case].itertuples(index=False):
            rows.append(
                f"| {r.case} | {r.S} | {r.W} | {r.Z} | {r.K} | {r.fixed_cost:g}/{r.min_lot} | {r.time_limit:g} | "
                f"{r.label} | {r.commit} | {r.objective:,.2f} | {r.bound:,.2f} | {100 * r.gap:.3f}% | {r.build_s:.1f} | "
                f"{r.solve_s:.1f} | {r.wall_s:.1f} | {r.load_before:.2f}/{r.load_after:.2f} | {r.date} |\n")
    return "\n".join([
        BEGIN,
        "## Decomposition before/after (one size at a time, threads=1, seed 0)",
        "",
        "Command: `.venv/bin/python benchmarks/stocking/decomp_compare.py --label LABEL [--engine-root DIR]` "
        "(see its docstring); machine as above (2 shared cores); load = 1-minute load average before and after the row. "
        "Rows labelled \"+1 busy process\" ran with one extra CPU-bound process (`python3 -c 'while True: pass'`) "
        "to mimic the shared machine; `before` is the code of the commit named, run from a `git archive` copy.",
        "",
        "Source: `benchmarks/stocking/results/decomp_compare.csv` · regenerate: "
        "`python benchmarks/stocking/run.py --render-only`",
        "",
        head + "".join(rows),
        END,
        "",
    ])


def _update_results(out: Path) -> None:
    path = out / "RESULTS.md"
    text = path.read_text() if path.exists() else ""
    section = compare_section(out)
    if BEGIN in text and END in text:
        pre, rest = text.split(BEGIN, 1)
        post = rest.split(END, 1)[1].lstrip("\n")
        text = pre + section + post
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", required=True)
    ap.add_argument("--engine-root", type=Path, default=ROOT, help="directory holding the engine package to measure")
    ap.add_argument("--commit", default=None, help="commit of --engine-root (default: HEAD of this checkout)")
    ap.add_argument("--cases", default="1000,5000,20000,slot200,slot1000")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args()
    sys.path.insert(0, str(args.engine_root.resolve()))
    import pandas as pd

    from engine.solver import Settings
    from engine.stocking import random_problem
    from engine.stocking.solve import solve_stocking

    commit = args.commit or subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                           text=True).stdout.strip()
    rows = []
    for case in args.cases.split(","):
        S, W, Z, K, tl, F, lot = SIZES[case]
        kw = {"slotting_fixed_cost": F, "min_lot": lot} if F > 0 else {}
        problem = random_problem(S, W, Z, K, seed=args.seed, **kw)
        load0 = os.getloadavg()[0]
        t = time.perf_counter()
        res = solve_stocking(problem, Settings(backend="decomp", time_limit=tl, seed=args.seed, mip_gap=1e-4, threads=1))
        wall = time.perf_counter() - t
        st = res.stats
        row = {"case": case, "S": S, "W": W, "Z": Z, "K": K, "fixed_cost": F, "min_lot": lot, "time_limit": tl,
               "label": args.label, "commit": commit[:7], "objective": st.objective, "bound": st.bound, "gap": st.gap,
               "build_s": st.build_seconds, "solve_s": st.solve_seconds, "wall_s": wall, "load_before": load0,
               "load_after": os.getloadavg()[0], "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
               "message": st.message}
        print(row, flush=True)
        rows.append(row)
    path = args.out / CSV
    path.parent.mkdir(parents=True, exist_ok=True)
    new = pd.DataFrame(rows)
    if path.exists():
        new = pd.concat([pd.read_csv(path), new], ignore_index=True)
    path.write_text(new.to_csv(index=False, lineterminator="\n"))
    _update_results(args.out)


if __name__ == "__main__":
    main()
