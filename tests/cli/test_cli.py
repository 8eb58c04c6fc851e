"""The command line: thin commands, exit codes, JSON equal to the library's answer."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from engine.cli import app
from engine.instance import load_instance, validate_instance
from tests.helpers import set_cell, tiny_copy

runner = CliRunner()


def test_validate_ok(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    res = runner.invoke(app, ["validate", str(root)])
    assert res.exit_code == 0, res.output
    assert "valid" in res.output


def test_validate_reports_file_line_column_and_exit_1(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    set_cell(root / "fleet.csv", 2, "capacity_m3", "-4")
    res = runner.invoke(app, ["validate", str(root)])
    assert res.exit_code == 1
    assert "fleet.csv, line 2, column 'capacity_m3'" in res.output


def test_validate_json_matches_library(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    set_cell(root / "zones.csv", 3, "lat", "x")
    set_cell(root / "demand.csv", 2, "zone", "NOPE")
    res = runner.invoke(app, ["validate", str(root), "--json"])
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert data["valid"] is False
    assert data["issues"] == [i.to_dict() for i in validate_instance(root)]


def test_validate_json_valid(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    res = runner.invoke(app, ["validate", str(root), "--json"])
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["valid"] is True and data["summary"] == load_instance(root).summary()


def test_generate_then_validate(tmp_path: Path) -> None:
    out = tmp_path / "city"
    res = runner.invoke(app, ["generate", str(out), "--seed", "3", "--skus", "6", "--zones", "3", "--warehouses", "2",
                              "--fleet", "2", "--crowd", "2", "--history-days", "40"])
    assert res.exit_code == 0, res.output
    inst = load_instance(out)
    assert len(inst.skus) == 6 and len(inst.zones) == 3


def test_generate_bad_preset_is_a_clear_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["generate", str(tmp_path / "x"), "--preset", "huge"])
    assert res.exit_code == 1
    assert "unknown preset" in res.output
    assert not (tmp_path / "x").exists()


def test_an_error_message_is_printed_verbatim_not_as_markup(tmp_path: Path) -> None:
    """Users' text inside an error (a value, a path) may hold square brackets: rich must not read
    them as markup (a stray ``[/x]`` used to crash the error handler with a traceback)."""
    res = runner.invoke(app, ["run", str(tiny_copy(tmp_path)), "--policy", "[/x]bad[bold]",
                              "--out", str(tmp_path / "out")])
    assert res.exit_code == 1, res.output
    assert "got '[/x]bad[bold]'" in res.output
