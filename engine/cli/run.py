"""`nearstock run`: the whole chain on one instance, a compact scorecard, outputs on disk."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.cli.common import (
    ForceOpt,
    JsonOpt,
    SeedOpt,
    console,
    fmt,
    say_replaced,
    warn_failed_solves,
)
from engine.instance import load_instance
from engine.io import check_output_dir, to_json_text
from engine.pipeline import STAGES, RunResult, RunSettings, run
from engine.solver import Settings


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("run")(run_cmd)


def _settings(backend: str | None, time_limit: float | None, base: Settings) -> Settings | None:
    if backend is None and time_limit is None:
        return None
    changes: dict = {}
    if backend is not None:
        changes["backend"] = backend
    if time_limit is not None:
        changes["time_limit"] = time_limit
    return base.with_(**changes)


def run_cmd(
    instance: Annotated[Path, typer.Argument(help="Instance directory.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory (new, empty, or an earlier output with --force).")] = Path("runs/latest"),
    seed: SeedOpt = None,
    day: Annotated[str | None, typer.Option(help="Day to dispatch and simulate, YYYY-MM-DD (default: planning start).")] = None,
    forecast: Annotated[str | None, typer.Option("--forecast", help="Forecast method (see `nearstock forecast --help`).")] = None,
    stocking: Annotated[str | None, typer.Option("--stocking", help="Stocking back-end or rule, e.g. highs, decomp, newsvendor, days_of_cover.")] = None,
    dispatch: Annotated[str | None, typer.Option("--dispatch", help="Dispatch back-end: ortools or pyvrp.")] = None,
    couriers: Annotated[str, typer.Option(help="Courier pool: all, fleet-only or crowd-only.")] = "all",
    policy: Annotated[str, typer.Option(help="Dispatcher in the loop of the executed day: rolling, waves, greedy or matching.")] = "rolling",
    period: Annotated[float | None, typer.Option(help="Minutes between decision epochs (default: dispatch.wave_min).")] = None,
    stocking_time_limit: Annotated[float | None, typer.Option(help="Stocking time limit, seconds.")] = None,
    dispatch_time_limit: Annotated[float | None, typer.Option(help="Dispatch time limit per wave, seconds.")] = None,
    scenarios: Annotated[int | None, typer.Option(help="Demand scenarios for the stocking model.")] = None,
    replications: Annotated[int | None, typer.Option(help="Executed replications of the day.")] = None,
    workers: Annotated[int, typer.Option(help="Replications executed in parallel processes (same results); choose a count that leaves no core idle in the last round (5 on 2 cores: 3).")] = 1,
    force: ForceOpt = False,
    json: JsonOpt = False,
) -> None:
    """Forecast → stock → execute one day with the dispatcher in the loop → score; every output to --out."""
    replaced = check_output_dir(out, force=force)  # refuse before the solve, not after
    inst = load_instance(instance)
    m = inst.manifest
    try:
        the_day = dt.date.fromisoformat(day) if day else None
    except ValueError:
        raise typer.BadParameter(f"--day expects YYYY-MM-DD, got {day!r}") from None
    settings = RunSettings(
        day=the_day, seed=seed,
        forecast=_settings(forecast, None, m.settings("forecast")),
        stocking=_settings(stocking, stocking_time_limit, m.settings("stocking")),
        dispatch=_settings(dispatch, dispatch_time_limit, m.settings("dispatch")),
        scenarios=scenarios, replications=replications, couriers=couriers, policy=policy, period=period,
        workers=workers,
    )
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=json) as bar:
        task = bar.add_task(f"{inst.name}: forecast", total=len(STAGES))

        def step(stage: str) -> None:
            i = STAGES.index(stage)
            nxt = STAGES[i + 1] if i + 1 < len(STAGES) else "done"
            bar.update(task, completed=i + 1, description=f"{inst.name}: {nxt}")

        result = run(inst, settings, progress=step)
    result.write(out, force=force)
    say_replaced(replaced)
    if json:
        typer.echo(to_json_text(result.to_dict()), nl=False)
        warn_run_failed_solves(result.summary())  # stderr: the JSON on stdout stays clean
        return
    render(result)
    console.print(f"outputs in [bold]{out}[/]")


def warn_run_failed_solves(summary: dict[str, Any]) -> None:
    """A warning on stderr when dispatch solves failed (the plan is then worse than it could be)."""
    waves = summary.get("dispatch_waves", {})
    if not waves.get("errored"):
        return
    first = waves["errors"][0]
    warn_failed_solves(waves["errored"], waves["solves"],
                       f"replication {first['replication']}, minute {first['epoch_min']:g}", first["error"],
                       "nothing of theirs was executed and their orders stayed in the pool for the next epoch")


def render(result: RunResult) -> None:
    s = result.summary()
    warn_run_failed_solves(s)
    head = Table(title=f"{s['instance']} · {s['day']} · seed {s['seed']}", show_header=False, title_justify="left")
    head.add_column(style="bold")
    head.add_column()
    head.add_row("orders", f"{s['orders']} ({s['from_forward_stock']} forward stock, {s['from_central_dc']} central DC)")
    ex = s["execution"]
    head.add_row("executed", f"{s['dispatched_fleet']} fleet, {s['dispatched_crowd']} crowd, "
                             f"{s['unserved_by_dispatch'] - s['from_central_dc']} to the slow tier "
                             f"(replication 0; {ex['policy']} every {ex['period_min']:g} min)")
    for stage in ("forecast", "stocking", "dispatch"):
        st = s[stage]
        gap = "" if st["gap"] is None else f", gap {st['gap']:.2%}"
        head.add_row(stage, f"{st['backend']} · {st['status']}{gap} · {st['wall_seconds']:.2f}s")
    if s["dispatch_waves"]["errored"]:
        head.add_row("failed solves", f"[yellow]{s['dispatch_waves']['errored']} of {s['dispatch_waves']['solves']}[/]")
    eff = s["efficiency"]
    head.add_row("cost / order", fmt(eff.get("cost_per_order")))
    console.print(head)

    card = Table(title=f"service quality index {result.scorecard.index:.1f} / 100"
                       f"  ({result.scorecard.replications} replications, 95% CI)", title_justify="left")
    card.add_column("indicator", no_wrap=True)
    for col in ("value", "95% CI", "target"):
        card.add_column(col, justify="right", no_wrap=True)
    card.add_column("", no_wrap=True)
    factor = None
    for r in result.scorecard.rows.itertuples(index=False):
        if r.factor != factor:
            if factor is not None:
                card.add_section()
            card.add_row(f"[dim]{r.factor.replace('_', ' ')}[/]", "", "", "", "")
            factor = r.factor
        scale, unit = (100.0, "%") if r.unit == "share" else (1.0, "")

        def v(x: float, scale: float = scale) -> str:
            return "–" if x != x else f"{scale * x:.1f}"
        mark = "[green]pass[/]" if r.passed else ("[dim]n/a[/]" if r.value != r.value else "[red]fail[/]")
        sign = "≥" if r.direction == ">=" else "≤"
        card.add_row(f"  {r.label}", f"{v(r.value)}{unit}", f"{v(r.ci_low)}–{v(r.ci_high)}", f"{sign} {v(r.target)}{unit}", mark)
    console.print(card)
    render_segments(result.scorecard.to_frame(per_segment=True))


SEGMENT_COLUMNS = {"instant_delivery_rate": "instant", "on_time_rate": "on time",
                   "forward_fill_rate": "forward stock", "peak_assignment_p95_min": "peak p95 min"}


def render_segments(per: pd.DataFrame) -> None:
    """The main indicators per customer segment (means over the replications)."""
    if per.empty or per["segment"].nunique() < 2:
        return
    table = Table(title="by customer segment (means over replications)", title_justify="left")
    table.add_column("segment", no_wrap=True)
    table.add_column("orders", justify="right")
    for label in SEGMENT_COLUMNS.values():
        table.add_column(label, justify="right", no_wrap=True)
    for seg, g in per.groupby("segment", sort=True):
        by = g.set_index("indicator")
        cells = []
        for name in SEGMENT_COLUMNS:
            x = float(by.loc[name, "value"]) if name in by.index else float("nan")
            cells.append("–" if x != x else (f"{100 * x:.1f}%" if by.loc[name, "unit"] == "share" else f"{x:.1f}"))
        table.add_row(str(seg), f"{float(g['orders'].iloc[0]):.1f}", *cells)
    console.print(table)
