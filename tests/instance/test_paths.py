"""Table files stay inside the instance directory, on reading and on writing (#13.2)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from engine.errors import InstanceError
from engine.instance import load_instance, validate_instance, write_instance
from engine.instance.manifest import table_path_problem
from tests.helpers import tiny_copy


def _set_table(root: Path, table: str, value: str) -> None:
    p = root / "instance.toml"
    text = p.read_text()
    assert "[tables]" not in text and "'" not in value
    p.write_text(text + f"\n[tables]\n{table} = '{value}'\n")  # a TOML literal string: no escapes


@pytest.mark.parametrize(("value", "code"), [
    ("/etc/passwd.csv", "outside_instance"),
    ("../demand.csv", "outside_instance"),
    ("data/../../demand.csv", "outside_instance"),
    ("C:/data/demand.csv", "outside_instance"),
    ("data\\demand.csv", "bad_path"),
    (".nearstock-output.csv", "bad_path"),
    ("data//demand.csv", "bad_path"),
    ("./demand.csv", "bad_path"),
    ("demand.txt", "wrong_type"),
])
def test_unsafe_table_entry_is_an_error_naming_file_and_key(tmp_path: Path, value: str, code: str) -> None:
    root = tiny_copy(tmp_path)
    _set_table(root, "demand", value)
    issues = validate_instance(root)
    hits = [i for i in issues if i.file == "instance.toml" and i.column == "tables.demand" and i.code == code]
    assert hits, "\n".join(map(str, issues))
    assert value.replace("\\", "\\\\") in hits[0].message or repr(value) in hits[0].message
    # nothing was opened at that path: no issue names the outside file
    assert not any(i.file == value for i in issues)


def test_symlink_out_of_the_instance_is_an_error(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    outside = tmp_path / "elsewhere.csv"
    (root / "demand.csv").rename(outside)
    (root / "history.csv").symlink_to(outside)
    _set_table(root, "demand", "history.csv")
    issues = validate_instance(root)
    hits = [i for i in issues if i.code == "outside_instance"]
    assert [(i.file, i.column) for i in hits] == [("instance.toml", "tables.demand")]
    assert "history.csv" in hits[0].message and str(outside.resolve()) in hits[0].message


def test_default_table_name_symlinked_outside_is_an_error(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    outside = tmp_path / "skus-elsewhere.csv"
    (root / "skus.csv").rename(outside)
    (root / "skus.csv").symlink_to(outside)
    issues = validate_instance(root)
    assert [(i.file, i.code) for i in issues if i.code == "outside_instance"] == [("skus.csv", "outside_instance")]


def test_symlink_inside_the_instance_and_subdirectory_are_fine(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    (root / "data").mkdir()
    (root / "demand.csv").rename(root / "data" / "demand.csv")
    os.symlink("data/demand.csv", root / "history.csv")
    _set_table(root, "demand", "history.csv")
    assert validate_instance(root) == []


def test_symlink_loop_is_reported_not_raised(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    (root / "skus.csv").unlink()
    (root / "skus.csv").symlink_to(root / "skus.csv")
    issues = validate_instance(root)
    assert any(i.file == "skus.csv" and i.code == "outside_instance" for i in issues)


def test_dot_files_in_the_instance_are_ignored(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    (root / ".nearstock-output").write_bytes(b"\x00\xffnot a table")
    (root / ".demand.csv").write_text("garbage,\n")
    load_instance(root)


@pytest.mark.parametrize("value", ["../escaped.csv", "/tmp/escaped.csv", ".hidden.csv"])
def test_write_instance_never_writes_outside_its_target(tmp_path: Path, value: str) -> None:
    inst = load_instance(tiny_copy(tmp_path))
    bad = dataclasses.replace(inst, manifest=dataclasses.replace(inst.manifest, tables={"demand": value}))
    target = tmp_path / "out" / "copy"
    with pytest.raises(InstanceError) as info:
        write_instance(bad, target)
    assert [(i.column, i.code) for i in info.value.issues][0][0] == "tables.demand"
    assert not target.exists()
    assert not (tmp_path / "out" / "escaped.csv").exists() and not Path("/tmp/escaped.csv").exists()


def test_write_instance_into_a_subdirectory_round_trips(tmp_path: Path) -> None:
    inst = load_instance(tiny_copy(tmp_path))
    moved = dataclasses.replace(inst, manifest=dataclasses.replace(inst.manifest, tables={"demand": "data/demand.csv.gz"}))
    out = write_instance(moved, tmp_path / "copy")
    assert (out / "data" / "demand.csv.gz").is_file()
    again = load_instance(out)
    assert len(again.demand) == len(inst.demand)


def test_path_rule_accepts_plain_relative_names() -> None:
    for ok in ("demand.csv", "demand.csv.gz", "big/demand.parquet", "a b/ü.csv"):
        assert table_path_problem(ok) is None, ok
    assert table_path_problem(3) is not None
    assert table_path_problem("x\x00.csv") is not None
