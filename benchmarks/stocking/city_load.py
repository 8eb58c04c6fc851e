"""Instance loading time on a generated city (`load_instance`: read, parse, validate), with the load noted.

Each run is a fresh process (imports timed apart from the load itself); ``--engine-root`` runs the
code of an earlier commit from a ``git archive`` copy::

    git archive <commit> engine | tar -x -C /tmp/before
    python benchmarks/stocking/city_load.py runs/dense --label before --engine-root /tmp/before --commit <commit>
    python benchmarks/stocking/city_load.py runs/dense --label after

Appends one row per run to ``results/city_load.csv`` (wall and CPU seconds of ``load_instance``,
peak resident memory of the process, rows of the two big tables) and rewrites the "Loading"
section of RESULTS.md (``--render-only``: only that); the 1-minute load average before and
after each run is recorded: the machine is shared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pandas as pd

from engine.io import replace_marked_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CSV = HERE / "results" / "city_load.csv"
BEGIN, END = "<!-- city-load:begin -->", "<!-- city-load:end -->"

CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import engine.instance.read as read
t0, c0 = time.perf_counter(), time.process_time()
inst = read.load_instance(sys.argv[2])
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"engine": read.__file__, "load_s": wall, "load_cpu_s": cpu,
                  "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "demand_rows": len(inst.demand), "order_rows": len(inst.orders)}))
"""


def run_once(instance: Path, engine_root: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    load0 = os.getloadavg()[0]
    p = subprocess.run([sys.executable, "-c", CHILD, str(engine_root), str(instance)], capture_output=True,
                       text=True, env=env, check=False)
    load1 = os.getloadavg()[0]
    if p.returncode != 0:
        raise SystemExit(p.stderr[-3000:])
    row = json.loads(p.stdout.strip().splitlines()[-1])
    row.update(load_before=round(load0, 2), load_after=round(load1, 2))
    return row


def section(frame: pd.DataFrame) -> str:
    lines = [BEGIN, "## Loading a generated city (`load_instance`, #17)", "",
             "Command: `python benchmarks/stocking/city_load.py runs/dense --label LABEL [--engine-root DIR]` "
             "(see its docstring; `before` is the code of the commit named, from a `git archive` copy). "
             "A fresh process per run; wall and CPU seconds of `load_instance` alone (the manifest check's "
             "imports included), peak RSS of the process. **The machine is shared (2 cores)**: "
             "load = 1-minute load average before/after the run; compare CPU seconds.", "",
             "Source: `benchmarks/stocking/results/city_load.csv` · `python benchmarks/stocking/city_load.py "
             "--render-only`", "",
             "| instance | demand rows | order rows | label | commit | load s | CPU s | peak GB | load before/after | date |",
             "|" + "---|" * 10]
    for r in frame.itertuples(index=False):
        lines.append(f"| {r.instance} | {r.demand_rows:,} | {r.order_rows:,} | {r.label} | {r.commit} | {r.load_s:.1f} | "
                     f"{r.load_cpu_s:.1f} | {r.peak_rss_gb:.2f} | {r.load_before:.2f}/{r.load_after:.2f} | {r.date} |")
    lines.append(END)
    return "\n".join(lines) + "\n"


def render() -> None:
    doc = HERE / "RESULTS.md"
    new = section(pd.read_csv(CSV))
    replace_marked_section(doc, BEGIN, END, new)
    print(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("instance", type=Path, nargs="?")
    ap.add_argument("--render-only", action="store_true")
    ap.add_argument("--label", default="after")
    ap.add_argument("--engine-root", type=Path, default=ROOT)
    ap.add_argument("--commit", default=None, help="the commit whose code --engine-root holds (default: HEAD)")
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    if a.render_only or a.instance is None:
        render()
        return
    commit = a.commit or subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                        cwd=HERE, check=False).stdout.strip()
    rows = []
    for _ in range(a.repeat):
        r = run_once(a.instance, a.engine_root.resolve())
        if not r.pop("engine").startswith(str(a.engine_root.resolve())):
            raise SystemExit(f"the child did not import engine from {a.engine_root}")
        rows.append({"instance": a.instance.name, "label": a.label, "commit": commit, **r,
                     "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                     "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)"})
        print(rows[-1], flush=True)
    CSV.parent.mkdir(exist_ok=True)
    new = pd.DataFrame(rows)
    if CSV.exists():
        new = pd.concat([pd.read_csv(CSV), new], ignore_index=True)
    new.to_csv(CSV, index=False)
    render()


if __name__ == "__main__":
    main()
