"""Fuzzing the instance loader (#13.8).

Each case starts from a small valid instance and applies a few random defects: cell values
(random text, huge integers, NaN/inf, quotes and line breaks), missing and extra columns, blank
lines, encodings (Latin-1, UTF-16, byte-order marks, NUL bytes, truncated or garbage bytes),
manifest keys and values (wrong types, unknown keys, huge numbers, unsafe table paths) and raw
manifest bytes. Properties:

- ``load_instance`` either returns an instance or raises an :class:`EngineError`; nothing else
  escapes, and ``validate_instance`` returns a list of well-formed issues;
- when the only defect is one bad cell, every cell-level issue in that column is reported on
  the physical line where the record starts (blank lines and quoted line breaks counted).

The fast variants run in CI (30 whole-instance and 170 single-table cases, a few seconds);
``test_loader_fuzz_slow`` runs 5 000 whole-instance cases (about 15 minutes on 2 shared cores).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import shutil
import tempfile
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import EngineError, InstanceError, Issue
from engine.instance import load_instance, validate_instance
from engine.instance.generate import generate_instance
from engine.instance.schema import TABLES
from engine.instance.tables import IssueLog, check_table, read_raw

CELL_CODES = {"missing_value", "not_a_number", "not_finite", "not_an_integer", "out_of_range", "not_a_bool",
              "not_a_date", "bad_choice"}
CODE = re.compile(r"^[a-z][a-z_]*$")
LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what the reader counts as the end of a physical line
LINE_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")
TABLE_FILES = {t.name: t.default_file for t in TABLES}


@cache
def _base() -> tuple[dict[str, Any], dict[str, list[list[str]]]]:
    """A small valid instance (manifest data, and every table's records as text)."""
    root = Path(tempfile.mkdtemp(prefix="nearstock-fuzz-base-")) / "base"
    generate_instance(root, preset="small", seed=5, skus=2, zones=2, warehouses=2, fleet=2, crowd=2, days=28,
                      daily_units=3.0)
    load_instance(root)
    manifest = tomllib.loads((root / "instance.toml").read_text())
    tables = {}
    for t in TABLES:
        path = root / t.default_file
        if path.exists():
            with path.open(newline="", encoding="utf-8") as fh:
                tables[t.name] = [list(r) for r in csv.reader(fh)]
    shutil.rmtree(root.parent)
    return manifest, tables


# --------------------------------------------------------------------------- strategies

_NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-1e400", "9" * 400, "0x1F", "1_000", "1,5",
                     "18446744073709551616", "-9223372036854775809", "1e-400", "+3", " 7", "٣"]),
)
_SPECIAL = st.sampled_from(["", " ", '"', '""', "\n", "\r\n", "a\nb", '"quoted"', ",", "true", "FALSE", "maybe",
                            "2026-02-30", "0001-01-01", "9999-12-31", "2026-06-01T10:00", "\x00", "\ufeff", "é",
                            "central", "forward", "x" * 300])
CELL = st.one_of(st.text(max_size=12), _NUMBERS, _SPECIAL)
COLUMN_NAME = st.one_of(st.text(max_size=8), st.sampled_from(["latitude", "x_note", "lat", "id", "", " id", "ID"]))

TOML_SCALAR = st.one_of(
    st.booleans(), st.integers(min_value=-(2**80), max_value=2**80), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10), st.dates(), st.datetimes(), st.times(),
    st.sampled_from(["../demand.csv", "/etc/passwd.csv", "sub/demand.csv", ".x.csv", "demand.parquet", "a\\b.csv",
                     "demand.csv.gz", "highs", "pyvrp", "decomp", "auto"]),
)
TOML_VALUE = st.recursive(TOML_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=6)


@dataclass
class Case:
    """The defects of one fuzz case."""

    cells: list[tuple[str, int, int, str]] = field(default_factory=list)  # table, row, column, value
    drops: list[tuple[str, int]] = field(default_factory=list)  # table, column
    extras: list[tuple[str, str, str]] = field(default_factory=list)  # table, column name, value
    blanks: list[tuple[str, int]] = field(default_factory=list)  # table, record index before which
    encodings: list[tuple[str, str]] = field(default_factory=list)  # table, how
    manifest_sets: list[tuple[tuple[str, ...], Any]] = field(default_factory=list)
    manifest_drops: list[tuple[str, ...]] = field(default_factory=list)
    manifest_bytes: str | None = None

    def only_one_cell(self) -> bool:
        return (len(self.cells) == 1 and not (self.drops or self.extras or self.encodings or self.manifest_sets
                                              or self.manifest_drops or self.manifest_bytes))


ENCODINGS = ["latin-1", "utf-16", "utf-16-nobom", "utf-8-bom", "nul", "truncate", "garbage", "gzip", "bad-gzip",
             "parquet-name", "empty"]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    manifest, tables = _base()
    names = sorted(tables)
    case = Case()
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["cell", "cell", "cell", "drop", "extra", "blank", "encoding", "mset", "mset",
                                     "mdrop", "mbytes"]))
        table = draw(st.sampled_from(names))
        width = len(tables[table][0])
        if kind == "cell":
            row = draw(st.integers(1, len(tables[table]) - 1))
            case.cells.append((table, row, draw(st.integers(0, width - 1)), draw(CELL)))
        elif kind == "drop":
            case.drops.append((table, draw(st.integers(0, width - 1))))
        elif kind == "extra":
            case.extras.append((table, draw(COLUMN_NAME), draw(CELL)))
        elif kind == "blank":
            case.blanks.append((table, draw(st.integers(0, len(tables[table])))))
        elif kind == "encoding":
            case.encodings.append((table, draw(st.sampled_from(ENCODINGS))))
        elif kind == "mset":
            case.manifest_sets.append((draw(_manifest_path(manifest)), draw(TOML_VALUE)))
        elif kind == "mdrop":
            case.manifest_drops.append(draw(_manifest_path(manifest)))
        else:
            case.manifest_bytes = draw(st.sampled_from(["truncate", "latin-1", "utf-16", "bom", "nul", "garbage"]))
    # line-number property: also blank lines and quoted line breaks around a single bad cell
    if case.only_one_cell() and draw(st.booleans()):
        table = case.cells[0][0]
        case.blanks += [(table, draw(st.integers(0, len(tables[table])))) for _ in range(draw(st.integers(1, 3)))]
    return case


def _paths(data: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, str(i)))
    return out


def _manifest_path(manifest: dict[str, Any]) -> st.SearchStrategy[tuple[str, ...]]:
    known = _paths(manifest) + [("tables", t) for t in TABLE_FILES] + [("solver", "dispatch", "options", "recombine")]
    return st.one_of(st.sampled_from(known),
                     st.tuples(st.sampled_from(known), st.text(min_size=1, max_size=6)).map(lambda p: (*p[0], p[1])))


# --------------------------------------------------------------------------- writing a case


def _set_path(data: Any, path: tuple[str, ...], value: Any, *, drop: bool = False) -> None:
    node = data
    for k in path[:-1]:
        if isinstance(node, list):
            if not k.isdigit() or int(k) >= len(node):
                return
            node = node[int(k)]
        elif isinstance(node, dict):
            node = node.setdefault(k, {})
        else:
            return
    last = path[-1]
    if isinstance(node, list):
        if last.isdigit() and int(last) < len(node):
            if drop:
                del node[int(last)]
            else:
                node[int(last)] = value
    elif isinstance(node, dict):
        if drop:
            node.pop(last, None)
        else:
            node[last] = value


def _csv_text(records: list[list[str]], blanks_before: list[int]) -> tuple[str, list[int]]:
    """CSV text of ``records`` with blank lines inserted; also the line each record starts on."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    starts = []
    line = 1
    for i, rec in enumerate(records):
        n_blank = blanks_before.count(i)
        out.write("\n" * n_blank)
        line += n_blank
        starts.append(line)
        before = out.tell()
        writer.writerow(rec)
        line += len(LINE_BREAK.findall(out.getvalue()[before:]))
    return out.getvalue(), starts


def _encode(text: str, how: str) -> bytes:
    raw = text.encode("utf-8")
    if how == "latin-1":
        return text.encode("latin-1", errors="replace") + "é\n".encode("latin-1")
    if how == "utf-16":
        return text.encode("utf-16")
    if how == "utf-16-nobom":
        return text.encode("utf-16-le")
    if how == "utf-8-bom":
        return codecs.BOM_UTF8 + raw
    if how == "nul":
        return raw[: len(raw) // 2] + b"\x00" + raw[len(raw) // 2:]
    if how == "truncate":
        return raw[: len(raw) // 3]
    if how == "garbage":
        return bytes(np.random.default_rng(len(raw)).integers(0, 256, 200, dtype=np.uint8))
    if how == "empty":
        return b""
    return raw


def write_case(case: Case, root: Path) -> dict[str, tuple[str, list[int]]]:
    """Write the instance of ``case`` into ``root``; per table: file name and record start lines."""
    manifest, tables = _base()
    manifest = tomllib.loads(tomli_w.dumps(manifest))  # a deep copy
    tables = {k: [list(r) for r in v] for k, v in tables.items()}
    for table, row, col, value in case.cells:
        tables[table][row][col] = value
    for table, name, value in case.extras:
        tables[table][0].append(name)
        for rec in tables[table][1:]:
            rec.append(value)
    for table, col in case.drops:
        if len(tables[table][0]) > col:
            for rec in tables[table]:
                del rec[col]
    files: dict[str, str] = {}
    for table, how in case.encodings:
        if how in ("gzip", "bad-gzip"):
            files[table] = TABLE_FILES[table] + ".gz"
        elif how == "parquet-name":
            files[table] = TABLE_FILES[table].replace(".csv", ".parquet")
    if files:
        manifest.setdefault("tables", {}).update(files)
    for path, value in case.manifest_sets:
        _set_path(manifest, path, value)
    for path in case.manifest_drops:
        _set_path(manifest, path, None, drop=True)

    root.mkdir(parents=True)
    text = tomli_w.dumps(manifest)
    if case.manifest_bytes is not None:
        (root / "instance.toml").write_bytes(_encode(text, {"bom": "utf-8-bom"}.get(case.manifest_bytes,
                                                                                   case.manifest_bytes)))
    else:
        (root / "instance.toml").write_text(text, encoding="utf-8")
    layout = {}
    encodings = dict(case.encodings)
    for table, records in tables.items():
        body, starts = _csv_text(records, [i for t, i in case.blanks if t == table])
        name = files.get(table, TABLE_FILES[table])
        how = encodings.get(table, "")
        data = _encode(body, how)
        if how == "gzip":
            data = gzip.compress(data, mtime=0)
        elif how == "bad-gzip":
            data = gzip.compress(data, mtime=0)[:20]
        (root / name).write_bytes(data)
        layout[table] = (name, starts)
    return layout


# --------------------------------------------------------------------------- the properties


def _check_issue(i: Issue, root: Path) -> None:
    assert isinstance(i, Issue) and isinstance(i.file, str) and i.file and isinstance(i.message, str) and i.message
    assert CODE.match(i.code), i
    assert i.column is None or isinstance(i.column, str)
    if i.row is not None:
        assert isinstance(i.row, int) and i.row >= 1, i
        path = root / i.file
        if i.file.endswith(".csv") and path.is_file() and not path.is_symlink():
            n_lines = len(LINE_BREAK_BYTES.findall(path.read_bytes())) + 1
            assert i.row <= n_lines, (i, n_lines)


def check_case(case: Case) -> None:
    with tempfile.TemporaryDirectory(prefix="nearstock-fuzz-") as tmp:
        root = Path(tmp) / "inst"
        layout = write_case(case, root)
        try:
            load_instance(root)
            loaded = True
        except EngineError as exc:  # only the engine's own errors may escape
            loaded = False
            assert isinstance(exc, InstanceError) and exc.issues
        issues = validate_instance(root)
        assert isinstance(issues, list)
        assert (issues == []) == loaded
        for i in issues:
            _check_issue(i, root)
        if case.only_one_cell():
            table, row, col, _ = case.cells[0]
            name, starts = layout[table]
            column = _base()[1][table][0][col]
            for i in issues:
                if i.file == name and i.column == column and i.code in CELL_CODES and i.row is not None:
                    assert i.row == starts[row], (i, starts[row], case)


FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(FUZZ, max_examples=30)
@given(cases())
def test_loader_fuzz(case: Case) -> None:
    check_case(case)


@pytest.mark.slow
@pytest.mark.timeout(7200)  # about 0.1-0.25 s a case: 10-20 minutes on 2 shared cores
@settings(FUZZ, max_examples=5000, derandomize=False)
@given(cases())
def test_loader_fuzz_slow(case: Case) -> None:
    check_case(case)


# one table, read and checked on its own: many more cases per second than a whole instance

@st.composite
def table_texts(draw: st.DrawFn) -> tuple[str, bytes]:
    _, tables = _base()
    table = draw(st.sampled_from(sorted(tables)))
    records = [list(r) for r in tables[table]]
    for _ in range(draw(st.integers(0, 4))):
        r = draw(st.integers(0, len(records) - 1))
        if records[r]:
            records[r][draw(st.integers(0, len(records[r]) - 1))] = draw(CELL)
    if draw(st.booleans()):
        r = draw(st.integers(0, len(records) - 1))
        records[r] = records[r][:-1] if draw(st.booleans()) else [*records[r], draw(CELL)]
    body, _ = _csv_text(records, draw(st.lists(st.integers(0, len(records)), max_size=3)))
    data = _encode(body, draw(st.sampled_from(["", "", "", *ENCODINGS[:8]])))
    if draw(st.booleans()):
        data = draw(st.binary(max_size=40)) + data[draw(st.integers(0, len(data))):]
    return table, data


@settings(FUZZ, max_examples=170)
@given(table_texts())
def test_table_reader_fuzz(case: tuple[str, bytes]) -> None:
    table, data = case
    spec = next(t for t in TABLES if t.name == table)
    with tempfile.TemporaryDirectory(prefix="nearstock-fuzz-") as tmp:
        path = Path(tmp) / spec.default_file
        path.write_bytes(data)
        log = IssueLog()
        raw = read_raw(path, log, spec.default_file)
        frame = None if raw is None else check_table(raw, spec, spec.default_file, log)
        issues = log.finish()
        if frame is None:
            assert issues, "a table that cannot be used must say why"
        else:
            assert list(frame.columns) == [c.name for c in spec.columns]
        for i in issues:
            _check_issue(i, Path(tmp))


def test_fuzz_base_instance_is_valid() -> None:
    with tempfile.TemporaryDirectory(prefix="nearstock-fuzz-") as tmp:
        write_case(Case(), Path(tmp) / "inst")
        assert validate_instance(Path(tmp) / "inst") == []
