"""`nearstock stock` and `nearstock bench stocking`: thin commands over engine.stocking."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from engine.cli.common import ForceOpt, JsonOpt, SeedOpt, TimeLimitOpt, console, fmt, say_replaced
from engine.io import (
    atomic_dir,
    check_output_dir,
    check_output_file,
    to_json_text,
    write_frame,
    write_output_frame,
)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("stock")(stock_cmd)
    bench.command("stocking")(bench_cmd)


def stock_cmd(
    instance: Annotated[Path, typer.Argument(help="Instance directory.")],
    backend: Annotated[str | None, typer.Option("--backend", help="highs, cbc, scip, decomp, newsvendor or days_of_cover.")] = None,
    time_limit: TimeLimitOpt = None,
    scenarios: Annotated[int | None, typer.Option("--scenarios", help="Demand scenarios (default: the instance's).")] = None,
    cycle_days: Annotated[int | None, typer.Option("--cycle-days", help="Days one stocking decision covers.")] = None,
    forecast_method: Annotated[str | None, typer.Option("--forecast", help="Forecast method for the scenarios.")] = None,
    mip_gap: Annotated[float | None, typer.Option("--mip-gap", help="Relative gap at which to stop.")] = None,
    seed: SeedOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Directory for plan.csv, warehouses.csv, result.json "
                                             "(new, empty, or an earlier output with --force).")] = None,
    force: ForceOpt = False,
    json: JsonOpt = False,
) -> None:
    """Forecast demand scenarios, then choose units per SKU and forward warehouse."""
    from engine.forecast import forecast
    from engine.instance import load_instance
    from engine.stocking import build_problem, solve_stocking

    replaced = check_output_dir(out, force=force) if out is not None else None
    inst = load_instance(instance)
    m = inst.manifest
    run_seed = m.seed if seed is None else seed
    k = scenarios or m.planning.scenarios
    fs = m.settings("forecast").with_(seed=run_seed)
    if forecast_method:
        fs = fs.with_(backend=forecast_method)
    fc = forecast(inst.demand, horizon=m.planning.horizon_days, start=m.planning.start_date,
                  events=inst.events, n_scenarios=k, settings=fs)
    problem = build_problem(inst, fc, cycle_days=cycle_days, scenarios=k)
    st = m.settings("stocking").with_(seed=run_seed)
    changes: dict = {}
    if backend:
        changes["backend"] = backend
    if time_limit is not None:
        changes["time_limit"] = time_limit
    if mip_gap is not None:
        changes["mip_gap"] = mip_gap
    result = solve_stocking(problem, st.with_(**changes) if changes else st)
    if out is not None:
        with atomic_dir(out, force=force, kind="stock") as d:
            write_frame(result.to_frame(), d / "plan.csv")
            write_frame(result.warehouse_frame(), d / "warehouses.csv")
            (d / "result.json").write_text(to_json_text(result.to_dict()), encoding="utf-8")
        say_replaced(replaced)
    if json:
        typer.echo(to_json_text(result.to_dict()), nl=False)
        return
    render(result, title=f"{inst.name}: stocking plan ({problem.n_scenarios} scenarios, {problem.cycle_days}-day cycle)")
    if out is not None:
        console.print(f"plan written to [bold]{out}[/]")


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
