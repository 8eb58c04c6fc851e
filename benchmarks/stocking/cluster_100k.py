"""`nearstock stock --cluster local:2` against the local run on a 100 000-SKU city (#17.4).

Each run is a fresh process (``nearstock stock CITY --backend decomp --json``, with or without
``--cluster local:2``) under ``/usr/bin/time -v`` (wall, user + system CPU seconds of the
command and the worker processes it waited for); the summed resident memory of the whole
process tree (client + Dask workers) is sampled every 0.5 s by this script, since the peak RSS
``time`` reports is one process's. The command's own summary gives the stages, the proven gap
and, with a cluster, every chunk's seconds measured where it ran. Setup::

    nearstock generate runs/city100k --preset large --skus 100000 --warehouses 10 --zones 30 --seed 7
    python benchmarks/stocking/cluster_100k.py runs/city100k --time-limit 600 --scenarios 50

Appends one row per run to ``results/cluster_100k.csv`` and every chunk to
``results/cluster_100k_chunks.csv``, then rewrites the "Dask cluster" section of RESULTS.md
with the measured runs and the Amdahl estimate (``--render-only`` redoes only that). The
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
import threading
import time
from pathlib import Path

import pandas as pd

from engine.io import replace_marked_section

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CSV = RESULTS / "cluster_100k.csv"
CHUNKS = RESULTS / "cluster_100k_chunks.csv"
BEGIN, END = "<!-- cluster-100k:begin -->", "<!-- cluster-100k:end -->"
COMMAND = "python benchmarks/stocking/cluster_100k.py runs/city100k --time-limit 600 --scenarios 50"
WORKERS = (1, 2, 4, 8, 16, 32)
MAPPED = {"forecast": "forecast", "decomp oracle": "oracle", "exact per-SKU": "exact"}  # stage: column prefix


def _nearstock() -> list[str]:
    exe = Path(sys.executable).with_name("nearstock")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "engine.cli"]


class _TreeMemory:
    """Peak of the summed RSS of a process and all its descendants, sampled in a thread."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        import psutil  # a dependency of dask.distributed, which this benchmark needs anyway

        self.proc = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(self.interval):
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                total = 0
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, total)
            except psutil.Error:
                return

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / 2**30


def run_once(path: Path, limit: float, scenarios: int, cluster: str | None) -> tuple[dict, list[dict]]:
    out = Path(tempfile.mkdtemp(prefix="nearstock-cluster-")) / "plan"
    cmd = [*_nearstock(), "stock", str(path), "--backend", "decomp", "--time-limit", f"{limit:g}",
           "--scenarios", str(scenarios), "--out", str(out), "--json"]
    if cluster:
        cmd += ["--cluster", cluster]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE,
                            check=False).stdout.strip()
    load0 = os.getloadavg()[0]
    timed = ["/usr/bin/time", "-v", *cmd] if Path("/usr/bin/time").exists() else cmd
    t0 = time.perf_counter()
    proc = subprocess.Popen(timed, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mem = _TreeMemory(proc.pid)
    stdout, stderr = proc.communicate()
    tree_gb = mem.stop()
    outer_wall = time.perf_counter() - t0
    load1 = os.getloadavg()[0]
    shutil.rmtree(out.parent, ignore_errors=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{stderr[-3000:]}")
    data = json.loads(stdout[stdout.index("{"):])
    wall = re.search(r"Elapsed \(wall clock\) time.*?: (?:(\d+):)?(\d+):([\d.]+)", stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    user = re.search(r"User time \(seconds\): ([\d.]+)", stderr)
    system = re.search(r"System time \(seconds\): ([\d.]+)", stderr)
    cpu_s = float(user.group(1)) + float(system.group(1)) if user and system else None
    wall_s = (int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))) if wall else outer_wall
    s, run = data["stats"], data["run"]
    stages = {st["stage"]: st for st in run["stages"]}
    c = run.get("cluster") or {}
    cst = c.get("stages", {})
    row = {
        "mode": cluster or "local", "instance": str(path), "S": data["n_skus"], "scenarios": scenarios,
        "time_limit": limit, "status": s["status"], "wall_s": wall_s, "own_wall_s": run["wall_seconds"],
        "cpu_s": cpu_s, "peak_rss_gb": int(rss.group(1)) / 2**20 if rss else None, "tree_peak_gb": tree_gb,
        "objective": s["objective"], "bound": s["bound"], "gap": s["gap"],
        "series": data["forecast"]["n_series"], "forecast": data["forecast"]["method"],
        **{f"{name}_s": stages[name]["seconds"] if name in stages else None
           for name in ("start-up", "cluster", "load", "forecast", "build", "solve", "write")},
        "workers": c.get("workers"),
        **{f"{short}_{col}": cst.get(stage, {}).get(key) for stage, short in MAPPED.items()
           for col, key in (("chunks", "chunks"), ("chunk_s", "chunk_seconds"), ("mapped_wall_s", "wall_seconds"))},
        "scatter_s": sum(d.get("scatter_seconds", 0.0) for d in cst.values()) if cst else None,
        "scattered_mb": sum(d.get("scattered_mb", 0.0) for d in cst.values()) if cst else None,
        "solver_message": s.get("message", ""),
        "load_before": round(load0, 2), "load_after": round(load1, 2),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
        "command": " ".join(["nearstock", *cmd[len(_nearstock()):]]), "commit": commit,
    }
    chunks = [{"date": row["date"], "mode": row["mode"], "stage": st, "chunk": i, "seconds": sec, "worker": w}
              for st, i, sec, w in c.get("chunks", [])]
    return row, chunks


STAGE_MAPS = {"forecast": ("forecast",), "solve": ("oracle", "exact")}  # command stage: its mapped parts


def amdahl(r: dict) -> list[dict]:
    """Expected seconds of each stage on n workers, from one cluster run (Amdahl): serial = the
    stage's seconds outside its mapped sections (on the client); parallel = the summed per-chunk
    seconds, divided by n; overhead = the mapped sections' wall beyond their chunk work on the
    workers used (scatters, transfers, scheduling), taken as fixed."""

    def get(name: str) -> float:
        v = r.get(name)
        return 0.0 if v is None or pd.isna(v) else float(v)

    used = max(get("workers"), 1.0)
    rows = []
    for stage, parts in STAGE_MAPS.items():
        mapped = sum(get(f"{p}_mapped_wall_s") for p in parts)
        work = sum(get(f"{p}_chunk_s") for p in parts)
        serial = get(f"{stage}_s") - mapped
        overhead = max(mapped - work / used, 0.0)
        rows.append({"stage": stage, "serial": serial, "parallel": work, "overhead": overhead,
                     **{n: serial + overhead + work / n for n in WORKERS}})
    rest = sum(get(f"{k}_s") for k in ("start-up", "cluster", "load", "build", "write"))
    rows.append({"stage": "other stages", "serial": rest, "parallel": 0.0, "overhead": 0.0, **{n: rest for n in WORKERS}})
    rows.append({"stage": "whole command", **{k: sum(x[k] for x in rows) for k in ("serial", "parallel", "overhead", *WORKERS)}})
    return rows


def section(frame: pd.DataFrame) -> str:
    lines = [BEGIN, "## Dask cluster: `nearstock stock --cluster local:2` on a 100 000-SKU city (#17.4)", "",
             f"Command: `{COMMAND}` (setup in its docstring). Each run is a fresh process timed by "
             "`/usr/bin/time -v` (wall; CPU = user + system seconds of the command and its waited-for worker "
             "processes); tree GB = the summed resident memory of the command and its Dask workers, sampled every "
             "0.5 s; gap = the proven gap of the returned plan. **The machine is shared (2 cores)**: load = "
             "1-minute load average before/after each run; a 2-worker cluster on 2 shared cores cannot be faster "
             "than the local run, what it shows is where the time goes.", "",
             "Source: `benchmarks/stocking/results/cluster_100k.csv` · regenerate the table: "
             "`python benchmarks/stocking/cluster_100k.py --render-only`", "",
             "| mode | commit | series | scenarios | limit s | wall s | CPU s | tree GB | status | gap | objective | "
             "forecast s | solve s | forecast chunks (s) | oracle chunks (s) | exact chunks (s) | scattered MB "
             "| load before/after | date |",
             "|" + "---|" * 19]

    def chunks(r: dict, p: str) -> str:
        n, sec = r.get(f"{p}_chunks"), r.get(f"{p}_chunk_s")
        return "–" if n is None or pd.isna(n) else f"{int(n)} ({sec:.1f})"

    for r in frame.to_dict(orient="records"):
        sc = "–" if pd.isna(r["scattered_mb"]) else f"{r['scattered_mb']:,.0f}"
        lines.append(f"| {r['mode']} | {r['commit']} | {r['series']:,} | {r['scenarios']} | {r['time_limit']:g} | "
                     f"{r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['tree_peak_gb']:.2f} | {r['status']} | "
                     f"{100 * r['gap']:.3f}% | {r['objective']:,.0f} | {r['forecast_s']:.1f} | {r['solve_s']:.1f} | "
                     f"{chunks(r, 'forecast')} | {chunks(r, 'oracle')} | {chunks(r, 'exact')} | {sc} | "
                     f"{r['load_before']:.2f}/{r['load_after']:.2f} | {r['date']} |")
    mapped = frame[frame["mode"] != "local"]
    if len(mapped):
        r = mapped.iloc[-1].to_dict()
        lines += ["", f"Expected seconds with n workers, from the last cluster run ({r['date']}, commit {r['commit']}; "
                  "Amdahl per stage: serial = the stage's seconds outside its mapped sections, on the client; "
                  "parallel = the summed per-chunk seconds measured on the workers, divided by n; overhead = the "
                  "mapped sections' wall beyond their chunk work on the 2 workers (scatter, transfers, scheduling), "
                  "kept fixed). The solve runs to its time limit: its row is the time of the same amount of "
                  "search, so fewer seconds there mean more sweeps within the limit:", "",
                  "Source: `benchmarks/stocking/results/cluster_100k.csv` · "
                  "`python benchmarks/stocking/cluster_100k.py --render-only`", "",
                  "| stage | serial s | parallel s | overhead s | " + " | ".join(f"n={n}" for n in WORKERS) + " |",
                  "|---|---|---|---|" + "---|" * len(WORKERS)]
        for e in amdahl(r):
            lines.append(f"| {e['stage']} | {e['serial']:.1f} | {e['parallel']:.1f} | {e['overhead']:.1f} | "
                         + " | ".join(f"{e[n]:.1f}" for n in WORKERS) + " |")
    if CHUNKS.exists():
        ch = pd.read_csv(CHUNKS)
        ch = ch[ch["date"] == ch["date"].max()]
        if len(ch):
            lines += ["", "Per-chunk seconds of the last cluster run, measured on the worker that ran each chunk:", "",
                      "Source: `benchmarks/stocking/results/cluster_100k_chunks.csv` · "
                      "`python benchmarks/stocking/cluster_100k.py --render-only`", "",
                      "| stage | chunks | total s | median s | p90 s | max s | workers |", "|---|---|---|---|---|---|---|"]
            for stage, g in ch.groupby("stage", sort=False):
                lines.append(f"| {stage} | {len(g)} | {g['seconds'].sum():.1f} | {g['seconds'].median():.3f} | "
                             f"{g['seconds'].quantile(0.9):.3f} | {g['seconds'].max():.3f} | {g['worker'].nunique()} |")
    lines.append(END)
    return "\n".join(lines) + "\n"


def render() -> None:
    doc = HERE / "RESULTS.md"
    new = section(pd.read_csv(CSV))
    replace_marked_section(doc, BEGIN, END, new)
    print(new)


def _append(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    new = pd.DataFrame(rows)
    if path.exists():
        new = pd.concat([pd.read_csv(path), new], ignore_index=True)
    new.to_csv(path, index=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("instance", nargs="?", type=Path)
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--scenarios", type=int, default=50)
    ap.add_argument("--modes", default="local,local:2", help="comma-separated: local and/or --cluster specs")
    ap.add_argument("--render-only", action="store_true")
    a = ap.parse_args()
    if not a.render_only:
        if a.instance is None:
            ap.error("give the instance directory (or --render-only)")
        RESULTS.mkdir(exist_ok=True)
        for mode in [m for m in a.modes.split(",") if m]:
            row, chunks = run_once(a.instance, a.time_limit, a.scenarios, None if mode == "local" else mode)
            print({k: row[k] for k in ("mode", "status", "wall_s", "cpu_s", "tree_peak_gb", "gap")}, flush=True)
            _append(CSV, [row])  # after every run: a later failure keeps the earlier ones
            _append(CHUNKS, chunks)
    render()


if __name__ == "__main__":
    main()
