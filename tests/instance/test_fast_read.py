"""The loader's fast path for big regular tables reports exactly what the record-by-record path does (#17).

``tables._parse_regular`` reads a file without quotes, bare carriage returns or interior blank
lines whose records all have the header's field count; anything else goes through the csv-module
reader. Both must give the same typed frame and the same issues (file, line, column, code,
message), so the tests below run every text both ways: once as the loader does, once with the
fast path switched off.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import Issue
from engine.instance import tables
from engine.instance.schema import TABLES
from engine.instance.tables import IssueLog, check_table, read_raw
from tests.instance.test_fuzz import CELL, _base

SPECS = {t.name: t for t in TABLES}


def _read(data: bytes, table: str, *, fast: bool, name: str = "t.csv") -> tuple[pd.DataFrame | None, list[Issue]]:
    spec = SPECS[table]
    with tempfile.TemporaryDirectory(prefix="nearstock-fast-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        log = IssueLog()
        with mock.patch.object(tables, "_parse_regular", tables._parse_regular if fast else (lambda *a: None)):
            raw = read_raw(path, log, name)
            frame = None if raw is None else check_table(raw, spec, name, log)
        return frame, log.finish()


def _same(data: bytes, table: str) -> list[Issue]:
    f_fast, i_fast = _read(data, table, fast=True)
    f_slow, i_slow = _read(data, table, fast=False)
    assert i_fast == i_slow
    assert (f_fast is None) == (f_slow is None)
    if f_fast is not None:
        pd.testing.assert_frame_equal(f_fast, f_slow)
    return i_fast


def _demand_text(n: int) -> list[list[str]]:
    dates = pd.date_range("2026-01-01", periods=n // 4 + 1).strftime("%Y-%m-%d")
    return [["date", "sku", "zone", "quantity"]] + [[dates[i // 4], f"S{i % 4}", f"Z{i % 3}", str(i % 5 + 1)]
                                                    for i in range(n)]


def _join(records: list[list[str]], eol: str = "\n") -> bytes:
    return "".join(",".join(r) + eol for r in records).encode()


def test_a_regular_table_takes_the_fast_path() -> None:
    log = IssueLog()
    frame = tables._parse_regular(_join(_demand_text(50), "\r\n"), log, "d.csv")
    assert frame is not None and len(frame) == 50
    assert log.rows("d.csv", np.ones(50, dtype=bool)).tolist() == list(range(2, 52))
    assert _same(_join(_demand_text(50), "\r\n"), "demand") == []


# (what is planted on data row 700 of 2 000, the code of the first issue, its column)
PLANTED = [
    ("quantity", "abc", "not_a_number"),
    ("quantity", "-1", "out_of_range"),
    ("quantity", "2e9", "out_of_range"),
    ("quantity", "", "missing_value"),
    ("quantity", "NaN", "not_finite"),
    ("quantity", "1e400", "out_of_range"),
    ("date", "2026-13-01", "not_a_date"),
    ("date", "1899-12-31", "out_of_range"),
    ("sku", "", "missing_value"),
    (None, "extra,field", "wrong_field_count"),
    (None, '"quoted"', "not_a_number"),
]


@pytest.mark.parametrize(("column", "value", "code"), PLANTED)
@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_planted_error_is_reported_the_same_on_the_same_line(column: str | None, value: str, code: str,
                                                             eol: str) -> None:
    records = _demand_text(2000)
    row = 700  # data row 700 = line 701 of the file
    if column is None:
        records[row][3] = value  # a comma makes five fields; a quote is parsed away by the slow path
    else:
        records[row][records[0].index(column)] = value
    issues = _same(_join(records, eol), "demand")
    first = issues[0]
    assert (first.file, first.row, first.code) == ("t.csv", row + 1, code)
    assert first.column == (column if column else (None if code == "wrong_field_count" else "quantity"))


def test_the_same_duplicate_key_report() -> None:
    records = _demand_text(3000)
    records[2500] = list(records[10])
    issues = _same(_join(records), "demand")
    assert [(i.row, i.code) for i in issues] == [(2501, "duplicate_key")]
    assert "first seen on line 11" in issues[0].message


# --------------------------------------------------------------------------- property

_PLAIN = st.text(alphabet=st.characters(blacklist_characters='",\r\n\x00', blacklist_categories=("Cs",)), max_size=8)


@st.composite
def regular_texts(draw: st.DrawFn) -> tuple[str, bytes]:
    """A table of the small base instance, with defects that keep it regular or just break it."""
    _, base = _base()
    table = draw(st.sampled_from(sorted(base)))
    records = [list(r) for r in base[table]] * draw(st.integers(1, 3))
    records = [records[0]] + records[1:]
    for _ in range(draw(st.integers(0, 4))):
        r = draw(st.integers(1, max(len(records) - 1, 1))) if len(records) > 1 else 0
        c = draw(st.integers(0, len(records[r]) - 1))
        records[r] = list(records[r])
        records[r][c] = draw(st.one_of(_PLAIN, CELL))
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [",".join(r) for r in records]
    for _ in range(draw(st.integers(0, 2))):  # blank or whitespace-only lines, anywhere
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["", " ", "\t", " \t "])))
    text = eol.join(lines) + (eol if draw(st.booleans()) else "")
    return table, text.encode("utf-8", errors="surrogatepass")


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(regular_texts())
def test_fast_and_slow_paths_report_the_same(case: tuple[str, bytes]) -> None:
    table, data = case
    _same(data, table)
