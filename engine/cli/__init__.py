"""The ``nearstock`` command line: thin commands over the public API.

Every command parses its arguments, calls one library function and renders the result.
Errors a user can cause (:class:`engine.errors.EngineError`) are printed as one clear message
with exit code 1; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from engine.cli.common import err_console
from engine.errors import EngineError, InstanceError

_DEBUG = {"on": False}


class _Group(TyperGroup):
    """Click group that turns EngineError into a message and exit code 1."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EngineError as exc:
            if _DEBUG["on"]:
                raise
            if isinstance(exc, InstanceError):
                err_console.print(f"[bold red]error:[/] instance {escape(repr(exc.path))} is invalid: {len(exc.issues)} problem(s)")
                for issue in exc.issues:
                    err_console.print(f"  - {issue}", markup=False, soft_wrap=True)
            else:
                err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    name="nearstock",
    help="Forecast demand, stock forward warehouses, dispatch couriers, and score service quality.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench = typer.Typer(cls=_Group, help="Benchmark solver settings on instances and standard problems.", no_args_is_help=True)
app.add_typer(bench, name="bench")


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False) -> None:
    _DEBUG["on"] = debug


# Command modules; each exposes register(app, bench). Stage modules land as their stages do.
for _name in ("instance", "run", "report", "benchmark", "forecast", "stocking", "dispatch", "importers", "simulate"):
    try:
        _mod = importlib.import_module(f"engine.cli.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"engine.cli.{_name}":
            raise
        continue
    _mod.register(app, bench)


def main() -> None:
    app(prog_name="nearstock")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
