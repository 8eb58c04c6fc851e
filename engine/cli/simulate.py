"""`nearstock simulate`: a horizon of days with stock carried over and nightly replenishment."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.cli.common import ForceOpt, JsonOpt, SeedOpt, console, fmt, say_replaced
from engine.instance import load_instance
from engine.io import check_output_dir, to_json_text
from engine.simulate.horizon import (
    STOCKING_POLICIES,
    HorizonResult,
    HorizonSettings,
    simulate_horizon,
)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("simulate")(simulate)


def simulate(
    instance: Annotated[Path, typer.Argument(help="Instance directory (needs orders on every simulated day).")],
    days: Annotated[int, typer.Option("--days", help="Planning days to simulate from the start day.")] = 7,
    out: Annotated[Path, typer.Option("--out", help="Output directory (new, empty, or an earlier output with --force).")] = Path("runs/horizon"),
    start: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD (default: planning start).")] = None,
    forecast: Annotated[str | None, typer.Option("--forecast", help="Forecast method (see `nearstock forecast --help`; default: the instance's).")] = None,
    stocking: Annotated[str, typer.Option("--stocking", help=f"Nightly plan: {', '.join(STOCKING_POLICIES)}.")] = "stochastic",
    stocking_backend: Annotated[str | None, typer.Option(help="Back-end of the stochastic / mean model: highs, cbc or scip (default: the instance's).")] = None,
    stocking_time_limit: Annotated[float | None, typer.Option(help="Stocking time limit per night, seconds.")] = None,
    stocking_gap: Annotated[float | None, typer.Option(help="Relative MIP gap at which a night's solve stops.")] = None,
    policy: Annotated[str, typer.Option(help="Dispatcher in the loop of each day: rolling, waves or greedy.")] = "rolling",
    period: Annotated[float | None, typer.Option(help="Minutes between decision epochs (default: dispatch.wave_min).")] = None,
    dispatch_time_limit: Annotated[float | None, typer.Option(help="Dispatch time limit per epoch, seconds.")] = None,
    replications: Annotated[int, typer.Option(help="Executed replications of each day (the stock follows replication 0).")] = 1,
    scenarios: Annotated[int | None, typer.Option(help="Demand scenarios for the stocking model.")] = None,
    full_refit_every: Annotated[int, typer.Option(help="Nights between full forecast refits (1 = every night; auto re-selects local methods between).")] = 7,
    workers: Annotated[int, typer.Option(help=">= 2: forecasts ahead in a second process and replications in parallel.")] = 1,
    couriers: Annotated[str, typer.Option(help="Courier pool: all, fleet-only or crowd-only.")] = "all",
    check_logs: Annotated[bool, typer.Option("--check-logs/--no-check-logs", help="Run every executed log through its checker (about half of a day's time).")] = True,
    seed: SeedOpt = None,
    force: ForceOpt = False,
    json: JsonOpt = False,
) -> None:
    """Operate the instance for --days days: forecast refit every evening, replenishment from tonight's
    stock, the executed day, returns restocked; KPIs per day and segment to --out (days.csv, kpis.json).
    `nearstock report OUT` draws the horizon report."""
    replaced = check_output_dir(out, force=force)
    inst = load_instance(instance)
    m = inst.manifest
    try:
        first = dt.date.fromisoformat(start) if start else None
    except ValueError:
        raise typer.BadParameter(f"--start expects YYYY-MM-DD, got {start!r}") from None
    changes: dict = {}
    if stocking_backend is not None:
        changes["backend"] = stocking_backend
    if stocking_time_limit is not None:
        changes["time_limit"] = stocking_time_limit
    if stocking_gap is not None:
        changes["mip_gap"] = stocking_gap
    st = m.settings("stocking").with_(**changes) if changes else None
    fc = m.settings("forecast").with_(backend=forecast) if forecast is not None else None
    disp = m.settings("dispatch").with_(time_limit=dispatch_time_limit) if dispatch_time_limit is not None else None
    settings = HorizonSettings(days=days, start=first, stocking=stocking, seed=seed, forecast=fc, stocking_settings=st,
                               dispatch=disp, scenarios=scenarios, replications=replications, policy=policy,
                               period=period, couriers=couriers, workers=workers, full_refit_every=full_refit_every,
                               check_logs=check_logs)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=json) as bar:
        task = bar.add_task(f"{inst.name}: day 1 forecast", total=days)

        def step(i: int, day: dt.date, stage: str) -> None:
            nxt = {"forecast": "stocking", "stocking": "executing", "execute": "scoring"}.get(stage)
            if nxt is None:
                bar.update(task, completed=i + 1, description=f"{inst.name}: day {min(i + 2, days)} forecast")
            else:
                bar.update(task, description=f"{inst.name}: day {i + 1} ({day}) {nxt}")

        result = simulate_horizon(inst, settings, progress=step)
    result.write(out, force=force)
    say_replaced(replaced)
    if json:
        typer.echo(to_json_text(result.summary()), nl=False)
        return
    render(result)
    console.print(f"outputs in [bold]{out}[/] (days.csv, segments.csv, stock_days.csv, kpis.json); "
                  f"`nearstock report {out}` draws them")


def render(result: HorizonResult) -> None:
    s = result.summary()
    t = Table(title=f"{s['instance']} · {s['days']} days from {s['start']} · {s['stocking']} stocking · "
                    f"{s['policy']} dispatch · {s['replications']} replication(s)", show_header=False,
              title_justify="left")
    t.add_column(style="bold")
    t.add_column()

    def ci(d: dict) -> str:
        if d.get("ci_low") is None:
            return ""
        return f" [dim](95% CI {fmt(d['ci_low'])} – {fmt(d['ci_high'])})[/]"

    t.add_row("service quality index", fmt(s["service_index"]) + ci(s["service_index_ci"]))
    t.add_row("on-time rate", fmt(s["on_time_rate"]) + ci(s["on_time_rate_ci"]))
    t.add_row("forward fill rate", fmt(s["forward_fill_rate"]))
    t.add_row("stock-outs", f"{s['stockout_orders']} orders ({fmt(s['stockout_rate'])})")
    t.add_row("inventory turnover days", fmt(s["inventory_turnover_days"]))
    t.add_row("warehouse utilisation", fmt(s["warehouse_utilisation"]))
    t.add_row("vehicle load factor", fmt(s["vehicle_load_factor"]))
    t.add_row("courier utilisation", fmt(s["courier_utilisation"]))
    t.add_row("forecast WMAPE (sku × zone × day)", fmt(s["forecast_wmape"]))
    t.add_row("cost per order", fmt(s["cost_per_order"]) + f" [dim]({', '.join(f'{k[5:]} {v:,.0f}' for k, v in s['cost'].items())})[/]")
    t.add_row("moves", f"{s['units_moved_in']} units in, {s['units_pulled_back']} pulled back, "
                       f"{s['units_returned']} returned to the shelf")
    tm = s["timings_s"]
    t.add_row("time", f"{tm['total']:.0f} s (forecast {tm['forecast']:.0f}, stocking {tm['stocking']:.0f}, "
                      f"execute {tm['execute']:.0f}); peak memory {s['peak_memory_mb']:.0f} MB")
    console.print(t)
    seg = Table(title="per segment", title_justify="left")
    for c in ("segment", "orders", "forward share", "on time", "instant"):
        seg.add_column(c, justify="left" if c == "segment" else "right")
    for name, v in result.kpis["segments"].items():
        seg.add_row(name, f"{v['orders']:,.0f}", fmt(v["forward_share"]), fmt(v["on_time_rate"]), fmt(v["instant_rate"]))
    console.print(seg)
