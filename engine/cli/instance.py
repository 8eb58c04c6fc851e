"""`nearstock validate` and `nearstock generate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.cli.common import ForceOpt, JsonOpt, console, kv_table, say_replaced
from engine.errors import InstanceError
from engine.instance import load_instance
from engine.instance.generate import PRESETS, generate_instance
from engine.io import check_output_dir, to_json_text


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("validate")(validate)
    app.command("generate")(generate)


def validate(
    path: Annotated[Path, typer.Argument(help="Instance directory.")],
    json: JsonOpt = False,
) -> None:
    """Check an instance: every problem with file, line and column. Exit 1 when invalid."""
    try:
        inst = load_instance(path)
    except InstanceError as exc:
        if json:
            typer.echo(to_json_text({"valid": False, "path": str(path), "issues": [i.to_dict() for i in exc.issues]}), nl=False)
            raise typer.Exit(1) from None
        raise
    if json:
        typer.echo(to_json_text({"valid": True, "path": str(path), "issues": [], "summary": inst.summary()}), nl=False)
        return
    console.print(f"[green]valid[/] {path}")
    console.print(kv_table("instance", inst.summary()))


def generate(
    out_dir: Annotated[Path, typer.Argument(help="Directory to write the instance into (new, empty, or an earlier output with --force).")],
    preset: Annotated[str, typer.Option(help=f"Size preset: {', '.join(PRESETS)}.")] = "small",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes byte-identical files.")] = 0,
    skus: Annotated[int | None, typer.Option(help="Number of SKUs.")] = None,
    zones: Annotated[int | None, typer.Option(help="Number of demand zones.")] = None,
    warehouses: Annotated[int | None, typer.Option(help="Number of forward warehouses.")] = None,
    fleet: Annotated[int | None, typer.Option(help="Number of fleet couriers.")] = None,
    crowd: Annotated[int | None, typer.Option(help="Number of crowdsourced couriers.")] = None,
    days: Annotated[int | None, typer.Option("--days", help="Planning days of realised orders from the planning start (default 2; a horizon of weeks needs that many).")] = None,
    history_days: Annotated[int | None, typer.Option("--history-days", help="Days of demand history.")] = None,
    daily_units: Annotated[float | None, typer.Option(help="Mean units per day over the city.")] = None,
    roads: Annotated[bool, typer.Option("--roads/--no-roads", help="Also write a road graph (street grid with a river and a few bridges); travel is then routed on it.")] = False,
    force: ForceOpt = False,
) -> None:
    """Generate a synthetic city instance."""
    replaced = check_output_dir(out_dir, force=force)
    inst = generate_instance(out_dir, preset=preset, seed=seed, skus=skus, zones=zones, warehouses=warehouses,
                             fleet=fleet, crowd=crowd, days=history_days, order_days=days,
                             daily_units=daily_units, roads=roads,
                             overwrite=force)
    say_replaced(replaced)
    console.print(f"[green]wrote[/] {out_dir}")
    console.print(kv_table("instance", inst.summary()))
