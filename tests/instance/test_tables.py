"""CSV reading: line numbers, header checks, encodings, field counts (#13.3)."""

from __future__ import annotations

import codecs
import gzip
from pathlib import Path

import pytest

from engine.errors import Issue
from engine.instance import load_instance, validate_instance
from tests.helpers import tiny_copy


def _issues(root: Path, code: str) -> list[Issue]:
    return [i for i in validate_instance(root) if i.code == code]


def _rewrite(path: Path, edit) -> None:
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8", newline="")


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def test_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    zones = root / "zones.csv"
    lines = _lines(zones)
    # two blank lines after the header and one more before the bad record
    bad = lines[2].split(",")
    bad[1] = "north"
    lines = [lines[0], "\n", "\n", lines[1], "\n", ",".join(bad), *lines[3:]]
    zones.write_text("".join(lines), encoding="utf-8")
    hits = _issues(root, "not_a_number")
    assert [(i.file, i.row, i.column) for i in hits] == [("zones.csv", 6, "lat")]
    assert lines[5].startswith(bad[0])  # line 6 of the file is that record


def test_line_numbers_count_quoted_multiline_cells(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    skus = root / "skus.csv"
    lines = _lines(skus)
    first = lines[1].split(",")
    first[1] = '"two\nline\ncategory"'  # the category cell of line 2 spans lines 2-4
    third = lines[3].split(",")
    third[3] = "-5"  # unit_value of the third record: now on line 6 (was line 4)
    skus.write_text("".join([lines[0], ",".join(first), lines[2], ",".join(third), *lines[4:]]),
                    encoding="utf-8")
    hits = _issues(root, "out_of_range")
    assert [(i.file, i.row, i.column) for i in hits] == [("skus.csv", 6, "unit_value")]
    inst_issues = [i for i in validate_instance(root) if i.file == "skus.csv"]
    assert len(inst_issues) == 1


def test_line_numbers_with_crlf_and_cross_table_checks(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    demand = root / "demand.csv"
    lines = _lines(demand)
    row = lines[3].split(",")
    row[1] = "S-unknown"
    lines[3] = ",".join(row)
    text = "".join([lines[0], "\n", *lines[1:]]).replace("\n", "\r\n")
    demand.write_bytes(text.encode())
    hits = _issues(root, "unknown_reference")
    assert [(i.file, i.row, i.column) for i in hits] == [("demand.csv", 5, "sku")]


def test_unknown_column_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    _rewrite(root / "zones.csv", lambda t: t.replace("weight", "wieght", 1))
    _rewrite(root / "crowd.csv", lambda t: t.replace("lat,", "latitude,", 1))
    hits = {(i.file, i.row, i.column): i for i in _issues(root, "unknown_column")}
    assert set(hits) == {("zones.csv", 1, "wieght"), ("crowd.csv", 1, "latitude")}
    assert "did you mean 'weight'?" in hits[("zones.csv", 1, "wieght")].message
    assert "did you mean 'lat'?" in hits[("crowd.csv", 1, "latitude")].message
    # latitude replaced a required column: that is reported as well
    assert any(i.file == "crowd.csv" and i.column == "lat" for i in _issues(root, "missing_column"))


def test_unknown_column_header_line_follows_leading_blank_lines(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    _rewrite(root / "skus.csv", lambda t: "\n\n" + t.replace("fragile", "fragil", 1))
    assert [(i.row, i.column) for i in _issues(root, "unknown_column")] == [(3, "fragil")]


def test_x_prefixed_columns_are_allowed_and_ignored(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    lines = _lines(root / "zones.csv")
    lines = [lines[0].rstrip("\n") + ",x_district\n"] + [ln.rstrip("\n") + ",north\n" for ln in lines[1:]]
    (root / "zones.csv").write_text("".join(lines), encoding="utf-8")
    inst = load_instance(root)
    assert "x_district" not in inst.zones.columns


def test_duplicate_header_names(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    lines = _lines(root / "zones.csv")
    lines = [lines[0].rstrip("\n") + ",lat\n"] + [ln.rstrip("\n") + ",1.0\n" for ln in lines[1:]]
    (root / "zones.csv").write_text("".join(lines), encoding="utf-8")
    assert [(i.file, i.row, i.column) for i in _issues(root, "duplicate_column")] == [("zones.csv", 1, "lat")]


def test_trailing_comma_header_is_an_unnamed_column(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    _rewrite(root / "zones.csv", lambda t: t.replace("\n", ",\n"))
    assert [(i.file, i.row) for i in _issues(root, "unnamed_column")] == [("zones.csv", 1)]


def test_wrong_field_count_names_the_line(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    lines = _lines(root / "warehouses.csv")
    lines[2] = lines[2].rstrip("\n") + ",extra\n"
    lines[3] = ",".join(lines[3].split(",")[:-2]) + "\n"
    (root / "warehouses.csv").write_text("".join(lines), encoding="utf-8")
    hits = _issues(root, "wrong_field_count")
    assert [(i.file, i.row) for i in hits] == [("warehouses.csv", 3), ("warehouses.csv", 4)]


def test_unclosed_quote_names_the_line_where_it_starts(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    lines = _lines(root / "skus.csv")
    lines[4] = lines[4].replace(",", ',"', 1)
    (root / "skus.csv").write_text("".join(lines), encoding="utf-8")
    assert [(i.file, i.row) for i in _issues(root, "bad_quoting")] == [("skus.csv", 5)]


@pytest.mark.parametrize(("encode", "code", "line"), [
    (lambda t: t.encode("utf-16"), "bad_encoding", None),
    (lambda t: (t.rsplit("\n", 3)[0] + "\nZé,1,2,3,4\n").encode("latin-1"), "bad_encoding", "last"),
    (lambda t: t.replace("\n", "\n\x00", 1).encode(), "nul_byte", 2),
])
def test_bad_encodings_are_reported(tmp_path: Path, encode, code: str, line) -> None:
    root = tiny_copy(tmp_path)
    path = root / "zones.csv"
    text = path.read_text()
    path.write_bytes(encode(text))
    hits = [i for i in validate_instance(root) if i.file == "zones.csv"]
    assert [i.code for i in hits] == [code]
    if line == "last":
        assert hits[0].row == text.rsplit("\n", 3)[0].count("\n") + 2
    else:
        assert hits[0].row == line


def test_utf8_bom_is_accepted_also_gzipped(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    path = root / "zones.csv"
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())
    skus = root / "skus.csv"
    (root / "instance.toml").write_text((root / "instance.toml").read_text() + '\n[tables]\nskus = "skus.csv.gz"\n')
    (root / "skus.csv.gz").write_bytes(gzip.compress(codecs.BOM_UTF8 + skus.read_bytes()))
    skus.unlink()
    inst = load_instance(root)
    assert list(inst.zones.columns)[0] == "id" and len(inst.skus) > 0


def test_corrupt_gzip_is_unreadable(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    (root / "instance.toml").write_text((root / "instance.toml").read_text() + '\n[tables]\nskus = "skus.csv.gz"\n')
    (root / "skus.csv.gz").write_bytes(gzip.compress((root / "skus.csv").read_bytes())[:40])
    assert [i.file for i in _issues(root, "unreadable")] == ["skus.csv.gz"]


def test_huge_numbers_are_out_of_range(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    lines = _lines(root / "orders.csv")
    header = lines[0].rstrip("\n").split(",")
    q = header.index("quantity")
    for n, value in ((1, "99999999999999999999"), (2, "9" * 400), (3, "1000000001")):
        cells = lines[n].split(",")
        cells[q] = value
        lines[n] = ",".join(cells)
    (root / "orders.csv").write_text("".join(lines), encoding="utf-8")
    hits = [i for i in _issues(root, "out_of_range") if i.file == "orders.csv"]
    hits.sort(key=lambda i: i.row or 0)
    assert [(i.row, i.column) for i in hits] == [(2, "quantity"), (3, "quantity"), (4, "quantity")]
    assert "too large" in hits[1].message and "<= 1e+09" in hits[0].message


def test_dates_outside_the_documented_range(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    lines = _lines(root / "events.csv")
    for n, value in ((1, "0001-01-01"), (2, "9999-12-31")):
        cells = lines[n].split(",")
        cells[0] = value
        lines[n] = ",".join(cells)
    (root / "events.csv").write_text("".join(lines), encoding="utf-8")
    hits = [i for i in _issues(root, "out_of_range") if i.file == "events.csv"]
    assert [(i.row, i.column) for i in hits] == [(2, "date"), (3, "date")]
