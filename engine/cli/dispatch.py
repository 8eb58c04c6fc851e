"""`nearstock dispatch` (one day of an instance) and `nearstock bench vrptw` (Solomon / VRPLIB)."""

from __future__ import annotations

import json as _json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from engine.cli.common import (
    ForceOpt,
    JsonOpt,
    SeedOpt,
    TimeLimitOpt,
    console,
    fmt,
    kv_table,
    say_replaced,
    warn_failed_solves,
)
from engine.io import (
    atomic_dir,
    check_output_dir,
    check_output_file,
    to_json_text,
    write_frame,
    write_output_frame,
)
from engine.solver import Settings

BackendOpt = Annotated[str, typer.Option("--backend", help="Dispatch back-end: ortools or pyvrp.")]


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("dispatch")(dispatch_cmd)
    bench.command("vrptw")(bench_vrptw_cmd)


def dispatch_cmd(
    instance: Annotated[Path, typer.Argument(help="Instance directory.")],
    day: Annotated[str | None, typer.Option("--day", help="Day to plan, YYYY-MM-DD (default: first day with orders).")] = None,
    backend: BackendOpt = "pyvrp",
    time_limit: TimeLimitOpt = None,
    rolling: Annotated[float | None, typer.Option("--rolling", help="Rolling mode: re-plan every N minutes.")] = None,
    wave_min: Annotated[float | None, typer.Option("--wave-min", help="Wave length in minutes (default: the instance's).")] = None,
    declines: Annotated[bool, typer.Option("--declines/--no-declines", help="Draw crowd declines and re-offer the work.")] = False,
    seed: SeedOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output directory (new, empty, or an earlier output with --force).")] = None,
    force: ForceOpt = False,
    json: JsonOpt = False,
) -> None:
    """Assign one day's orders (each at its nearest forward warehouse) to couriers and route them."""
    from engine.dispatch import check_solution, orders_for_day, plan_day
    from engine.instance import load_instance

    replaced = check_output_dir(out, force=force) if out is not None else None
    inst = load_instance(instance)
    when = pd.Timestamp(day) if day else inst.orders["date"].min()
    orders = orders_for_day(inst, when)
    base = inst.manifest.solver.get("dispatch", Settings())
    settings = base.with_(backend=backend, seed=inst.manifest.seed if seed is None else seed,
                          time_limit=time_limit or base.time_limit,
                          options={**base.options, "simulate_declines": declines})
    res = plan_day(inst, orders, settings, wave_min=wave_min, rolling=rolling)
    issues = check_solution(res.problem, res) if res.problem is not None else []
    head = {**res.headline(), "day": str(pd.Timestamp(when).date()), "mode": res.meta.get("mode"),
            "re-plans": res.meta.get("replans"), "max re-plan s": res.meta.get("replan_seconds_max"),
            "feasible (checker)": not issues}
    if out is not None:
        with atomic_dir(out, force=force, kind="dispatch") as d:
            write_frame(res.assignments, d / "assignments.csv")
            write_frame(res.routes, d / "routes.csv")
            (d / "summary.json").write_text(to_json_text({"headline": head, "cost": res.cost,
                                                          "stats": res.stats.to_dict(), "issues": issues}))
        say_replaced(replaced)
    failed = [s for s in res.meta.get("solves", []) if s.get("error")]
    if failed:
        warn_failed_solves(len(failed), len(res.meta["solves"]), f"minute {failed[0]['epoch_min']:g}",
                           failed[0]["error"], "nothing of theirs was committed and their orders waited for the next epoch")
    if json:
        console.print_json(_json.dumps({"headline": head, "cost": res.cost, "issues": issues}, default=str))
        return
    console.print(kv_table(f"dispatch {inst.name} {head['day']}", head))
    console.print(kv_table("cost", res.cost))
    why = res.assignments.loc[res.assignments["status"] == "unserved", "reason"].value_counts()
    if len(why):
        console.print(kv_table("unserved by reason", {str(k): int(v) for k, v in why.items()}))
    for s in issues[:10]:
        console.print(f"[red]infeasible:[/] {s}")
    if out is not None:
        console.print(f"wrote {out}/assignments.csv, routes.csv, summary.json")


def _expand(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted([*p.glob("*.txt"), *p.glob("*.vrp")])
        else:
            files.append(p)
    return files


def bench_vrptw_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Solomon .txt / VRPLIB .vrp files or folders of them.")],
    backend: BackendOpt = "pyvrp",
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds per instance.")] = 10.0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    threads: Annotated[int, typer.Option("--threads", help="Parallel runs per instance, best kept (processes).")] = 1,
    out: Annotated[Path | None, typer.Option("--out", help="CSV with one row per instance.")] = None,
    force: ForceOpt = False,
    json: JsonOpt = False,
) -> None:
    """Solve VRPTW benchmarks; distance, vehicles, gap to the best known and feasibility."""
    from engine.dispatch.vrptw import CONVENTION, solve_vrptw_file

    replaced = check_output_file(out, force=force) if out is not None else None
    files = _expand(paths)
    if not files:
        raise typer.BadParameter("no .txt or .vrp files found")
    rows = []
    settings = Settings(backend=backend, time_limit=time_limit, seed=seed, threads=threads)
    with console.status("solving") as status:
        for f in files:
            status.update(f"solving {f.name} ({len(rows) + 1}/{len(files)})")
            rows.append(solve_vrptw_file(f, settings))
    df = pd.DataFrame(rows)
    if out is not None:
        write_output_frame(out, df, force=force)
        say_replaced(replaced)
    gaps = df["gap"].dropna()
    summary = {"instances": len(df), "feasible": int(df["feasible"].sum()),
               "mean_gap_pct": float(gaps.mean() * 100) if len(gaps) else None,
               "max_gap_pct": float(gaps.max() * 100) if len(gaps) else None,
               "backend": backend, "time_limit_s": time_limit, "threads": threads, "convention": CONVENTION}
    if json:
        console.print_json(_json.dumps({"summary": summary, "rows": df.to_dict(orient="records")}, default=str))
        return
    t = Table(title=f"VRPTW bench [{backend}, {time_limit:g} s]", title_justify="left")
    for c in ("instance", "distance", "vehicles", "bks_distance", "gap to BKS %", "feasible", "seconds"):
        t.add_column(c, justify="right" if c not in ("instance",) else "left")
    for r in rows:
        gap = "–" if r["gap"] is None else f"{100 * r['gap']:.2f}"
        t.add_row(r["instance"], fmt(r["distance"]), str(r["vehicles"]), fmt(r["bks_distance"]), gap,
                  "yes" if r["feasible"] else "[red]NO[/]", fmt(r["seconds"]))
    console.print(t)
    console.print(kv_table("summary", summary))
    console.print(f"Distances: {CONVENTION}.")
