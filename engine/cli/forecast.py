"""`nearstock forecast` and `nearstock backtest`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from engine.cli.common import ForceOpt, JsonOpt, SeedOpt, console, fmt, kv_table, say_replaced
from engine.errors import ConfigError
from engine.io import (
    atomic_dir,
    check_output_dir,
    check_output_file,
    to_json_text,
    write_frame,
    write_output_frame,
)
from engine.solver import Settings

METHOD_HELP = ("Method: auto, seasonal_naive, seasonal_naive_yearly, moving_average, ses, ets, croston, sba, tsb, global, "
               "hierarchical (SKU totals split to zones; auto picks it at city scale).")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("forecast")(forecast_cmd)
    app.command("backtest")(backtest_cmd)


def _settings(base: Settings, method: str | None, seed: int | None, threads: int | None) -> Settings:
    changes: dict[str, object] = {}
    if method is not None:
        changes["backend"] = method
    if seed is not None:
        changes["seed"] = seed
    if threads is not None:
        changes["threads"] = threads
    return base.with_(**changes) if changes else base


def forecast_cmd(
    instance: Annotated[Path, typer.Argument(help="Instance directory.")],
    horizon: Annotated[int | None, typer.Option(help="Days to forecast (default: the instance's horizon).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory: forecast.csv, scenarios.csv.gz, summary.json.")] = None,
    method: Annotated[str | None, typer.Option(help=METHOD_HELP)] = None,
    scenarios: Annotated[int | None, typer.Option(help="Joint sample paths (default: the instance's scenario count).")] = None,
    seed: SeedOpt = None,
    threads: Annotated[int | None, typer.Option(help="Threads for the tree model.")] = None,
    force: ForceOpt = False,
    json: JsonOpt = False,
) -> None:
    """Forecast demand per (sku, zone, day) of an instance: mean, quantiles and scenarios."""
    from engine.forecast import forecast
    from engine.instance import load_instance

    replaced = check_output_dir(out, force=force) if out is not None else None
    inst = load_instance(instance)
    m = inst.manifest
    base = m.settings("forecast")
    if seed is None and "forecast" not in m.solver:
        seed = m.seed  # no [solver.forecast] table: the instance's seed
    s = _settings(base, method, seed, threads)
    res = forecast(
        inst.demand, horizon=horizon or m.planning.horizon_days, start=m.planning.start_date, events=inst.events,
        n_scenarios=m.planning.scenarios if scenarios is None else scenarios, settings=s,
    )
    if out is not None:
        with atomic_dir(out, force=force, kind="forecast") as tmp:
            write_frame(res.to_frame(), tmp / "forecast.csv")
            if res.n_scenarios:
                write_frame(res.scenario_frame(), tmp / "scenarios.csv.gz")
            (tmp / "summary.json").write_text(to_json_text(res.to_dict()))
        say_replaced(replaced)
    if json:
        typer.echo(to_json_text(res.to_dict()), nl=False)
        return
    summary = {
        "method": res.method,
        "series": len(res.series),
        "days": f"{res.dates[0]} … {res.dates[-1]}",
        "scenarios": res.n_scenarios,
        "total mean units": float(res.mean.sum()),
        "holdout WMAPE": res.holdout.get("wmape"),
        "holdout bias": res.holdout.get("bias"),
        "cross-zone corr": res.dependence.get("cross_zone_corr_mean"),
        "seconds": res.stats.wall_seconds,
    }
    console.print(kv_table(f"forecast {instance}", summary))
    picks = res.to_dict()["chosen"]
    t = Table(title="methods chosen", title_justify="left")
    t.add_column("method")
    t.add_column("series", justify="right")
    for k, v in picks.items():
        t.add_row(k, str(v))
    console.print(t)
    daily = pd.DataFrame({"date": res.dates, "mean": res.mean.sum(axis=0)})
    d = Table(title="city total per day (mean; q10–q90 of the scenario sum)" if res.n_scenarios else "city total per day", title_justify="left")
    d.add_column("date")
    d.add_column("mean", justify="right")
    if res.n_scenarios:
        tot = res.scenarios.sum(axis=1)  # (K, H)
        d.add_column("q10", justify="right")
        d.add_column("q90", justify="right")
        for j, row in daily.iterrows():
            lo, hi = pd.Series(tot[:, j]).quantile([0.1, 0.9])
            d.add_row(str(row["date"]), fmt(float(row["mean"])), fmt(float(lo)), fmt(float(hi)))
    else:
        for _, row in daily.iterrows():
            d.add_row(str(row["date"]), fmt(float(row["mean"])))
    console.print(d)
    for n in res.notes:
        console.print(f"[yellow]note:[/] {n}")
    if out is not None:
        console.print(f"[green]wrote[/] {out}")


def backtest_cmd(
    instance: Annotated[Path | None, typer.Argument(help="Instance directory (or use --demand).")] = None,
    demand: Annotated[Path | None, typer.Option(help="Long CSV: date, sku, zone (optional), quantity.")] = None,
    methods: Annotated[str, typer.Option(help="Comma-separated methods to compare. " + METHOD_HELP)] = "auto",
    horizon: Annotated[int, typer.Option(help="Periods ahead per fold.")] = 28,
    folds: Annotated[int, typer.Option(help="Rolling origins.")] = 3,
    step: Annotated[int | None, typer.Option(help="Periods between origins (default: the horizon).")] = None,
    out: Annotated[Path | None, typer.Option(help="Metrics CSV to write.")] = None,
    segments: Annotated[bool, typer.Option(help="Also show the per-segment rows.")] = False,
    scenarios: Annotated[int, typer.Option(help="Scenarios per fold to check horizon totals (0 = skip).")] = 0,
    seed: SeedOpt = None,
    threads: Annotated[int | None, typer.Option(help="Threads for the tree model.")] = None,
    force: ForceOpt = False,
    json: JsonOpt = False,
) -> None:
    """Rolling-origin backtest: WMAPE, MASE, bias, pinball loss, interval coverage per method and segment."""
    from engine.forecast import backtest, read_demand_csv

    if (instance is None) == (demand is None):
        raise ConfigError("give either an INSTANCE directory or --demand CSV (not both)")
    replaced = check_output_file(out, force=force) if out is not None else None
    events = None
    base = Settings()
    if instance is not None:
        from engine.instance import load_instance

        inst = load_instance(instance)
        history, events, base = inst.demand, inst.events, inst.manifest.settings("forecast")
        source = str(instance)
    elif demand is not None:
        history = read_demand_csv(demand)
        source = str(demand)
    names = [m.strip() for m in methods.split(",") if m.strip()]
    res = backtest(history, horizon=horizon, folds=folds, step=step, methods=names, events=events,
                   settings=_settings(base, None, seed, threads), n_scenarios=scenarios)
    if out is not None:
        write_output_frame(out, res.to_frame(), force=force)
        say_replaced(replaced)
    if json:
        typer.echo(to_json_text(res.to_dict()), nl=False)
        return
    m = res.metrics
    rows = m[m["fold"] == "all"] if segments else res.overall()
    cov = [c for c in ("coverage_80", "pit_coverage_80", "sum_coverage_80", "sku_sum_coverage_80") if c in m.columns]
    t = Table(title=f"backtest {source}: {folds} fold(s) × {horizon} periods, origins {', '.join(map(str, res.origins))}",
              title_justify="left")
    cols = ["method", "segment", "n_series", "wmape", "mase", "bias", "pinball_scaled", *cov, "seconds"]
    heads = {"n_series": "series", "pinball_scaled": "pinball/Σy", "coverage_80": "cov 80%", "pit_coverage_80": "PIT 80%",
             "sum_coverage_80": "Σ cov 80%", "sku_sum_coverage_80": "SKU Σ cov 80%",
             "seconds": "s"}
    for c in cols:
        text = c in ("method", "segment")
        t.add_column(heads.get(c, c), justify="left" if text else "right", no_wrap=text)
    best = rows[rows["segment"] == "all"]["wmape"].min()
    for _, r in rows.iterrows():
        style = "bold green" if r["segment"] == "all" and r["wmape"] == best else None
        t.add_row(*[fmt(r[c]) if not isinstance(r[c], str) else r[c] for c in cols], style=style)
    console.print(t)
    for meth, picks in res.chosen.items():
        if meth == "auto":
            console.print("auto picked: " + ", ".join(f"{k} {v}" for k, v in picks.items()))
    for n in res.notes:
        console.print(f"[yellow]note:[/] {n}")
    if out is not None:
        console.print(f"[green]wrote[/] {out}")
