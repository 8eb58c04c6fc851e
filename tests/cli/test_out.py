"""`--out` never deletes a user's files: every writing command against the output rule.

Directory commands: a folder of the user's is refused (exit 1, untouched, also with --force);
an earlier output of the command needs --force; a crash before the swap leaves the old output.
File commands: an existing file needs --force, a directory is never replaced by a file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.instance import load_instance, validate_instance
from engine.io import MARKER
from tests.helpers import tiny_copy

runner = CliRunner()

TINY_VRPTW = ("T1\n\nVEHICLE\nNUMBER     CAPACITY\n  2         10\n\nCUSTOMER\n"
              "CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n\n"
              "0 0 0 0 0 100 0\n1 3 4 5 0 50 1\n2 6 8 5 0 50 1\n3 0 5 6 0 50 1\n")

# each directory-writing command, as arguments for (instance, out), with the shortest settings
DIR_COMMANDS: dict[str, Callable[[Path, Path], list[str]]] = {
    "run": lambda inst, out: ["run", str(inst), "--out", str(out), "--forecast", "seasonal_naive",
                              "--stocking", "newsvendor", "--dispatch", "ortools", "--dispatch-time-limit", "0.3",
                              "--replications", "1", "--scenarios", "5", "--seed", "1"],
    "dispatch": lambda inst, out: ["dispatch", str(inst), "--backend", "ortools", "--time-limit", "0.2",
                                   "--wave-min", "600", "--out", str(out)],
    "stock": lambda inst, out: ["stock", str(inst), "--backend", "newsvendor", "--forecast", "seasonal_naive",
                                "--scenarios", "5", "--out", str(out)],
    "forecast": lambda inst, out: ["forecast", str(inst), "--method", "seasonal_naive", "--horizon", "3",
                                   "--scenarios", "3", "--out", str(out)],
    "generate": lambda inst, out: ["generate", str(out), "--seed", "2", "--skus", "4", "--zones", "3",
                                   "--warehouses", "2", "--fleet", "2", "--crowd", "2", "--history-days", "30"],
}
KIND = {"run": "run", "dispatch": "dispatch", "stock": "stock", "forecast": "forecast", "generate": "instance"}


def _text(res) -> str:  # noqa: ANN001
    return " ".join(res.output.split())  # rich wraps long messages


def _snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _user_folder(path: Path) -> dict[str, bytes]:
    path.mkdir(parents=True)
    (path / "notes.md").write_bytes(b"# my notes\nnothing to lose\n")
    (path / "old").mkdir()
    (path / "old" / "plan.csv").write_bytes(b"sku,units\nA,1\n")
    return _snapshot(path)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_copy(tmp_path_factory.mktemp("out-cli"))


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
@pytest.mark.parametrize("command", sorted(DIR_COMMANDS))
def test_a_user_folder_is_refused_and_left_byte_identical(command: str, force: bool, tiny: Path,
                                                          tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    before = _user_folder(notes)
    args = DIR_COMMANDS[command](tiny, notes) + (["--force"] if force else [])
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    assert "holds files nearstock did not write" in _text(res) and str(notes) in _text(res)
    assert _snapshot(notes) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]  # no temporary left behind


@pytest.mark.parametrize("command", sorted(DIR_COMMANDS))
def test_a_file_where_the_folder_goes_is_refused(command: str, tiny: Path, tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_bytes(b"keep me")
    res = runner.invoke(app, [*DIR_COMMANDS[command](tiny, target), "--force"])
    assert res.exit_code == 1 and "is an existing file, not a directory" in _text(res)
    assert target.read_bytes() == b"keep me"


@pytest.mark.parametrize("command", sorted(DIR_COMMANDS))
def test_own_output_is_replaced_only_with_force_and_a_crash_keeps_it(
        command: str, tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    args = DIR_COMMANDS[command](tiny, out)
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    marker = json.loads((out / MARKER).read_text())
    assert marker["kind"] == KIND[command] and marker["nearstock_version"]
    before = _snapshot(out)

    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert "holds an earlier nearstock output" in _text(again) and "add --force" in _text(again)
    assert _snapshot(out) == before

    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert f"replaced earlier nearstock output {out}" in _text(forced)
    assert json.loads((out / MARKER).read_text())["kind"] == KIND[command]
    assert set(_snapshot(out)) == set(before)  # the same files, written afresh
    before = _snapshot(out)

    def crash(*_a: object, **_k: object) -> None:
        raise RuntimeError("power cut")

    # the files are all written into the temporary directory; the process dies before the swap
    monkeypatch.setattr("engine.io.marker_data", crash)
    crashed = runner.invoke(app, [*args, "--force"])
    assert crashed.exit_code != 0 and isinstance(crashed.exception, RuntimeError)
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_instance_with_marker_loads_and_validates_clean(tmp_path: Path) -> None:
    out = tmp_path / "city"
    res = runner.invoke(app, DIR_COMMANDS["generate"](tmp_path, out))
    assert res.exit_code == 0, res.output
    assert (out / MARKER).is_file()
    assert validate_instance(out) == []
    assert load_instance(out).summary()["skus"] == 4
    ok = runner.invoke(app, ["validate", str(out), "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["issues"] == []


# --- commands writing one file ----------------------------------------------------------------

@pytest.fixture(scope="module")
def run_dir(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out-run") / "run"
    res = runner.invoke(app, DIR_COMMANDS["run"](tiny, out))
    assert res.exit_code == 0, res.output
    return out


def _file_commands(tmp: Path, tiny: Path, run_dir: Path) -> dict[str, Callable[[Path], list[str]]]:
    vrptw = tmp / "T1.txt"
    vrptw.write_text(TINY_VRPTW)
    return {
        "bench vrptw": lambda out: ["bench", "vrptw", str(vrptw), "--backend", "ortools", "--time-limit", "0.2",
                                    "--out", str(out)],
        "bench stocking": lambda out: ["bench", "stocking", "--sizes", "6x2x3x3", "--backends", "newsvendor",
                                       "--time-limit", "1", "--out", str(out)],
        "backtest": lambda out: ["backtest", str(tiny), "--methods", "seasonal_naive", "--horizon", "3",
                                 "--folds", "1", "--out", str(out)],
        "report": lambda out: ["report", str(run_dir), "--html", str(out)],
    }


FILE_COMMANDS = ["backtest", "bench stocking", "bench vrptw", "report"]


@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_file_outputs_replace_an_existing_file_only_with_force(command: str, tiny: Path, run_dir: Path,
                                                               tmp_path: Path) -> None:
    make = _file_commands(tmp_path, tiny, run_dir)[command]
    target = tmp_path / "mine.csv"
    target.write_bytes(b"precious\n")
    res = runner.invoke(app, make(target))
    assert res.exit_code == 1 and "already exists; add --force" in _text(res)
    assert target.read_bytes() == b"precious\n"

    folder = tmp_path / "folder"
    before = _user_folder(folder)
    res = runner.invoke(app, [*make(folder), "--force"])
    assert res.exit_code == 1 and "is an existing directory" in _text(res)
    assert _snapshot(folder) == before

    res = runner.invoke(app, [*make(target), "--force"])
    assert res.exit_code == 0, res.output
    assert target.read_bytes() != b"precious\n" and target.stat().st_size > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_report_in_its_own_run_directory_is_refreshed_without_force(run_dir: Path) -> None:
    for args in (["report", str(run_dir)], ["report", str(run_dir), "--html", str(run_dir / "report.html")]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        assert (run_dir / "report.html").stat().st_size > 10_000
    # ... but not a run file it would overwrite with HTML
    before = (run_dir / "run.json").read_bytes()
    res = runner.invoke(app, ["report", str(run_dir), "--html", str(run_dir / "run.json")])
    assert res.exit_code == 1 and (run_dir / "run.json").read_bytes() == before
