"""Backtest: top-down (``hierarchical``) against the per-series ``auto`` forecast.

Two data sets, the same rolling-origin backtest (``engine.forecast.backtest``) for both methods:

- ``kaggle``: the dense 500-series store × item daily set (sku = item, zone = store), horizon
  28 days, 3 folds (read from ../shared/data, never copied);
- ``city``: a generated large city (``nearstock generate DIR --preset large --skus 2000
  --warehouses 10 --zones 30 --seed 7``: 2 000 SKUs × 30 zones, sparse intermittent series),
  horizon 7 days (the stocking horizon), 2 folds.

WMAPE and pinball loss are on the (sku, zone) series, as the stocking stage consumes them.
Writes ``benchmarks/forecast/results/hier_backtest.csv`` (one row per data set × method, all
folds and segments) and prints it. Usage (from the repository root)::

    python benchmarks/forecast/hier_backtest.py --city runs/city2k [--only kaggle|city] [--hier-base B]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.forecast.data import kaggle  # noqa: E402
from engine.forecast import backtest  # noqa: E402
from engine.instance import load_instance  # noqa: E402
from engine.io import replace_marked_section  # noqa: E402
from engine.solver import Settings  # noqa: E402

OUT = ROOT / "benchmarks" / "forecast" / "results" / "hier_backtest.csv"
COLS = ["data", "method", "hier_base", "n_series", "n_obs", "wmape", "bias", "pinball", "pinball_scaled",
        "coverage_80", "seconds", "horizon", "folds", "date", "load_1min"]


def _run(name: str, history: pd.DataFrame, horizon: int, folds: int, base: str, start=None) -> pd.DataFrame:
    if start is not None:
        history = history[pd.to_datetime(history["date"]) < pd.Timestamp(start)]
    rows = []
    for method in ("auto", "hierarchical"):
        s = Settings(backend=method, threads=1, options={"hier_base": base} if method == "hierarchical" else {})
        t0 = time.perf_counter()
        b = backtest(history, horizon=horizon, folds=folds, methods=(method,), settings=s)
        sec = time.perf_counter() - t0
        r = b.overall().iloc[0]
        rows.append({"data": name, "method": method, "hier_base": base if method == "hierarchical" else "",
                     "n_series": int(r["n_series"]), "n_obs": int(r["n_obs"]), "wmape": r["wmape"],
                     "bias": r["bias"], "pinball": r["pinball"], "pinball_scaled": r["pinball_scaled"],
                     "coverage_80": r.get("coverage_80"), "seconds": round(sec, 1), "horizon": horizon,
                     "folds": folds, "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                     "load_1min": round(os.getloadavg()[0], 2)})
        print(rows[-1], flush=True)
    return pd.DataFrame(rows, columns=COLS)


BEGIN, END = "<!-- hier-backtest:begin -->", "<!-- hier-backtest:end -->"
DOC = ROOT / "benchmarks" / "forecast" / "RESULTS.md"


def render(frame: pd.DataFrame) -> str:
    """The RESULTS.md section: both methods per data set, and hierarchical relative to auto."""
    lines = [BEGIN, "## Hierarchical (top-down) against per-series auto (#17)", "",
             "Rolling-origin backtest of the (sku, zone) series; `hierarchical` forecasts SKU totals with "
             "`hier_base` and splits them by zone shares (docs/scale.md). Relative = hierarchical / auto − 1 "
             "(the issue's bar: WMAPE and pinball no more than 2% worse). Seconds are wall time of the whole "
             "backtest on the shared 2-core machine (load in the last column), not a speed benchmark.", "",
             "Source: `benchmarks/forecast/results/hier_backtest.csv` · "
             "`python benchmarks/forecast/hier_backtest.py --city runs/city2k` "
             "(`--render-only` rewrites this section); the city is "
             "`nearstock generate runs/city2k --preset large --skus 2000 --warehouses 10 --zones 30 --seed 7` "
             "(59 097 (sku, zone) series, 5.5% of the (series, day) cells non-zero). The per-series `auto` on the 20 000-SKU city "
             "(307 384 series) was not backtested: it takes hours on this shared machine.", "",
             "| data | method | hier_base | series × folds | WMAPE | rel. WMAPE | pinball | rel. pinball | bias | 80% cov. "
             "| seconds | load | date |", "|" + "---|" * 13]
    for data, g in frame.groupby("data", sort=False):
        ref = g[g["method"] == "auto"]
        for r in g.itertuples(index=False):
            rw = rp = ""
            if r.method != "auto" and len(ref):
                rw = f"{100 * (r.wmape / ref['wmape'].iloc[0] - 1):+.1f}%"
                rp = f"{100 * (r.pinball / ref['pinball'].iloc[0] - 1):+.1f}%"
            base = "" if pd.isna(r.hier_base) else r.hier_base
            lines.append(f"| {data} | {r.method} | {base} | {r.n_series:,} | {r.wmape:.4f} | {rw} | {r.pinball:.4f} "
                         f"| {rp} | {r.bias:+.3f} | {r.coverage_80:.3f} | {r.seconds:.0f} | {r.load_1min:.1f} | {r.date} |")
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_section(frame: pd.DataFrame) -> None:
    new = render(frame)
    replace_marked_section(DOC, BEGIN, END, new)
    print(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", type=Path, help="a generated city instance (see the module docstring)")
    ap.add_argument("--only", choices=("kaggle", "city"))
    ap.add_argument("--hier-base", default="auto", help="the SKU-level method of hierarchical")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--render-only", action="store_true", help="rewrite the RESULTS.md section from --out")
    a = ap.parse_args()
    if a.render_only:
        write_section(pd.read_csv(a.out))
        return
    frames = []
    if a.only in (None, "kaggle"):
        frames.append(_run("kaggle", kaggle(), 28, 3, a.hier_base))
    if a.only in (None, "city"):
        if a.city is None:
            ap.error("--city DIR is needed for the city backtest")
        inst = load_instance(a.city)
        frames.append(_run(f"city {inst.name} ({len(inst.skus)} SKUs x {len(inst.zones)} zones)", inst.demand, 7, 2,
                           a.hier_base, start=inst.manifest.planning.start_date))
    new = pd.concat(frames, ignore_index=True)
    new["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, shared"
    if a.out.exists():  # keep the rows of the other data sets / bases
        old = pd.read_csv(a.out)
        key = ["data", "method", "hier_base"]
        old = old[~old.set_index(key).index.isin(new.set_index(key).index)]
        new = pd.concat([old, new], ignore_index=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    new.to_csv(a.out, index=False)
    print(new.to_string(index=False))
    write_section(new)


if __name__ == "__main__":
    main()
