"""`nearstock stock` and `nearstock bench stocking`: thin commands over engine.stocking."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from engine.cli.common import ForceOpt, JsonOpt, SeedOpt, console, fmt, say_replaced
from engine.io import (
    check_output_dir,
    check_output_file,
    to_json_text,
    write_output_frame,
)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("stock")(stock_cmd)
    bench.command("stocking")(bench_cmd)


def stock_cmd(
    instance: Annotated[Path, typer.Argument(help="Instance directory.")],
    backend: Annotated[str | None, typer.Option("--backend", help="highs, cbc, scip, decomp, newsvendor or days_of_cover.")] = None,
    time_limit: Annotated[float | None, typer.Option(
        "--time-limit", help="Seconds for the whole command (load, forecast, build, solve, write); "
        "the solver gets what the earlier stages leave.")] = None,
    scenarios: Annotated[int | None, typer.Option("--scenarios", help="Demand scenarios (default: the instance's).")] = None,
    cycle_days: Annotated[int | None, typer.Option("--cycle-days", help="Days one stocking decision covers.")] = None,
    forecast_method: Annotated[str | None, typer.Option("--forecast", help="Forecast method for the scenarios "
                                                        "(auto picks hierarchical at city scale).")] = None,
    mip_gap: Annotated[float | None, typer.Option("--mip-gap", help="Relative gap at which to stop.")] = None,
    seed: SeedOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Directory for plan.csv, warehouses.csv, result.json "
                                             "(new, empty, or an earlier output with --force).")] = None,
    force: ForceOpt = False,
    json: JsonOpt = False,
    cluster: Annotated[str | None, typer.Option(
        "--cluster", help="Run the forecast's SKU chunks and decomp's per-SKU work on Dask: local:N "
        "(N worker processes here) or tcp://HOST:PORT (a running scheduler); same plan as without.")] = None,
) -> None:
    """Forecast demand scenarios, then choose units per SKU and forward warehouse."""
    from engine.stocking.plan import plan_stock

    replaced = check_output_dir(out, force=force) if out is not None else None
    kw = dict(backend=backend, mip_gap=mip_gap, forecast_method=forecast_method, scenarios=scenarios,
              cycle_days=cycle_days, time_limit=time_limit, seed=seed, out=out, force=force,
              cluster=cluster)
    if json:
        run = plan_stock(instance, **kw)
    else:
        with console.status("starting") as status:
            run = plan_stock(instance, progress=lambda name: status.update(f"{STAGE_TEXT.get(name, name)} …"), **kw)
    if out is not None:
        say_replaced(replaced)
    if json:
        typer.echo(to_json_text(run.to_dict()), nl=False)
        return
    render(run.result, title=f"{run.instance_name}: stocking plan ({run.n_scenarios} scenarios, {run.cycle_days}-day cycle)")
    render_stages(run)
    if out is not None:
        console.print(f"plan written to [bold]{out}[/]")


STAGE_TEXT = {"cluster": "starting / connecting to the Dask cluster", "load": "loading the instance", "forecast": "forecasting demand scenarios",
              "build": "building the stocking problem", "solve": "solving", "write": "writing the plan"}


def render_stages(run) -> None:  # noqa: ANN001
    limit = "no limit" if run.time_limit is None else f"limit {run.time_limit:g}s"
    ok = "" if run.within_limit is None else (" · within it" if run.within_limit else " · [red]over it[/]")
    t = Table(title=f"stages ({limit}{ok}; {run.wall_seconds:.1f}s wall, peak {run.peak_rss_mb:,.0f} MB)",
              title_justify="left")
    for col in ("stage", "seconds", "share s", "peak MB", "note"):
        t.add_column(col, justify="left" if col in ("stage", "note") else "right")
    for s in run.stages:
        t.add_row(s.name, f"{s.seconds:.2f}", "–" if s.budget_s is None else f"{s.budget_s:.1f}",
                  f"{s.peak_rss_mb:,.0f}", escape(s.note))
    console.print(t)
    if run.cluster:
        c = run.cluster
        ct = Table(title=f"chunked work on {escape(str(c['address']))} ({c['workers']} worker(s))", title_justify="left")
        for col in ("stage", "chunks", "chunk s", "max chunk s", "wall s", "scatter s", "scattered MB", "workers used"):
            ct.add_column(col, justify="left" if col == "stage" else "right")
        for name, d in c["stages"].items():
            ct.add_row(name, str(d["chunks"]), f"{d['chunk_seconds']:.2f}", f"{d['max_chunk_seconds']:.3f}",
                       f"{d['wall_seconds']:.2f}", f"{d['scatter_seconds']:.2f}", f"{d['scattered_mb']:,.1f}",
                       str(d["workers_used"]))
        console.print(ct)
    for n in run.notes:
        console.print(f"[yellow]{escape(n)}[/]")


def render(result, *, title: str) -> None:  # noqa: ANN001
    s, e = result.stats, result.expected
    head = Table(title=title, show_header=False, title_justify="left")
    head.add_column(style="bold")
    head.add_column()
    gap = "–" if s.gap is None else f"{s.gap:.3%}"
    head.add_row("back-end", f"{s.backend} · {s.status} · gap {gap} · build {s.build_seconds:.2f}s · solve {s.solve_seconds:.2f}s")
    if s.requested_backend:
        head.add_row("fallback", f"[yellow]plan from {s.backend}, not {s.requested_backend}[/]: {escape(s.fallback_reason or '')}")
    head.add_row("expected profit", f"{fmt(s.objective)} (bound {fmt(s.bound)})")
    head.add_row("fast-fill rate", f"{e.fast_fill_rate:.1%} of demand ({e.covered_fill_rate:.1%} of covered demand)")
    head.add_row("expected cost", f"{fmt(e.cost)} = stock {fmt(e.stock_cost)} + leftover {fmt(e.leftover_cost)} + slots {fmt(e.fixed_cost)}")
    head.add_row("stocked", f"{int(result.units.sum())} units in {int((result.units > 0).sum())} slots; "
                            f"{fmt(e.leftover_units)} expected left over")
    if s.message:
        head.add_row("notes", s.message)
    for n in result.notes:
        head.add_row("", n)
    console.print(head)
    wt = Table(title="by forward warehouse", title_justify="left")
    for col in ("warehouse", "SKUs", "units", "volume m3", "capacity m3", "utilisation", "served / cycle", "fill rate"):
        wt.add_column(col, justify="left" if col == "warehouse" else "right")
    for r in result.warehouse_frame().itertuples(index=False):
        wt.add_row(r.warehouse, str(r.skus), str(r.units), fmt(float(r.volume_m3)), fmt(float(r.capacity_m3)),
                   _pct(r.utilisation), fmt(float(r.served_units)), _pct(r.fill_rate))
    console.print(wt)


def _pct(x: float) -> str:
    return "–" if x != x else f"{x:.1%}"


def bench_cmd(
    sizes: Annotated[str, typer.Option(help="Comma-separated SxWxZxK sizes.")] = "200x5x20x20,1000x10x30x30",
    backends: Annotated[str, typer.Option(help="Comma-separated back-ends.")] = "decomp,highs,newsvendor",
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds per solve.")] = 10.0,
    seed: Annotated[int, typer.Option(help="Instance generator seed.")] = 0,
    out: Annotated[Path | None, typer.Option("--out", help="CSV of results (one row per run).")] = None,
    force: ForceOpt = False,
    json: JsonOpt = False,
) -> None:
    """Scaling table of stocking back-ends on the synthetic family (each zone covered by 2 warehouses)."""
    from engine.errors import ConfigError
    from engine.stocking.study import scaling_run

    try:
        dims = [tuple(int(x) for x in s.lower().split("x")) for s in sizes.split(",") if s]
    except ValueError:
        raise ConfigError(f"--sizes expects SxWxZxK items, got {sizes!r}") from None
    if any(len(d) != 4 for d in dims):
        raise ConfigError(f"--sizes expects SxWxZxK items, got {sizes!r}")
    replaced = check_output_file(out, force=force) if out is not None else None
    frame = scaling_run(dims, [b for b in backends.split(",") if b], time_limit=time_limit, seed=seed)  # type: ignore[arg-type]
    if out is not None:
        write_output_frame(out, frame, force=force)
        say_replaced(replaced)
    if json:
        typer.echo(to_json_text(frame.to_dict(orient="records")), nl=False)
        return
    t = Table(title=f"stocking scaling (seed {seed}, limit {time_limit:g}s)", title_justify="left")
    for col in ("S", "W", "Z", "K", "backend", "status", "objective", "bound", "gap", "build s", "solve s", "wall s"):
        t.add_column(col, justify="right")
    for r in frame.itertuples(index=False):
        gap = "–" if r.gap is None or r.gap != r.gap else f"{r.gap:.3%}"
        who = r.backend if r.backend == r.requested_backend else f"{r.backend} (fallback for {r.requested_backend})"
        t.add_row(str(r.S), str(r.W), str(r.Z), str(r.K), who, r.status, fmt(r.objective), fmt(r.bound), gap,
                  f"{r.build_s:.2f}", f"{r.solve_s:.2f}", f"{r.wall_s:.2f}")
    console.print(t)
