"""`nearstock import olist --out` follows the output rule (see tests/cli/test_out.py)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from engine.cli import app
from engine.instance import load_instance, validate_instance
from engine.io import MARKER

runner = CliRunner()
ARGS = ["--region", "sp-city", "--scale", "1", "--history-days", "30", "--start-date", "2018-06-01",
        "--max-skus", "3", "--warehouses", "2"]


def _text(res) -> str:  # noqa: ANN001
    return " ".join(res.output.split())


def test_import_refuses_a_user_folder_even_with_force(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_bytes(b"call the bank\n")
    # refused before the source is read: the source need not even exist
    res = runner.invoke(app, ["import", "olist", str(tmp_path / "no-such-source"), "--out", str(notes), "--force"])
    assert res.exit_code == 1 and "holds files nearstock did not write" in _text(res)
    assert [p.name for p in notes.iterdir()] == ["todo.txt"]
    assert (notes / "todo.txt").read_bytes() == b"call the bank\n"


def test_import_replaces_its_own_instance_only_with_force(olist_slice: Path, tmp_path: Path) -> None:
    out = tmp_path / "city"
    args = ["import", "olist", str(olist_slice), "--out", str(out), *ARGS]
    assert runner.invoke(app, args).exit_code == 0
    assert json.loads((out / MARKER).read_text())["kind"] == "instance"
    assert (out / "README.md").is_file() and validate_instance(out) == []
    orders = (out / "orders.csv").read_bytes()
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "add --force" in _text(again)
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert "replaced earlier nearstock output" in _text(forced)
    assert (out / "orders.csv").read_bytes() == orders  # same inputs, same instance
    assert load_instance(out).summary()["skus"] > 0
