"""Forecast benchmark: accuracy, calibration and speed on real and synthetic panels.

    .venv/bin/python benchmarks/forecast/run.py                 # everything (~5 min on 2 idle cores)
    .venv/bin/python benchmarks/forecast/run.py --only kaggle   # kaggle | olist | synthetic

Writes benchmarks/forecast/results/*.csv and latest.json; prints markdown tables.
Suites:
- kaggle: the 500 daily store × item series, last 28 days held out (2017-12-04 … 2017-12-31),
  one fit + predict per method, timed; then a 3-fold rolling-origin backtest.
- olist: weekly category × customer-state item counts from the Olist sample, 3 folds × 8 weeks.
- synthetic: 20 000 series × 365 days, auto, horizon 14, timed with peak memory (child process).
statsforecast runs side by side on the kaggle split when it is installed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.forecast import data  # noqa: E402
from engine.forecast import backtest, build_panel, forecast  # noqa: E402
from engine.forecast.metrics import per_series, summarise  # noqa: E402
from engine.solver import Settings  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"
KAGGLE_METHODS = ["auto", "global", "ets", "seasonal_naive_yearly", "seasonal_naive", "moving_average"]
OLIST_METHODS = ["auto", "global", "ets", "seasonal_naive", "moving_average", "croston", "sba", "tsb"]


def _machine() -> dict[str, object]:
    return {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "load_avg_1m_at_start": os.getloadavg()[0],
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "sklearn": __import__("sklearn").__version__,
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _md(df: pd.DataFrame, floats: str = "{:.3f}") -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        cells = [floats.format(v) if isinstance(v, float) else str(v) for v in r]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def kaggle(threads: int, folds: int, repeat: int) -> dict[str, object]:
    df = data.kaggle()
    df["date"] = pd.to_datetime(df["date"])
    cut = df["date"].max() - pd.Timedelta(days=27)
    hist, test = df[df["date"] < cut], df[df["date"] >= cut]
    panel = build_panel(df, horizon=1)
    t0 = panel.t - 28
    actual = panel.y[:, t0:]
    rows = []
    for m in KAGGLE_METHODS:
        s = Settings(backend=m, threads=threads)
        secs, cpus = [], []
        for _ in range(repeat if m in ("auto", "global") else 1):  # deterministic: same result each time
            start, cpu0 = time.perf_counter(), time.process_time()
            res = forecast(hist, horizon=28, settings=s)
            secs.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu0)
        sec = min(secs)
        # the panel sorts series the same way (sku, zone as strings), so rows line up
        assert (res.series.to_numpy() == panel.series.to_numpy()).all()
        per = per_series(actual, res.mean, res.quantiles, res.quantile_levels, panel.y[:, :t0], 7)
        per["method"] = m
        r = summarise(per, ["method"]).iloc[0]
        rows.append({"source": "nearstock", "method": m, "wmape": r["wmape"], "bias": r["bias"], "mase": r["mase"],
                     "pinball_scaled": r["pinball_scaled"], "coverage_80": r["coverage_80"],
                     "fit_predict_s": sec, "median_s": float(np.median(secs)),
                     "cpu_s": min(cpus), "runs": len(secs),
                     "chosen": json.dumps(res.to_dict()["chosen"])})
        print(f"kaggle {m}: wmape {r['wmape']:.4f} cov80 {r['coverage_80']:.3f} {sec:.2f}s (cpu {min(cpus):.2f}s, "
              f"load {os.getloadavg()[0]:.1f})", flush=True)
    rows += _statsforecast(hist, test)
    table = pd.DataFrame(rows)
    table.to_csv(OUT / "kaggle_holdout.csv", index=False)
    bt = None
    if folds:
        start = time.perf_counter()
        b = backtest(df, horizon=28, folds=folds, methods=["auto", "ets", "seasonal_naive_yearly", "seasonal_naive"],
                     settings=Settings(threads=threads))
        print(f"kaggle backtest {time.perf_counter() - start:.1f}s", flush=True)
        b.to_frame().to_csv(OUT / "kaggle_backtest.csv", index=False)
        bt = b.overall()
    return {"holdout": table, "backtest": bt}


def _statsforecast(hist: pd.DataFrame, test: pd.DataFrame) -> list[dict[str, object]]:
    try:
        from statsforecast import StatsForecast
        from statsforecast.models import AutoETS, SeasonalNaive
    except ImportError:
        print("statsforecast not installed: skipped (reference numbers from the issue are quoted in RESULTS.md)")
        return []
    sf_df = hist.assign(unique_id=hist["sku"] + "_" + hist["zone"], ds=hist["date"], y=hist["quantity"].astype(float))
    truth = test.assign(unique_id=test["sku"] + "_" + test["zone"], ds=test["date"])[["unique_id", "ds", "quantity"]]
    rows = []
    for name, model in [("AutoETS(7)", AutoETS(season_length=7)), ("SeasonalNaive(7)", SeasonalNaive(7)),
                        ("SeasonalNaive(364)", SeasonalNaive(364))]:
        start = time.perf_counter()
        fc = StatsForecast(models=[model], freq="D", n_jobs=1).forecast(df=sf_df[["unique_id", "ds", "y"]], h=28)
        sec = time.perf_counter() - start
        col = [c for c in fc.columns if c not in ("unique_id", "ds")][0]
        j = fc.reset_index().merge(truth, on=["unique_id", "ds"])
        w = float((j[col] - j["quantity"]).abs().sum() / j["quantity"].sum())
        rows.append({"source": "statsforecast", "method": name, "wmape": w, "fit_predict_s": sec})
        print(f"statsforecast {name}: wmape {w:.4f} {sec:.1f}s", flush=True)
    return rows


def olist(threads: int, folds: int) -> dict[str, object]:
    df = data.olist_weekly()
    start = time.perf_counter()
    b = backtest(df, horizon=8, folds=folds, methods=OLIST_METHODS, settings=Settings(threads=threads))
    print(f"olist backtest {time.perf_counter() - start:.1f}s", flush=True)
    m = b.to_frame()
    m.to_csv(OUT / "olist_backtest.csv", index=False)
    seg = m[(m["fold"] == "all")]
    return {"overall": b.overall(), "by_segment": seg, "n_series": int(df.groupby(["sku", "zone"]).ngroups),
            "weeks": int(df["date"].nunique()), "chosen": b.chosen.get("auto", {})}


def synthetic_child(threads: int, n: int, days: int, k: int) -> None:
    df = data.synthetic(n, days)
    start, cpu0 = time.perf_counter(), time.process_time()
    res = forecast(df, horizon=14, n_scenarios=k, settings=Settings(threads=threads))
    sec = time.perf_counter() - start
    out = {"series": len(res.series), "days": days, "scenarios": k, "fit_predict_s": sec,
           "cpu_s": time.process_time() - cpu0, "load_avg_1m": os.getloadavg()[0],
           "build_s": res.stats.build_seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "chosen": res.to_dict()["chosen"], "segments": res.to_dict()["segments"]}
    print("RESULT " + json.dumps(out))


def synthetic(threads: int) -> pd.DataFrame:
    rows = []
    for n, days, k in [(20_000, 365, 0), (20_000, 365, 10)]:
        cmd = [sys.executable, __file__, "--synthetic-child", f"{n},{days},{k}", "--threads", str(threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
        r = json.loads(line[7:])
        print(f"synthetic {n}x{days} K={k}: {r['fit_predict_s']:.1f}s, peak {r['peak_rss_mb']:.0f} MB", flush=True)
        rows.append(r)
    t = pd.DataFrame(rows)
    t.to_csv(OUT / "synthetic.csv", index=False)
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="kaggle,olist,synthetic")
    ap.add_argument("--threads", type=int, default=1, help="native threads (1 is faster on a busy 2-core machine)")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of auto/global on kaggle (best is reported)")
    ap.add_argument("--synthetic-child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.synthetic_child:
        n, days, k = (int(x) for x in a.synthetic_child.split(","))
        synthetic_child(a.threads, n, days, k)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    info: dict[str, object] = {"machine": _machine()}
    parts = a.only.split(",")
    print(f"machine: {info['machine']}", flush=True)
    if "kaggle" in parts:
        k = kaggle(a.threads, a.folds, a.repeat)
        print("\n## kaggle holdout (last 28 days)\n" + _md(k["holdout"].drop(columns=["chosen"], errors="ignore")))
        if k["backtest"] is not None:
            print("\n## kaggle backtest\n" + _md(k["backtest"]))
        info["kaggle"] = k["holdout"].to_dict(orient="records")
    if "olist" in parts:
        o = olist(a.threads, a.folds)
        print(f"\n## olist weekly ({o['n_series']} series, {o['weeks']} weeks)\n" + _md(o["overall"]))
        print("\nauto picked: " + json.dumps(o["chosen"]))
        info["olist"] = o["overall"].to_dict(orient="records")
    if "synthetic" in parts:
        s = synthetic(a.threads)
        print("\n## synthetic\n" + _md(s.drop(columns=["chosen", "segments"])))
        info["synthetic"] = s.to_dict(orient="records")
    info["machine"]["load_avg_1m_at_end"] = os.getloadavg()[0]  # type: ignore[index]
    (OUT / "latest.json").write_text(json.dumps(info, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
