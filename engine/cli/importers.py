"""`nearstock import olist`: build an instance from the Olist public e-commerce dataset."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from engine.cli.common import ForceOpt, JsonOpt, console, err_console, kv_table, say_replaced
from engine.importers import PRESETS, REGIONS, config_for, import_olist
from engine.io import check_output_dir, to_json_text

importer = typer.Typer(help="Build instances from real public data.", no_args_is_help=True)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.add_typer(importer, name="import")


@importer.command("olist")
def olist(
    src: Annotated[Path, typer.Argument(help="Folder holding the Olist CSVs (olist_orders_dataset.csv.gz, ...).")],
    out: Annotated[Path, typer.Option("--out", help="Instance directory to write (new, empty, or an earlier output with --force).")],
    region: Annotated[str, typer.Option(help=f"Region: {', '.join(REGIONS)}, 'state:SP,RJ' or 'city:campinas/SP'.")] = "sp-state",
    name: Annotated[str | None, typer.Option(help="Instance name (default: from the preset).")] = None,
    start_date: Annotated[str | None, typer.Option(help="First planning day YYYY-MM-DD (default 2018-08-01).")] = None,
    history_days: Annotated[int | None, typer.Option(help="Days of demand history before the start date.")] = None,
    order_days: Annotated[int | None, typer.Option(help="Days of realised orders from the start date.")] = None,
    scale: Annotated[float | None, typer.Option(help="Volume factor (1 = the sample as it is; recorded in the manifest).")] = None,
    scale_reason: Annotated[str | None, typer.Option(help="Why this factor (recorded in the manifest notes).")] = None,
    max_skus: Annotated[int | None, typer.Option(help="Top product categories kept as SKUs; the rest become 'other'.")] = None,
    size_classes: Annotated[bool | None, typer.Option("--size-classes/--no-size-classes", help="SKU = category x size class.")] = None,
    warehouses: Annotated[int | None, typer.Option(help="Forward warehouses (weighted k-medians of demand).")] = None,
    zone_digits: Annotated[int | None, typer.Option(help="Zip digits per zone: 5 = zip prefix, 3 = zip sector.")] = None,
    pool_days: Annotated[int | None, typer.Option(help="Scaling: a day's volume is the mean of the real days within ± this.")] = None,
    repeat_within_days: Annotated[int | None, typer.Option(
        help="Segments: an earlier order makes a repeat customer only within this many days (0: any earlier day).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the resampling and synthetic couriers.")] = None,
    force: ForceOpt = False,
    json: JsonOpt = False,
) -> None:
    """Import the Olist dataset (CC BY-NC-SA 4.0) as a validated instance; scaling is recorded in its manifest."""
    replaced = check_output_dir(out, force=force)
    if start_date is not None:
        try:
            start = dt.date.fromisoformat(start_date)
        except ValueError:
            raise typer.BadParameter(f"--start-date expects YYYY-MM-DD, got {start_date!r}") from None
    else:
        start = None
    cfg = config_for(region, name=name, start_date=start, history_days=history_days, order_days=order_days,
                     scale=scale, scale_reason=scale_reason, max_skus=max_skus, size_classes=size_classes,
                     warehouses=warehouses, zone_digits=zone_digits, pool_days=pool_days, seed=seed,
                     repeat_within_days=repeat_within_days)
    if scale is not None and scale_reason is None:
        cfg = cfg.with_(scale_reason="set on the command line (--scale)" if scale != 1.0 else "not scaled")
    if name is None and region.strip().lower() not in PRESETS:
        cfg = cfg.with_(name=out.name or cfg.name)
    result = import_olist(src, out, cfg, overwrite=force)
    say_replaced(replaced)
    if json:
        typer.echo(to_json_text(result.to_dict()), nl=False)
        return
    notes = result.notes
    console.print(f"[green]wrote[/] {out}  ({cfg.region.label()}, licence {notes['source']['licence']})")
    console.print(kv_table("instance", result.instance.summary()))
    v = notes["volume"]
    console.print(kv_table("volume scaling", {"factor": v["factor"], "reason": v["reason"],
                                              "real lines/day": v["real_lines_per_day"],
                                              "instance lines/day": v["instance_lines_per_day"]}))
    seg = notes["segments"]
    console.print(kv_table("customer segments (real shares, from customer_unique_id histories)",
                           {k: f"{v:.2%}" for k, v in seg["real_shares"].items()}))
    b = notes["baseline"]
    console.print(kv_table("real Olist service baseline (" + b["scope"] + ")", {
        "delivered orders": b["orders"], "late share": f"{b['late_share']:.1%}",
        "median purchase→delivery days": b["median_delivery_days"],
        "p90 purchase→delivery days": b["delivery_days_quantiles"]["p90"],
        "median promised days": b["median_promised_days"]}))
    for w in result.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(str(w))}")
