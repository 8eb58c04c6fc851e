"""`nearstock report`: the self-contained HTML report of a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.cli.common import ForceOpt, console
from engine.report import write_report


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("report")(report)
    app.command("compare")(compare)


def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `nearstock run`, or a horizon folder written by `nearstock simulate`.")],
    html: Annotated[Path | None, typer.Option("--html", help="Output HTML file (default: RUN_DIR/report.html).")] = None,
    force: ForceOpt = False,
) -> None:
    """Write one self-contained HTML page: map, scorecard, forecast fans, stock, on-time by hour, cost
    (for a `nearstock simulate` folder: the index, fill rate, stock and cost per order over the days,
    and the KPIs per segment).

    The report inside its own run directory is refreshed freely; any other existing file needs --force.
    """
    out = write_report(run_dir, html or run_dir / "report.html", force=force)
    console.print(f"[green]wrote[/] {out}")


def compare(
    run_a: Annotated[Path, typer.Argument(help="Baseline run directory.")],
    run_b: Annotated[Path, typer.Argument(help="Run directory to compare with it.")],
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Indicator and efficiency deltas of run B against run A (B − A)."""
    from rich.table import Table

    from engine.io import to_json_text
    from engine.report import compare_runs

    cmp = compare_runs(run_a, run_b)
    if json:
        typer.echo(to_json_text(cmp.to_dict()), nl=False)
        return
    t = Table(title=f"A = {run_a}   B = {run_b}   index {cmp.index_a:.1f} → {cmp.index_b:.1f}", title_justify="left")
    for c in ("indicator", "A", "B", "B − A", "95% CI of B − A", "better"):
        t.add_column(c, justify="left" if c in ("indicator", "better") else "right")
    for r in cmp.indicators.itertuples(index=False):
        share = r.unit == "share"

        def f(x: float, share: bool = share) -> str:
            return "–" if x != x else (f"{x:.1%}" if share else f"{x:.1f}")
        def g(x: float, share: bool = share) -> str:
            return "–" if x != x else (f"{x:+.1%}" if share else f"{x:+.1f}")
        ci = "–" if r.delta_low != r.delta_low else f"{g(r.delta_low)} … {g(r.delta_high)} ({r.test})"
        who = {"A": "[red]A[/]", "B": "[green]B[/]", "same": "same"}[r.better]
        t.add_row(r.label, f(r.a), f(r.b), g(r.delta), ci,
                  who + ("" if r.significant or r.better == "same" else " [dim](within noise)[/]"))
    console.print(t)
    e = Table(title="efficiency", title_justify="left")
    for c in ("metric", "A", "B", "B − A"):
        e.add_column(c, justify="left" if c == "metric" else "right")
    for r in cmp.efficiency.itertuples(index=False):
        e.add_row(r.metric.replace("_", " "), f"{r.a:,.3f}", f"{r.b:,.3f}", f"{r.delta:+,.3f}")
    console.print(e)
