"""End to end on a generated city: `nearstock stock` as a user runs it, timed from outside.

Each run is a fresh process under ``/usr/bin/time -v`` (wall seconds and peak resident memory
as the operating system saw them) with ``--json`` (the command's own stage table: seconds,
share and peak memory per stage; the proven gap and status). Cases::

    nearstock generate runs/city --preset large --skus 20000 --warehouses 10 --zones 30 --seed 7
    nearstock generate runs/dense --preset large --skus 20000 --warehouses 10 --zones 30 \\
        --daily-units 30000 --seed 7
    python benchmarks/stocking/city_e2e.py --case city=runs/city --case dense=runs/dense --repeat 3  # and city-tight, below

``dense`` is the issue's "hard" candidate (denser demand); measured, only 4 of its 10 warehouses
fill, so the capacity-binding case (#17.5) is ``city-tight``: ``runs/city`` with every forward
warehouse's ``capacity_m3`` scaled by 0.3 (9 of 10 fill)::

    python benchmarks/stocking/city_e2e.py --make-tight runs/city-tight=runs/city
    python benchmarks/stocking/city_e2e.py --case city-tight=runs/city-tight --repeat 3

Appends one row per run to ``results/city_e2e.csv`` (and its stages to
``results/city_e2e_stages.csv``) and rewrites the "End to end" section of RESULTS.md; the
1-minute load average before and after each run is recorded: the machine is shared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from engine.io import replace_marked_section

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CSV = RESULTS / "city_e2e.csv"
STAGES = RESULTS / "city_e2e_stages.csv"
BEGIN, END = "<!-- city-e2e:begin -->", "<!-- city-e2e:end -->"
COMMAND = ("python benchmarks/stocking/city_e2e.py --case city=runs/city --case dense=runs/dense "
           "--case city-tight=runs/city-tight --repeat 3")


def _nearstock() -> list[str]:
    exe = Path(sys.executable).with_name("nearstock")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "engine.cli"]


def run_once(case: str, path: Path, limit: float, scenarios: int, backend: str) -> tuple[dict, list[dict]]:
    out = Path(tempfile.mkdtemp(prefix="nearstock-e2e-")) / "plan"
    cmd = [*_nearstock(), "stock", str(path), "--backend", backend, "--time-limit", f"{limit:g}",
           "--scenarios", str(scenarios), "--out", str(out), "--json"]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE,
                            check=False).stdout.strip()  # the code the run starts with
    load0 = os.getloadavg()[0]
    timed = ["/usr/bin/time", "-v", *cmd] if Path("/usr/bin/time").exists() else cmd
    p = subprocess.run(timed, capture_output=True, text=True, check=False)
    load1 = os.getloadavg()[0]
    shutil.rmtree(out.parent, ignore_errors=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr[-3000:]}")
    data = json.loads(p.stdout)
    wall = re.search(r"Elapsed \(wall clock\) time.*?: (?:(\d+):)?(\d+):([\d.]+)", p.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    user = re.search(r"User time \(seconds\): ([\d.]+)", p.stderr)
    system = re.search(r"System time \(seconds\): ([\d.]+)", p.stderr)
    cpu_s = float(user.group(1)) + float(system.group(1)) if user and system else None
    wall_s = (int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))) if wall else None
    s, run = data["stats"], data["run"]
    row = {
        "case": case, "instance": str(path), "S": data["n_skus"],
        "backend": s["backend"], "status": s["status"], "time_limit": limit, "scenarios": scenarios,
        "wall_s": wall_s, "own_wall_s": run["wall_seconds"], "cpu_s": cpu_s, "peak_rss_gb": int(rss.group(1)) / 2**20 if rss else None,
        "objective": s["objective"], "bound": s["bound"], "gap": s["gap"],
        "full_warehouses": sum(1 for w in data["warehouses"] if (w.get("utilisation") or 0) >= 0.99),
        "forecast": data["forecast"]["method"], "series": data["forecast"]["n_series"],
        "scenario_storage": run["scenario_storage"], "load_before": round(load0, 2), "load_after": round(load1, 2),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
        "command": " ".join(["nearstock", *cmd[len(_nearstock()):]]),
        "commit": commit,
    }
    stages = [{"case": case, "date": row["date"], **st} for st in run["stages"]]
    return row, stages


def section(frame: pd.DataFrame, stages: pd.DataFrame) -> str:
    lines = [BEGIN, "## End to end: `nearstock stock` on a generated 20 000-SKU city (#17)", "",
             f"Command: `{COMMAND}` (see its docstring for the two `nearstock generate` lines). Each run is a fresh "
             "process timed by `/usr/bin/time -v` (wall, user + system CPU seconds, peak RSS); gap = the proven gap of the returned plan. "
             "**The machine is shared (2 cores)**: load = 1-minute load average before/after each run.", "",
             "Source: `benchmarks/stocking/results/city_e2e.csv` · regenerate the table: "
             "`python benchmarks/stocking/city_e2e.py --render-only`", "",
             "| case | commit | forecast | series | limit s | wall s | CPU s | peak GB | status | gap | objective "
             "| bound | full warehouses | load before/after | date |",
             "|" + "---|" * 15]
    for r in frame.itertuples(index=False):
        lines.append(f"| {r.case} | {r.commit} | {r.forecast} | {r.series:,} | {r.time_limit:g} | {r.wall_s:.1f} | "
                     f"{r.cpu_s:.1f} | {r.peak_rss_gb:.2f} | {r.status} | {100 * r.gap:.3f}% | {r.objective:,.0f} | {r.bound:,.0f} | "
                     f"{'' if pd.isna(getattr(r, 'full_warehouses', float('nan'))) else int(r.full_warehouses)} | "
                     f"{r.load_before:.2f}/{r.load_after:.2f} | {r.date} |")
    lines.append("")
    for (case, commit), g in frame.groupby(["case", "commit"], sort=False):
        over = (g["wall_s"] - g["time_limit"]).max()
        lines.append(f"- **{case}** at {commit}: median wall {g['wall_s'].median():.1f} s (at most {over:+.1f} s past the "
                     f"limit), median CPU {g['cpu_s'].median():.1f} s (the process got "
                     f"{100 * (g['cpu_s'] / g['wall_s']).median():.0f}% of one core), median peak "
                     f"{g['peak_rss_gb'].median():.2f} GB, median gap {100 * g['gap'].median():.3f}%, worst "
                     f"{100 * g['gap'].max():.3f}% over {len(g)} run(s)")
    if len(stages):
        last = stages[stages["date"] == stages["date"].max()]
        lines += ["", "Stages of the last run (the command's own `--json` summary):", "",
                  "Source: `benchmarks/stocking/results/city_e2e_stages.csv` · "
                  "`python benchmarks/stocking/city_e2e.py --render-only`", "",
                  "| case | stage | seconds | share s | peak MB | note |", "|---|---|---|---|---|---|"]
        for r in last.itertuples(index=False):
            share = "–" if pd.isna(r.budget_s) else f"{r.budget_s:.1f}"
            note = "" if pd.isna(r.note) else r.note
            lines.append(f"| {r.case} | {r.stage} | {r.seconds:.2f} | {share} | {r.peak_rss_mb:,.0f} | {note} |")
    solo = RESULTS / "city_solve.csv"
    if solo.exists():
        f = pd.read_csv(solo)
        lines += ["", "The solve alone with a longer limit (same forecast and problem as the command builds; "
                  "solver wall and CPU seconds only; `city-tight` = `runs/city` with every forward warehouse's "
                  "`capacity_m3` × 0.3, so that capacity binds):", "",
                  "Source: `benchmarks/stocking/results/city_solve.csv` · "
                  "`python benchmarks/stocking/city_solve.py runs/city --time-limit 300 --scenarios 50`", "",
                  "| instance | S×W×Z×K | limit s | status | gap | objective | bound | solve wall s | solve CPU s "
                  "| full warehouses | commit | load before/after | date |", "|" + "---|" * 13]
        for r in f.itertuples(index=False):
            lines.append(f"| {r.instance} | {r.S}×{r.W}×{r.Z}×{r.K} | {r.time_limit:g} | {r.status} | {100 * r.gap:.3f}% | "
                         f"{r.objective:,.0f} | {r.bound:,.0f} | {r.solve_wall_s:.1f} | {r.solve_cpu_s:.1f} | "
                         f"{r.full_warehouses} of {r.W} | {r.commit} | {r.load_before:.2f}/{r.load_after:.2f} | {r.date} |")
    lines.append(END)
    return "\n".join(lines) + "\n"


def make_tight(dst: Path, src: Path, factor: float = 0.3) -> None:
    """A copy of instance ``src`` at ``dst`` with every forward warehouse's capacity times ``factor``."""
    if dst.exists():
        raise SystemExit(f"{dst} exists: remove it first")
    shutil.copytree(src, dst)
    wh = pd.read_csv(dst / "warehouses.csv", dtype=str, keep_default_na=False)
    fw = wh["kind"] == "forward"
    wh.loc[fw, "capacity_m3"] = [f"{float(v) * factor:.6g}" for v in wh.loc[fw, "capacity_m3"]]
    wh.to_csv(dst / "warehouses.csv", index=False)


def render() -> None:
    doc = HERE / "RESULTS.md"
    frame = pd.read_csv(CSV)
    stages = pd.read_csv(STAGES) if STAGES.exists() else pd.DataFrame()
    new = section(frame, stages)
    replace_marked_section(doc, BEGIN, END, new)
    print(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", default=[], help="NAME=INSTANCE_DIR (repeatable)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--scenarios", type=int, default=50)
    ap.add_argument("--backend", default="decomp")
    ap.add_argument("--render-only", action="store_true")
    ap.add_argument("--make-tight", metavar="DST=SRC", help="write the capacity-binding copy of SRC to DST and stop")
    a = ap.parse_args()
    if a.make_tight:
        dst, _, src = a.make_tight.partition("=")
        make_tight(Path(dst), Path(src))
        return
    if not a.render_only:
        rows, stages = [], []
        for spec in a.case:
            name, _, path = spec.partition("=")
            for _ in range(a.repeat):
                r, st = run_once(name, Path(path), a.time_limit, a.scenarios, a.backend)
                print(r, flush=True)
                rows.append(r)
                stages.extend(st)
        RESULTS.mkdir(exist_ok=True)
        for path, new in ((CSV, pd.DataFrame(rows)), (STAGES, pd.DataFrame(stages))):
            old = pd.read_csv(path) if path.exists() else None
            pd.concat([old, new], ignore_index=True).to_csv(path, index=False) if old is not None else new.to_csv(path, index=False)
    render()


if __name__ == "__main__":
    main()
