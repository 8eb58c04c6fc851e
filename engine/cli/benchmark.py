"""`nearstock bench run | summary | accept | export`: benchmark solver settings; `bench mdrp`: the MDRP instances."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from engine.cli.common import ForceOpt, console, err_console, fmt, say_replaced
from engine.io import check_output_file, to_json_text, write_output_frame

ExpArg = Annotated[Path, typer.Argument(help="Experiment file (TOML).")]
DbOpt = Annotated[Path | None, typer.Option("--db", help="Results database (default: next to the experiment, .sqlite).")]


def register(app: typer.Typer, bench: typer.Typer) -> None:
    bench.command("run")(bench_run)
    bench.command("summary")(bench_summary)
    bench.command("accept")(bench_accept)
    bench.command("export")(bench_export)
    bench.command("mdrp")(bench_mdrp)


def _runs(exp_path: Path, db: Path | None):  # noqa: ANN202
    from engine.bench import ResultStore, load_experiment

    exp = load_experiment(exp_path)
    path = db or exp.db_path
    if not path.is_file():
        from engine.errors import ConfigError

        raise ConfigError(f"no results yet for {exp_path} (looked for {path}); run `nearstock bench run {exp_path}` first")
    with ResultStore(path) as store:
        return exp, store.frame()


def bench_run(
    experiment: ExpArg,
    jobs: Annotated[int, typer.Option("--jobs", help="Runs at a time on this machine.")] = 1,
    cluster: Annotated[str | None, typer.Option("--cluster", help="Dask scheduler tcp://HOST:PORT, or local:N for a LocalCluster.")] = None,
    db: DbOpt = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Run again the runs that ended in error or timeout.")] = False,
) -> None:
    """Run every instance × configuration × repetition not yet in the results store.

    SIGINT (Ctrl-C) or SIGTERM stops cleanly: finished runs stay stored, runs in flight are
    killed and discarded, exit code 130 / 143; running the command again resumes.
    """
    from engine.bench import load_experiment, run_experiment
    from engine.bench.runner import stop_on_signals

    exp = load_experiment(experiment)
    with stop_on_signals() as stop, Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("failed {task.fields[failed]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=console) as bar:
        task = bar.add_task(exp.name, total=None, failed=0)

        def progress(done: int, failed: int, todo: int) -> None:
            bar.update(task, total=todo, completed=done, failed=failed)

        res = run_experiment(exp, jobs=jobs, cluster=cluster, db=db, retry_failed=retry_failed,
                             progress=progress, stop=stop.event)
    if res.interrupted:
        err_console.print(f"interrupted: {res.finished} finished runs kept, {res.discarded} "
                          "in flight discarded; re-run to resume")
        raise typer.Exit(stop.exit_code)
    console.print(f"{res.total} runs: {res.skipped} already stored, {res.ok} ok, {res.failed} failed → {res.db}")


def bench_summary(
    experiment: ExpArg,
    db: DbOpt = None,
    kpi: Annotated[list[str] | None, typer.Option("--kpi", help="KPI columns to add (repeatable).")] = None,
    baseline: Annotated[str | None, typer.Option("--baseline", help="Configuration for win/tie/loss (default: the experiment's).")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Write the summary with plots as HTML.")] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="Write the summary table as CSV.")] = None,
    force: ForceOpt = False,
) -> None:
    """Per configuration: mean / median / geometric mean of objective, gap and time; wins against a baseline."""
    from engine.bench import SENSE, performance_profile, summarise
    from engine.bench.analysis import gap_label
    from engine.bench.plots import write_summary_html

    for path in (html, csv):
        if path is not None:
            check_output_file(path, force=force)
    exp, runs = _runs(experiment, db)
    summ = summarise(runs, sense=SENSE[exp.kind], baseline=baseline or exp.baseline, kpis=list(kpi or []))
    t = Table(title=f"{exp.name} ({exp.kind}; objective {'minimised' if SENSE[exp.kind] == 'min' else 'maximised'})",
              title_justify="left")
    t.add_column("config", no_wrap=True)
    gl = gap_label(runs[runs["state"] == "ok"]) if len(runs) else "gap"
    for c in ("ok/runs", f"{gl} med", f"{gl} mean", "s med", "W/T/L", "fallbacks", *(kpi or [])):
        t.add_column(c, justify="right", no_wrap=True)

    def pct(v: float) -> str:
        return "–" if v != v else f"{v:.2%}"

    for r in summ.to_dict(orient="records"):
        wtl = f"{r['wins']}/{r['ties']}/{r['losses']}" if "wins" in r else "–"
        extra = [f"{r.get(f'{k}_mean', float('nan')):,.3f}" for k in (kpi or [])]
        t.add_row(str(r["config"]), f"{r['ok']}/{r['runs']}", pct(r["gap_median"]), pct(r["gap_mean"]),
                  f"{r['seconds_median']:.2f}", wtl, str(r["fallbacks"]), *extra)
    console.print(t)
    if csv:
        write_output_frame(csv, summ, force=force)
    if html:
        write_summary_html(html, exp.name, summ, runs, performance_profile(runs, sense=SENSE[exp.kind]))
        console.print(f"[green]wrote[/] {html}")


def bench_accept(
    experiment: ExpArg,
    baseline: Annotated[str, typer.Option("--baseline", help="Baseline configuration.")],
    candidate: Annotated[str, typer.Option("--candidate", help="Candidate configuration.")],
    metric: Annotated[list[str], typer.Option("--metric", help='e.g. "gap<=" or "on_time>=" (repeatable).')],
    tolerance: Annotated[list[float] | None, typer.Option("--tolerance", help="Absolute tolerance: one, or one per metric.")] = None,
    statistic: Annotated[str, typer.Option(help="mean or median over runs.")] = "mean",
    db: DbOpt = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Pass / fail per metric of a candidate against a baseline; exit code 1 when any check fails."""
    from engine.bench import accept
    from engine.errors import ConfigError

    if statistic not in ("mean", "median"):
        raise ConfigError(f"--statistic must be mean or median, got {statistic!r}")
    _, runs = _runs(experiment, db)
    checks = accept(runs, baseline=baseline, candidate=candidate, metrics=metric, tolerances=list(tolerance or [0.0]),
                    statistic=statistic)
    if json:
        typer.echo(to_json_text({"passed": all(c.passed for c in checks), "checks": [c.to_dict() for c in checks]}), nl=False)
    else:
        t = Table(title=f"{candidate} against {baseline} ({statistic})", title_justify="left")
        for c in ("metric", "baseline", "candidate", "tolerance", "result"):
            t.add_column(c, justify="left" if c in ("metric", "result") else "right")
        for c in checks:
            t.add_row(f"{c.metric} {c.direction}", f"{c.baseline:.6g}", f"{c.candidate:.6g}", f"{c.tolerance:g}",
                      "[green]pass[/]" if c.passed else "[red]fail[/]")
        console.print(t)
    if not all(c.passed for c in checks):
        raise typer.Exit(1)


def bench_export(
    experiment: ExpArg,
    out: Annotated[Path, typer.Argument(help="Output file: .csv or .parquet.")],
    db: DbOpt = None,
    force: ForceOpt = False,
) -> None:
    """Export every stored run (one row per run, KPIs as columns)."""
    from engine.errors import ConfigError

    if not out.name.endswith((".csv", ".parquet")):
        raise ConfigError(f"export writes .csv or .parquet, got {out}")
    check_output_file(out, force=force)
    _, runs = _runs(experiment, db)
    write_output_frame(out, runs, force=force)
    console.print(f"[green]wrote[/] {len(runs)} runs to {out}")


def bench_mdrp(
    paths: Annotated[list[Path], typer.Argument(help="MDRP instance folders, or folders holding them.")],
    policy: Annotated[str, typer.Option("--policy", help="greedy, rolling, waves or matching.")] = "rolling",
    period: Annotated[float, typer.Option("--period", help="Minutes between re-plans.")] = 2.0,
    backend: Annotated[str, typer.Option("--backend", help="Routing back-end of rolling / waves.")] = "pyvrp",
    time_limit: Annotated[float, typer.Option("--time-limit", help="Cap on each re-plan's solver seconds.")] = 1.0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    out: Annotated[Path | None, typer.Option("--out", help="CSV with one row per instance.")] = None,
    stops_out: Annotated[Path | None, typer.Option("--stops-out", help="CSV with every executed pickup and drop-off.")] = None,
    force: ForceOpt = False,
) -> None:
    """Execute Grubhub MDRP instances (orders revealed at placement, deterministic travel) with a policy."""
    import pandas as pd

    from engine.bench.mdrp import ROW_COLUMNS, STOPS_COLUMNS, find_instances, read_mdrp, run_mdrp
    from engine.dispatch.policy import make_policy
    from engine.solver import Settings

    make_policy(policy, period=period)  # a bad name or period fails before any work
    settings = Settings(backend=backend, time_limit=time_limit, seed=seed)
    if out is not None and stops_out is not None and out.resolve() == stops_out.resolve():
        from engine.errors import ConfigError

        raise ConfigError("--out and --stops-out name the same file")
    replaced = [check_output_file(p, force=force) for p in (out, stops_out) if p is not None]
    folders = find_instances(paths)
    if not folders:
        raise typer.BadParameter("no MDRP instance folders found (a folder with orders.txt)")
    for f in folders:  # every file checked before the first run; one instance in memory at a time
        read_mdrp(f)
    rows, stops = [], []
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), console=console) as bar:
        for f in folders:
            inst = read_mdrp(f)
            t0, t1 = float(inst.created.min()), float(inst.created.max() + inst.rules.max_min)
            task = bar.add_task(f"{inst.name} {policy}", total=t1 - t0, info=f"{len(inst.orders)} orders")

            def tick(t: float, task: int = task, t0: float = t0) -> None:
                bar.update(task, completed=t - t0, info=f"minute {t:g}")

            run = run_mdrp(inst, policy, period=period, settings=settings, seed=seed, on_epoch=tick)
            r = run.row
            bar.update(task, completed=t1 - t0, info=f"{r['delivered']}/{r['orders']} delivered, "
                       f"click-to-door {fmt(r['click_to_door_mean'])} (bound {fmt(r['lower_bound_mean'])})")
            rows.append(r)
            stops.append(run.stops)
    df = pd.DataFrame(rows, columns=list(ROW_COLUMNS))
    if out is not None:
        write_output_frame(out, df, force=force)
    if stops_out is not None:
        write_output_frame(stops_out, pd.concat(stops, ignore_index=True) if stops else
                           pd.DataFrame(columns=list(STOPS_COLUMNS)), force=force)
    for rep in replaced:
        say_replaced(rep)
    t = Table(title=f"MDRP [{policy} every {period:g} min]", title_justify="left")
    show = {"instance": "instance", "orders": "orders", "delivered": "delivered", "click_to_door_mean": "ctd mean",
            "click_to_door_p90": "ctd p90", "lower_bound_mean": "bound", "within_target": "<= target",
            "pay_per_order": "pay/order", "orders_per_trip": "orders/trip", "replan_s_p95": "replan p95 s"}
    for c in show.values():
        t.add_column(c, justify="left" if c == "instance" else "right", no_wrap=True)
    for r in rows:
        t.add_row(*(fmt(r[k]) for k in show))
    console.print(t)
