"""auto's cost model against measurement: estimated and measured seconds per candidate.

Under a time share ``auto`` runs the candidates whose *estimated* seconds
(:func:`engine.forecast.core.estimate_seconds`, from the panel's shape alone) fit the share.
This script checks the estimate on real panels: for each instance it builds the panel ``auto``
fits (the SKU totals when it forecasts top-down, else the (sku, zone) panel), and runs every
candidate at the fit's origins with one thread, ``--repeat`` times, recording CPU seconds
(``time.process_time``, the fairer measure of work on a shared machine) and wall seconds.
Usage (from the repository root)::

    nearstock generate runs/city --preset large --skus 20000 --warehouses 10 --zones 30 --seed 7
    python benchmarks/forecast/candidate_cost.py --case city=runs/city \\
        --case metro-medium=instances/metro-medium --repeat 3

Writes ``benchmarks/forecast/results/candidate_cost.csv`` (one row per case and candidate, and a
``total`` row per case) and prints it as a markdown table (``--render-only`` prints the
committed file again). ``--limits 42 5 1`` instead runs the whole forecast (fit and
predict) of each case under those time limits, in the order given, and writes
``results/candidate_cost_forecast.csv``: which candidates the share left out, the forecast's
total mean (the same limit gives the same forecast at any load), wall and CPU seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from threadpoolctl import threadpool_limits  # noqa: E402

from engine.forecast import hier as _hier  # noqa: E402
from engine.forecast.core import AUTO_CANDIDATES, _run_method, estimate_seconds, fit_origins  # noqa: E402
from engine.forecast.methods import MethodUnavailable  # noqa: E402
from engine.forecast.panel import build_sparse_history  # noqa: E402
from engine.instance import load_instance  # noqa: E402

OUT = ROOT / "benchmarks" / "forecast" / "results" / "candidate_cost.csv"
OUT_STAGE = ROOT / "benchmarks" / "forecast" / "results" / "candidate_cost_forecast.csv"
COLS = ["case", "panel", "series", "periods", "origins", "candidate", "estimated_s", "cpu_s_best",
        "cpu_s_median", "wall_s_median", "cpu_over_estimate", "load_before", "load_after", "date", "commit"]


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _auto_panel(path: str):  # noqa: ANN202
    inst = load_instance(path)
    m = inst.manifest
    s = m.settings("forecast")
    sh = build_sparse_history(inst.demand, horizon=m.planning.horizon_days, start=m.planning.start_date,
                              events=inst.events, options=s.options)
    if _hier.prefer_hierarchical(sh.n, sh.t, int(sh.series["sku"].nunique()), s.options):
        return _hier.parts_from_sparse(sh, s.options).sku_panel, "SKU totals (hierarchical)", dict(s.options)
    return sh.to_panel(), "(sku, zone)", dict(s.options)


def measure(case: str, path: str, repeat: int) -> pd.DataFrame:
    panel, kind, opts = _auto_panel(path)
    origins, _, _ = fit_origins(panel, opts)
    rows = []
    for name in AUTO_CANDIDATES:
        est = estimate_seconds(name, panel, origins, opts)
        cpu, wall = [], []
        load0 = os.getloadavg()[0]
        for _ in range(repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            try:
                with threadpool_limits(limits=1):
                    _run_method(name, panel, origins, panel.h, opts, [])
            except MethodUnavailable:
                pass  # it stops where auto would drop it: that cost is what is measured
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
        rows.append({"case": case, "panel": kind, "series": panel.n, "periods": panel.t,
                     "origins": " ".join(map(str, origins)), "candidate": name, "estimated_s": round(est, 3),
                     "cpu_s_best": round(min(cpu), 3), "cpu_s_median": round(statistics.median(cpu), 3),
                     "wall_s_median": round(statistics.median(wall), 3),
                     "cpu_over_estimate": round(min(cpu) / est, 2) if est > 0 else float("nan"),
                     "load_before": round(load0, 2), "load_after": round(os.getloadavg()[0], 2),
                     "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": _commit()})
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows, columns=COLS)
    tot = {c: df[c].iloc[0] for c in ("case", "panel", "series", "periods", "origins", "date", "commit")}
    tot.update({"candidate": "total", "load_before": df["load_before"].iloc[0], "load_after": df["load_after"].iloc[-1]})
    for c in ("estimated_s", "cpu_s_best", "cpu_s_median", "wall_s_median"):
        tot[c] = round(float(df[c].sum()), 3)
    tot["cpu_over_estimate"] = round(tot["cpu_s_best"] / tot["estimated_s"], 2)
    return pd.concat([df, pd.DataFrame([tot], columns=COLS)], ignore_index=True)


def whole_forecast(case: str, path: str, limits: list[float]) -> pd.DataFrame:
    """The whole forecast (fit and predict, the scenarios of the instance) under each limit."""
    from engine.forecast import forecast

    inst = load_instance(path)
    m = inst.manifest
    s = m.settings("forecast").with_(seed=m.seed)
    rows = []
    for lim in limits:
        load0 = os.getloadavg()[0]
        w0, c0 = time.perf_counter(), time.process_time()
        r = forecast(inst.demand, horizon=m.planning.horizon_days, start=m.planning.start_date, events=inst.events,
                     n_scenarios=m.planning.scenarios, settings=s, time_limit=lim)
        skipped = [n.split(":")[0].removeprefix("auto skipped ") for n in r.notes
                   if n.startswith("auto skipped") and "share" in n]
        rows.append({"case": case, "limit_s": lim, "method": r.method, "skipped_by_share": " ".join(skipped),
                     "chosen": " ".join(f"{k}={v}" for k, v in r.to_dict()["chosen"].items()),
                     "mean_total": round(float(r.mean.sum()), 4), "wall_s": round(time.perf_counter() - w0, 2),
                     "cpu_s": round(time.process_time() - c0, 2), "load_before": round(load0, 2),
                     "load_after": round(os.getloadavg()[0], 2),
                     "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": _commit()})
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def render(df: pd.DataFrame) -> str:
    head = ("| case | panel | candidate | estimated s | CPU s (best) | CPU s (median) | wall s (median) "
            "| best CPU / estimate | load before/after |")
    lines = [head, "|" + "---|" * 9]
    for r in df.itertuples(index=False):
        lines.append(f"| {r.case} | {r.panel}, {r.series} x {r.periods}, origins {r.origins} | {r.candidate} "
                     f"| {r.estimated_s:.2f} | {r.cpu_s_best:.2f} | {r.cpu_s_median:.2f} | {r.wall_s_median:.2f} "
                     f"| {r.cpu_over_estimate:.2f} | {r.load_before:.1f}/{r.load_after:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", default=[], help="NAME=INSTANCE_DIR (repeatable)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--render-only", action="store_true")
    ap.add_argument("--limits", type=float, nargs="*", default=[],
                    help="also run the whole forecast of each case under these time limits")
    a = ap.parse_args()
    if a.limits:
        stage = pd.concat([whole_forecast(*c.split("=", 1), a.limits) for c in a.case], ignore_index=True)
        tmp = OUT_STAGE.with_suffix(".tmp")
        stage.to_csv(tmp, index=False)
        tmp.replace(OUT_STAGE)
        print(stage.drop(columns=["chosen"]).to_string(index=False))
        return
    if not a.render_only:
        frames = [measure(*c.split("=", 1), a.repeat) for c in a.case]
        OUT.parent.mkdir(parents=True, exist_ok=True)
        tmp = OUT.with_suffix(".tmp")
        pd.concat(frames, ignore_index=True).to_csv(tmp, index=False)
        tmp.replace(OUT)
    print(render(pd.read_csv(OUT)))


if __name__ == "__main__":
    main()
