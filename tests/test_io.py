"""The output rule of engine.io: what an output may replace, the marker, and atomic swaps."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import EngineError, OutputError
from engine.io import (
    MARKER,
    atomic_dir,
    check_output_dir,
    check_output_file,
    read_marker,
    write_output_frame,
    write_output_text,
)


class Boom(RuntimeError):
    pass


def _user_folder(path: Path) -> dict[str, bytes]:
    """A folder of the user's own: a note and a nested file."""
    (path / "sub").mkdir(parents=True)
    (path / "notes.txt").write_bytes(b"my notes\n")
    (path / "sub" / "data.bin").write_bytes(bytes(range(256)))
    return _snapshot(path)


def _snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _write_output(path: Path, text: str = "1", *, force: bool = False, kind: str = "run") -> Path:
    with atomic_dir(path, force=force, kind=kind) as tmp:
        (tmp / "plan.csv").write_text(text)
    return path


def _leftovers(parent: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name not in keep)


def test_new_output_gets_a_marker_with_kind_command_version_and_time(tmp_path: Path) -> None:
    out = _write_output(tmp_path / "a" / "run", kind="run")
    assert (out / "plan.csv").read_text() == "1"
    marker = json.loads((out / MARKER).read_text())
    assert marker["kind"] == "run"
    assert marker["command"] and marker["nearstock_version"]
    created = dt.datetime.fromisoformat(marker["created"])
    assert abs((dt.datetime.now(dt.UTC) - created).total_seconds()) < 600
    assert read_marker(out) == marker


def test_empty_existing_directory_is_fine(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    assert check_output_dir(tmp_path / "out") is None
    _write_output(tmp_path / "out")
    assert (tmp_path / "out" / "plan.csv").read_text() == "1"


@pytest.mark.parametrize("force", [False, True])
def test_user_folder_is_never_replaced(tmp_path: Path, force: bool) -> None:
    target = tmp_path / "notes"
    before = _user_folder(target)
    with pytest.raises(OutputError, match=r"notes already exists and holds files nearstock did not write"):
        _write_output(target, force=force)
    assert _snapshot(target) == before
    assert _leftovers(tmp_path, {"notes"}) == []  # no temporary directory left behind


def test_refusal_comes_before_the_work(tmp_path: Path) -> None:
    _user_folder(tmp_path / "notes")
    ran = []
    with pytest.raises(OutputError), atomic_dir(tmp_path / "notes"):
        ran.append(True)
    assert ran == []


def test_a_file_is_not_replaced_by_a_directory(tmp_path: Path) -> None:
    (tmp_path / "out").write_bytes(b"keep")
    for force in (False, True):
        with pytest.raises(OutputError, match="is an existing file, not a directory"):
            _write_output(tmp_path / "out", force=force)
    assert (tmp_path / "out").read_bytes() == b"keep"


def test_a_symlink_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    _write_output(real)
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    with pytest.raises(OutputError, match="symbolic link"):
        _write_output(tmp_path / "link", "2", force=True)
    assert (real / "plan.csv").read_text() == "1"


def test_earlier_output_needs_force_and_says_what_it_replaces(tmp_path: Path) -> None:
    out = _write_output(tmp_path / "run", "1")
    with pytest.raises(OutputError, match=r"holds an earlier nearstock output \(run, created .*add --force"):
        _write_output(out, "2")
    assert (out / "plan.csv").read_text() == "1"
    replaced = check_output_dir(out, force=True)
    assert replaced is not None and replaced.path == out and "earlier nearstock output" in replaced.describe()
    _write_output(out, "2", force=True)
    assert (out / "plan.csv").read_text() == "2"
    assert read_marker(out) is not None
    assert _leftovers(tmp_path, {"run"}) == []


@pytest.mark.parametrize("content", ["", "not json", '{"kind": "run"}', "[1, 2]"])
def test_a_marker_nearstock_did_not_write_does_not_count(tmp_path: Path, content: str) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / MARKER).write_text(content)
    (target / "mine.txt").write_text("x")
    assert read_marker(target) is None
    with pytest.raises(OutputError, match="did not write"):
        _write_output(target, force=True)
    assert (target / "mine.txt").read_text() == "x"


def test_crash_mid_write_leaves_the_old_output(tmp_path: Path) -> None:
    out = _write_output(tmp_path / "run", "old")
    before = _snapshot(out)
    with pytest.raises(Boom), atomic_dir(out, force=True, kind="run") as tmp:
        (tmp / "plan.csv").write_text("half")
        raise Boom
    assert _snapshot(out) == before
    assert _leftovers(tmp_path, {"run"}) == []


def test_crash_on_a_fresh_path_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(Boom), atomic_dir(tmp_path / "new") as tmp:
        (tmp / "plan.csv").write_text("half")
        raise Boom
    assert list(tmp_path.iterdir()) == []


def test_a_user_folder_appearing_during_the_work_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with pytest.raises(OutputError, match="did not write"), atomic_dir(target) as tmp:
        (tmp / "plan.csv").write_text("new")
        before = _user_folder(target)
    assert _snapshot(target) == before
    assert _leftovers(tmp_path, {"out"}) == []


def test_output_error_is_an_engine_error() -> None:
    assert issubclass(OutputError, EngineError)


# --- single files ---------------------------------------------------------------------------

def test_file_written_then_refused_without_force(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "x.csv"
    write_output_frame(path, pd.DataFrame({"a": [1, 2]}))
    assert path.read_text() == "a\n1\n2\n"
    with pytest.raises(OutputError, match=r"x.csv already exists; add --force"):
        write_output_frame(path, pd.DataFrame({"a": [3]}))
    assert path.read_text() == "a\n1\n2\n"
    assert check_output_file(path, force=True) is not None
    write_output_frame(path, pd.DataFrame({"a": [3]}), force=True)
    assert path.read_text() == "a\n3\n"
    assert _leftovers(path.parent, {"x.csv"}) == []


def test_a_directory_is_never_replaced_by_a_file(tmp_path: Path) -> None:
    before = _user_folder(tmp_path / "d")
    for force in (False, True):
        with pytest.raises(OutputError, match="is an existing directory"):
            write_output_text(tmp_path / "d", "x", force=force)
    assert _snapshot(tmp_path / "d") == before


def test_file_crash_mid_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = write_output_text(tmp_path / "r.html", "old")

    class Frame(pd.DataFrame):
        def to_csv(self, *a: object, **k: object) -> None:  # type: ignore[override]
            raise Boom

    with pytest.raises(Boom):
        write_output_frame(tmp_path / "r.html", Frame({"a": [1]}), force=True)
    assert path.read_text() == "old"
    assert _leftovers(tmp_path, {"r.html"}) == []


@given(names=st.lists(st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=8),
                      min_size=1, max_size=4, unique_by=str.lower),
       payload=st.binary(max_size=64), force=st.booleans())
def test_any_user_folder_survives_byte_identical(tmp_path_factory: pytest.TempPathFactory,
                                                 names: list[str], payload: bytes, force: bool) -> None:
    root = tmp_path_factory.mktemp("prop")
    target = root / "out"
    target.mkdir()
    for n in names:
        (target / n).write_bytes(payload)
    before = _snapshot(target)
    with pytest.raises(OutputError):
        _write_output(target, force=force)
    assert _snapshot(target) == before
    assert _leftovers(root, {"out"}) == []


def test_replace_marked_section_swaps_only_between_the_markers_or_appends(tmp_path: Path) -> None:
    from engine.io import replace_marked_section

    b, e = "<!-- x:begin -->", "<!-- x:end -->"
    doc = tmp_path / "RESULTS.md"
    doc.write_text("# head\n\ntext\n", encoding="utf-8")
    replace_marked_section(doc, b, e, f"{b}\nold\n{e}\n")
    assert doc.read_text(encoding="utf-8") == f"# head\n\ntext\n\n{b}\nold\n{e}\n"
    doc.write_text(doc.read_text(encoding="utf-8") + "## after\n", encoding="utf-8")
    replace_marked_section(doc, b, e, f"{b}\nnew\n{e}\n")
    assert doc.read_text(encoding="utf-8") == f"# head\n\ntext\n\n{b}\nnew\n{e}\n## after\n"
