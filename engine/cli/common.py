"""Shared CLI pieces: the console, common options, rendering helpers."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.io import Replaced

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

SeedOpt = Annotated[int | None, typer.Option("--seed", help="Random seed (default: the instance's seed).")]
TimeLimitOpt = Annotated[float | None, typer.Option("--time-limit", help="Solver time limit in seconds.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an earlier nearstock output (or an existing "
                                        "output file). A folder nearstock did not write is never replaced.")]


def say_replaced(replaced: Replaced | None) -> None:
    """Tell the user (on stderr, so --json stays clean) what --force replaced."""
    if replaced is not None:
        err_console.print(f"[yellow]replaced[/] {escape(replaced.describe())}", soft_wrap=True)


def warn_failed_solves(failed: int, solves: int, first_at: str, error: object, outcome: str) -> None:
    """On stderr (so --json stays clean): how many dispatch solves failed, what became of their
    orders (``outcome``), and the first failure (where, ``first_at``, and its error)."""
    err_console.print(f"[bold yellow]warning:[/] {failed} of {solves} dispatch solves failed; {outcome} "
                      f"(first failure: {escape(first_at)}: {escape(str(error))})", soft_wrap=True)


def kv_table(title: str, rows: dict[str, Any]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for k, v in rows.items():
        table.add_row(str(k), fmt(v))
    return table


def fmt(v: Any) -> str:
    if isinstance(v, float):
        if v != v:  # NaN
            return "–"
        return f"{v:,.3f}" if abs(v) < 1000 else f"{v:,.0f}"
    if v is None:
        return "–"
    return str(v)
