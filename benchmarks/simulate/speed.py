"""Speed of the event-driven execution: one day executed with the rolling dispatcher in the loop,
against planning that day once.

    python benchmarks/simulate/speed.py --instance instances/metro-medium --runs 3 --replications 5 \
        --workers 1,2 --out benchmarks/simulate/results/speed.csv

    python benchmarks/simulate/speed.py --summary benchmarks/simulate/results/speed.csv   # the RESULTS.md table

The day is the instance's first planning day. Allocation: every SKU stocked without limit at
every forward warehouse (``allocate_orders`` against ample stock), so every order a forward
warehouse covers is a forward order; the rest go to the central DC and are not routed. Both
sides use the instance's dispatch settings (back-end, time limit, per-order solve budget) and
the rolling period ``dispatch.wave_min``:

* ``plan``: ``engine.dispatch.plan_day(instance, forward_orders, settings, rolling=period)``;
* ``execute``: ``engine.simulate.replicate.execute_day(..., policy="rolling", replications=R,
  workers=W)``.

Each measurement runs in a fresh Python process (this script calling itself with ``--one``), so
its peak resident memory (``getrusage``: the process itself, and its largest worker for W > 1)
is that measurement's alone. One CSV row per measurement: wall seconds, wall per replication,
dispatcher seconds (the policy's ``decide`` calls, summed over replications and epochs) and its
share of the wall time (can pass 1 with W > 1: the workers' decide calls overlap), peak memory,
and the 1-minute load average before and after.
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

import pandas as pd

REPO = Path(__file__).resolve().parents[2]


def _day(instance_dir: str):  # type: ignore[no-untyped-def]
    from engine import load_instance
    from engine.pipeline import orders_of_day
    from engine.simulate import allocate_orders

    inst = load_instance(instance_dir)
    day = inst.manifest.planning.start_date
    orders = orders_of_day(inst, day)
    fw = inst.forward_warehouses["id"]
    stock = pd.DataFrame([(s, w, 10**9) for s in inst.skus["id"] for w in fw], columns=["sku", "warehouse", "units"])
    allocated, _ = allocate_orders(inst, orders, stock)
    return inst, day, allocated


def _options(pairs: list[str]) -> dict[str, object]:
    """``key=value`` pairs (values parsed as TOML scalars: 0, 2.5, true, "x")."""
    import tomllib

    return {k: tomllib.loads(f"v = {v}")["v"] for k, v in (p.split("=", 1) for p in pairs)}


def one(instance_dir: str, what: str, replications: int, workers: int, seed: int,
        options: list[str] | None = None) -> dict[str, object]:
    """One measurement in this process."""
    from engine.dispatch import plan_day
    from engine.simulate.replicate import execute_day

    inst, day, allocated = _day(instance_dir)
    m = inst.manifest
    settings = m.settings("dispatch")
    if options:
        settings = settings.with_(options={**settings.options, **_options(options)})
    period = float(m.dispatch.wave_min)
    fast = allocated[allocated["source"] == "forward"].reset_index(drop=True)
    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    cpu = time.process_time()
    row: dict[str, object] = {"options": " ".join(options or [])}
    if what == "plan":
        plan = plan_day(inst, fast, settings, rolling=period)
        wall = time.perf_counter() - t
        served = int((plan.assignments["status"] == "served").sum())
        a = plan.assignments
        late = (a["arrive_min"] - a["due_min"]).where(a["status"] == "served")
        row.update(replications=0, workers=1, wall_s=wall, wall_per_replication_s=wall,
                   dispatcher_s=float(plan.stats.solve_seconds or 0.0), served=served,
                   on_time=float((late <= 1e-6).sum()),
                   couriers=int(plan.problem.n_couriers), epochs=int(plan.meta["replans"]))
    else:
        kw = {"workers": workers} if workers > 1 else {}  # the option exists from #14.8 on
        res = execute_day(inst, allocated, policy="rolling", settings=settings, period=period,
                          replications=replications, seed=seed, **kw)
        wall = time.perf_counter() - t
        o = res.outcomes
        fwd = o["source"] == "forward"
        row.update(replications=replications, workers=workers, wall_s=wall,
                   wall_per_replication_s=wall / replications, dispatcher_s=float(res.epochs["seconds"].sum()),
                   served=float(o.loc[fwd, "served_by_plan"].sum()) / replications,
                   on_time=float(o.loc[fwd & o["served_by_plan"].astype(bool), "on_time"].astype(bool).sum())
                   / replications,
                   epochs=int(len(res.epochs)), couriers=int(res.days[0].problem.n_couriers))
    _stop_fork_server()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    row["cpu_s"] = time.process_time() - cpu + kids.ru_utime + kids.ru_stime  # this process and its workers
    row["dispatcher_share"] = float(row["dispatcher_s"]) / wall  # type: ignore[arg-type]
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    row["peak_rss_worker_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    row.update(what=what, instance=inst.name, day=str(day), forward_orders=int(len(fast)),
               backend=settings.backend, time_limit=settings.time_limit, period_min=period,
               load_before=load0, load_after=os.getloadavg()[0])
    return row


def _stop_fork_server() -> None:
    """Stop multiprocessing's fork server and wait for it, so that ``RUSAGE_CHILDREN`` counts the
    replication workers (the server's children, which it reaps) in CPU seconds and peak memory.
    ``_stop`` is the standard library's own (its tests use it)."""
    from multiprocessing import forkserver

    server = forkserver._forkserver
    if getattr(server, "_forkserver_pid", None) is None:
        return
    server._stop()


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Medians per (label, what, workers) over the runs, and the execution's time over the plan's."""
    cols = ["replications", "wall_s", "wall_per_replication_s", "dispatcher_share", "peak_rss_mb", "peak_rss_worker_mb",
            "load_before", "served", "on_time", "cpu_s"]
    frame = frame.copy()
    for c in ("on_time", "cpu_s"):
        if c not in frame:  # rows measured before these were recorded
            frame[c] = float("nan")
    med = frame.groupby(["label", "what", "workers"], sort=False)[cols].median().reset_index()
    med["runs"] = frame.groupby(["label", "what", "workers"], sort=False).size().to_numpy()
    plan = med[med["what"] == "plan"].set_index("label")["wall_s"]
    med["x_plan"] = med["wall_s"] / med["label"].map(plan)
    plan_cpu = med[med["what"] == "plan"].set_index("label")["cpu_s"]
    med["x_plan_cpu"] = med["cpu_s"] / med["label"].map(plan_cpu)
    return med


def run_ratios(frame: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Each execution of ``labels`` over the plan measured just before it (same label, file order):
    the ratio run by run, which on a noisy machine varies less than the ratio of medians."""
    rows = []
    for label in labels:
        plan = float("nan")
        for r in frame[frame["label"].astype(str) == label].itertuples(index=False):
            if r.what == "plan":
                plan = r.wall_s
                continue
            rows.append({"label": label, "workers": int(r.workers), "plan_s": plan, "execute_s": r.wall_s,
                         "x_plan": r.wall_s / plan, "cpu_s": r.cpu_s, "peak_rss_mb": r.peak_rss_mb,
                         "peak_rss_worker_mb": r.peak_rss_worker_mb})
    return pd.DataFrame(rows, columns=["label", "workers", "plan_s", "execute_s", "x_plan", "cpu_s", "peak_rss_mb",
                                       "peak_rss_worker_mb"])


def per_run(frame: pd.DataFrame, labels: list[str]) -> str:
    """:func:`run_ratios` as the RESULTS.md table."""
    lines = ["| code | workers | plan wall s | execution wall s | × that plan | CPU s | peak RSS MB (largest worker) |",
             "|---|---|---|---|---|---|---|"]
    for r in run_ratios(frame, labels).itertuples(index=False):
        lines.append(f"| {r.label} | {r.workers} | {r.plan_s:.1f} | {r.execute_s:.1f} | {r.x_plan:.2f} "
                     f"| {r.cpu_s:.1f} | {r.peak_rss_mb:.0f} ({r.peak_rss_worker_mb:.0f}) |")
    return "\n".join(lines)


def _or_dash(v: float, fmt: str) -> str:
    return "–" if v != v else format(v, fmt)


def markdown(med: pd.DataFrame) -> str:
    """The RESULTS.md table: one line per (label, what, workers)."""
    lines = ["| code | what | workers | runs | wall s (median) | wall per replication s | × planning the day once "
             "| dispatcher share | peak RSS MB (largest worker) | load before | served by couriers | on time "
             "| CPU s | × the plan's CPU |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in med.itertuples(index=False):
        what = "plan_day once" if r.what == "plan" else f"execute_day, {r.replications:.0f} replications"
        worker = f" ({r.peak_rss_worker_mb:.0f})" if r.workers > 1 else ""
        lines.append(f"| {r.label} | {what} | {r.workers} | {r.runs} | {r.wall_s:.1f} | {r.wall_per_replication_s:.1f} "
                     f"| {r.x_plan:.2f} | {100 * r.dispatcher_share:.1f}% | {r.peak_rss_mb:.0f}{worker} "
                     f"| {r.load_before:.1f} | {r.served:.0f} | {_or_dash(r.on_time, '.0f')} "
                     f"| {_or_dash(r.cpu_s, '.1f')} | {_or_dash(r.x_plan_cpu, '.2f')} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instance", default=str(REPO / "instances" / "metro-medium"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--replications", type=int, default=5)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts for the execution")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--label", default="", help="a note stored in every row (e.g. the code version)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--append", action="store_true", help="keep this label's earlier rows in --out (more runs of it)")
    ap.add_argument("--summary", default=None, help="print the medians of a result file as a markdown table")
    ap.add_argument("--per-run", default=None, metavar="LABELS",
                    help="with --summary: instead, each execution of these comma-separated labels over its plan")
    ap.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                    help="a dispatch option for both sides (repeatable), e.g. focus_per_courier=0")
    ap.add_argument("--one", default=None, choices=["plan", "execute"], help=argparse.SUPPRESS)
    ap.add_argument("--one-workers", type=int, default=1, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.summary:
        frame = pd.read_csv(a.summary, dtype={"label": str})
        print(per_run(frame, a.per_run.split(",")) if a.per_run else markdown(summary(frame)))
        return
    if a.one:
        print(json.dumps(one(a.instance, a.one, a.replications, a.one_workers, a.seed, a.option)))
        return
    jobs = [("plan", 1)] + [("execute", int(w)) for w in a.workers.split(",") if w]
    rows = []
    for run in range(a.runs):
        for what, w in jobs:
            cmd = [sys.executable, __file__, "--instance", a.instance, "--one", what, "--one-workers", str(w),
                   "--replications", str(a.replications), "--seed", str(a.seed),
                   *(f"--option={o}" for o in a.option)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=os.environ.copy())
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row.update(run=run, label=a.label, when=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
                       machine=f"{platform.machine()} {os.cpu_count()} cores")
            rows.append(row)
            print(f"run {run} {what:7s} w={w} wall {row['wall_s']:7.1f} s  per rep {row['wall_per_replication_s']:6.1f} s  "
                  f"dispatcher {100 * row['dispatcher_share']:5.1f}%  rss {row['peak_rss_mb']:.0f} MB "
                  f"(worker {row['peak_rss_worker_mb']:.0f} MB)  load {row['load_before']:.2f}", flush=True)
    df = pd.DataFrame(rows)
    if a.out:
        out = Path(a.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.exists():  # keep earlier labels' rows, replace this label's (or keep them: --append)
            old = pd.read_csv(out, dtype={"label": str})
            keep = old if a.append else old[old["label"].fillna("") != a.label]
            df = pd.concat([keep, df], ignore_index=True)
        tmp = out.with_name(f".{out.name}.tmp")
        df.to_csv(tmp, index=False)
        tmp.replace(out)
    print(markdown(summary(df)))


if __name__ == "__main__":
    main()
