"""`nearstock report`: the self-contained HTML report of a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.cli.common import console
from engine.report import write_report


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("report")(report)


def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `nearstock run`.")],
    html: Annotated[Path | None, typer.Option("--html", help="Output HTML file (default: RUN_DIR/report.html).")] = None,
) -> None:
    """Write one self-contained HTML page: map, scorecard, forecast fans, stock, on-time by hour, cost."""
    out = write_report(run_dir, html or run_dir / "report.html")
    console.print(f"[green]wrote[/] {out}")
