"""Reading one table file and checking it against its :class:`~engine.instance.schema.Table`.

Cells are read as text and converted column by column with vectorised pandas operations;
every bad cell becomes an :class:`~engine.errors.Issue` naming file, line and column. At most
``MAX_PER_KIND`` issues of one kind (file, column, code) are listed one by one; the rest are
counted in one summary issue, so a systematic defect in a million-row file stays readable.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import gzip
import io
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from engine.errors import Issue
from engine.instance.schema import DATE_MAX, DATE_MIN, EXTRA_PREFIX, Column, Table

MAX_PER_KIND = 25
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


class IssueLog:
    """Issues of one load, and where each table's rows are in their file.

    ``rows(file, mask)`` turns a mask over a table's rows into physical line numbers of the
    file: the line on which each record starts, so blank lines and quoted cells spanning lines
    are counted as they are in an editor. Without a recorded line map (Parquet), row ``i`` is
    reported as line ``i + 2``, as if the header were line 1.
    """

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self._counts: dict[tuple[str, str | None, str], int] = {}
        self._lines: dict[str, np.ndarray] = {}
        self._header_line: dict[str, int] = {}

    def set_lines(self, file: str, header_line: int, lines: np.ndarray) -> None:
        self._header_line[file] = header_line
        self._lines[file] = lines

    def header_line(self, file: str) -> int:
        return self._header_line.get(file, 1)

    def rows(self, file: str, mask: np.ndarray) -> np.ndarray:
        """Line numbers of the rows of ``file`` selected by ``mask``."""
        mask = np.asarray(mask, dtype=bool)
        lines = self._lines.get(file)
        if lines is None or len(lines) != len(mask):
            return np.flatnonzero(mask) + 2
        return lines[mask]

    def add(self, file: str, row: int | None, column: str | None, code: str, message: str) -> None:
        kind = (file, column, code)
        n = self._counts.get(kind, 0) + 1
        self._counts[kind] = n
        if n <= MAX_PER_KIND:
            self.issues.append(Issue(file, row, column, code, message))

    def add_rows(self, file: str, lines: np.ndarray, column: str | None, code: str, messages: list[str] | str) -> None:
        if isinstance(messages, str):
            messages = [messages] * len(lines)
        for line, msg in zip(lines, messages, strict=True):
            self.add(file, int(line), column, code, msg)

    def has_issues(self, file: str) -> bool:
        """Whether any issue was logged for ``file`` so far."""
        return any(k[0] == file for k in self._counts)

    def finish(self) -> list[Issue]:
        out = list(self.issues)
        for (file, column, code), n in self._counts.items():
            if n > MAX_PER_KIND:
                out.append(Issue(file, None, column, code, f"... and {n - MAX_PER_KIND} more rows with the same problem ({n} in all)"))
        return out


def read_raw(path: Path, log: IssueLog, name: str) -> pd.DataFrame | None:
    """Read a table file as text (CSV) or as stored (Parquet); ``None`` after logging a failure."""
    if path.name.endswith(".parquet"):
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # whatever the bytes of the file make the Parquet reader raise
            log.add(name, None, None, "unreadable", f"cannot be read as Parquet: {exc}".strip())
            return None
        return frame.rename(columns=str)
    try:
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        log.add(name, None, None, "unreadable", f"cannot be read: {getattr(exc, 'strerror', None) or exc}")
        return None
    text = _decode(data, log, name)
    if text is None:
        return None
    fast = _parse_regular(data.removeprefix(codecs.BOM_UTF8), log, name)
    return fast if fast is not None else _parse_csv(text, log, name)


def _decode(data: bytes, log: IssueLog, name: str) -> str | None:
    """The file as text: UTF-8, with or without a byte-order mark."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        log.add(name, None, None, "bad_encoding",
                "the file is UTF-16 (or UTF-32) text: tables are UTF-8; save it again as UTF-8")
        return None
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        log.add(name, line, None, "bad_encoding",
                f"not UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded (a Latin-1 or Windows-1252 "
                "file? tables are UTF-8; save it again as UTF-8)")
        return None
    nul = text.find("\x00")
    if nul >= 0:
        log.add(name, text.count("\n", 0, nul) + 1, None, "nul_byte",
                "the file contains a NUL byte (binary data, or UTF-16 text without a byte-order mark?): "
                "tables are UTF-8 text")
        return None
    return text


_FIELD_LIMIT = csv.field_size_limit()  # longer lines take the record-by-record path (which reports them)


def _parse_regular(data: bytes, log: IssueLog, name: str) -> pd.DataFrame | None:
    """The fast path of :func:`_parse_csv` for a regular file, or ``None`` to take the slow path.

    Regular: no quote character, no bare carriage return, no blank line between records, and
    every record has the header's field count. Then every record is one physical line, so the
    line map is known from the newline positions alone, and Arrow's CSV reader reads the cells
    as text (spaces around cells are kept: every cell is stripped when it is converted).
    Everything else (including every file with a record-level problem) goes through the
    record-by-record reader, which reports it; a regular file gives the same frame and line map.
    """
    if not data or b'"' in data:
        return None
    b = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(b == 10)
    ends = newlines if b[-1] == 10 else np.append(newlines, b.size)  # end (exclusive) of each line
    starts = np.concatenate([[0], newlines + 1])[: ends.size]
    cr = np.flatnonzero(b == 13)
    if cr.size and (cr[-1] + 1 >= b.size or (b[cr + 1] != 10).any()):
        return None  # a carriage return that ends a record on its own
    if int((ends - starts).max()) >= _FIELD_LIMIT:
        return None
    commas = np.flatnonzero(b == 44)
    n_commas = np.searchsorted(commas, ends) - np.searchsorted(commas, starts)
    # a line without a comma is a record of one field: blank (skipped) or, in a table of
    # several columns, a wrong field count; either way it is looked at one by one
    single = np.flatnonzero(n_commas == 0)
    if single.size > 1000:
        return None
    blank = np.zeros(ends.size, dtype=bool)
    for i in single:
        if data[starts[i] : ends[i]].decode("utf-8").strip():
            return None
        blank[i] = True
    data_lines = np.flatnonzero(~blank)
    if data_lines.size == 0:
        return None
    head, rows = int(data_lines[0]), data_lines[1:]
    width = int(n_commas[head]) + 1
    if rows.size and (rows[0] != head + 1 or rows[-1] != head + rows.size):
        return None  # blank lines between records
    if (n_commas[rows] != width - 1).any():
        return None
    header = [c.strip() for c in data[starts[head] : ends[head]].decode("utf-8").split(",")]
    if not rows.size:
        return None  # a header alone: the slow path gives the empty frame
    names = [str(i) for i in range(width)]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(data).slice(int(starts[rows[0]]), int(ends[rows[-1]] - starts[rows[0]]))),
            read_options=pacsv.ReadOptions(column_names=names),
            parse_options=pacsv.ParseOptions(quote_char=False, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid:  # pragma: no cover - a parser disagreement: the slow path reports it
        return None
    if table.num_rows != rows.size:  # pragma: no cover - likewise
        return None
    frame = table.to_pandas()
    del table
    log.set_lines(name, head + 1, (rows + 1).astype(np.int64))
    return frame.set_axis(header, axis=1)


def _blank(record: list[str]) -> bool:
    return not record or (len(record) == 1 and not record[0].strip())


def _parse_csv(text: str, log: IssueLog, name: str) -> pd.DataFrame | None:
    """Parse CSV text, remembering the physical line on which every record starts.

    Blank lines are skipped; a record whose field count differs from the header's is reported
    and left out. Cells stay text (stripped of leading spaces after a comma).
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, skipinitialspace=True)
    records: list[list[str]] = []
    starts: list[int] = []
    end = 0  # the last physical line read so far
    try:
        if '"' not in text:  # no quoting: every record is one line, numbered in order
            records = list(reader)
            starts = list(range(1, len(records) + 1))
        else:
            for record in reader:
                records.append(record)
                starts.append(end + 1)
                end = reader.line_num
    except csv.Error as exc:
        line = end + 1 if '"' in text else reader.line_num
        what = ("a quoted cell starting on this line is never closed" if "end of data" in str(exc)
                else f"malformed CSV: {exc}")
        log.add(name, line, None, "bad_quoting", what)
        return None
    keep = [i for i, r in enumerate(records) if not _blank(r)]
    if not keep:
        log.add(name, None, None, "empty_file", "the file is empty: expected a header line with the column names")
        return None
    header = [c.strip() for c in records[keep[0]]]
    width = len(header)
    rows: list[list[str]] = []
    lines: list[int] = []
    for i in keep[1:]:
        if len(records[i]) != width:
            log.add(name, starts[i], None, "wrong_field_count",
                    f"the row has {len(records[i])} fields but the header has {width} "
                    "(an unquoted comma in a cell, or a missing or extra separator?)")
            continue
        rows.append(records[i])
        lines.append(starts[i])
    log.set_lines(name, starts[keep[0]], np.asarray(lines, dtype=np.int64))
    if not rows:
        return pd.DataFrame({j: pd.Series(dtype=object) for j in range(width)}).set_axis(header, axis=1)
    return pd.DataFrame(rows, columns=header, dtype=object)


def _text(series: pd.Series) -> pd.Series:
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        return series.astype(str).str.strip()
    return series.astype(str)


def convert_column(raw: pd.Series, col: Column, file: str, log: IssueLog) -> tuple[pd.Series, np.ndarray]:
    """Convert one column; returns the typed series and a mask of rows that are unusable."""
    text = _text(raw)
    empty = (text == "").to_numpy() | raw.isna().to_numpy()
    if empty.any():
        log.add_rows(file, log.rows(file, empty), col.name, "missing_value", f"empty cell: expected {_expected(col)}")
    bad = empty.copy()

    if col.kind in ("id", "str"):
        values = text
    elif col.kind in ("float", "int"):
        if pd.api.types.is_numeric_dtype(raw):
            values = pd.to_numeric(raw, errors="coerce").astype(float)
        else:
            values = pd.Series(_by_unique(text, lambda u: pd.to_numeric(u, errors="coerce").astype(float)),
                               index=raw.index)
        arr = values.to_numpy()
        # a cell that reads as NaN or infinity may spell it out (only those cells are looked at)
        odd = ~np.isfinite(arr)
        named_nonfinite = np.zeros(len(arr), dtype=bool)
        if odd.any():
            named_nonfinite[odd] = text[odd].str.lower().isin(
                ["nan", "inf", "-inf", "+inf", "infinity", "-infinity"]).to_numpy()
        not_number = np.isnan(arr) & ~empty & ~named_nonfinite
        nonfinite = named_nonfinite & ~empty
        huge = np.isinf(arr) & ~empty & ~named_nonfinite  # digits beyond the float range
        if huge.any():
            log.add_rows(file, log.rows(file, huge), col.name, "out_of_range",
                         f"the number is too large: expected {col.range_text()}{_unit(col)}")
        bad |= huge
        if not_number.any():
            shown = text.to_numpy()[not_number]
            log.add_rows(file, log.rows(file, not_number), col.name, "not_a_number",
                         [f"expected a number, got {v!r}" for v in shown])
        if nonfinite.any():
            log.add_rows(file, log.rows(file, nonfinite), col.name, "not_finite", "expected a finite number, got NaN or infinity")
        bad |= not_number | nonfinite
        ok = ~bad
        if col.kind == "int":
            finite = np.where(ok, arr, 0.0)
            frac = ok & (np.abs(finite - np.round(finite)) > 1e-9)
            if frac.any():
                log.add_rows(file, log.rows(file, frac), col.name, "not_an_integer",
                             [f"expected a whole number, got {v:g}" for v in arr[frac]])
            bad |= frac
            ok = ~bad
        if col.min is not None:
            low = ok & ((arr <= col.min) if col.min_exclusive else (arr < col.min))
            if low.any():
                log.add_rows(file, log.rows(file, low), col.name, "out_of_range",
                             [f"expected {col.range_text()}{_unit(col)}, got {v:g}" for v in arr[low]])
            bad |= low
        if col.max is not None:
            high = ok & (arr > col.max)
            if high.any():
                log.add_rows(file, log.rows(file, high), col.name, "out_of_range",
                             [f"expected {col.range_text()}{_unit(col)}, got {v:g}" for v in arr[high]])
            bad |= high
        if col.kind == "int":
            values = pd.Series(np.where(bad, 0, np.round(np.nan_to_num(arr))).astype(np.int64), index=raw.index)
    elif col.kind == "bool":
        if pd.api.types.is_bool_dtype(raw):
            values = raw.astype(bool)
        else:
            lower = text.str.lower()
            is_true = lower.isin(list(_TRUE)).to_numpy()
            is_false = lower.isin(list(_FALSE)).to_numpy()
            wrong = ~(is_true | is_false) & ~empty
            if wrong.any():
                log.add_rows(file, log.rows(file, wrong), col.name, "not_a_bool",
                             [f"expected true or false, got {v!r}" for v in text.to_numpy()[wrong]])
            bad |= wrong
            values = pd.Series(is_true, index=raw.index)
    elif col.kind == "date":
        if pd.api.types.is_datetime64_any_dtype(raw):
            values = raw.dt.normalize()
        else:
            values = pd.Series(_by_unique(text, lambda u: pd.to_datetime(u, format="%Y-%m-%d", errors="coerce")),
                               index=raw.index)
        wrong = values.isna().to_numpy() & ~empty
        if wrong.any():
            log.add_rows(file, log.rows(file, wrong), col.name, "not_a_date",
                         [f"expected a date YYYY-MM-DD, got {v!r}" for v in text.to_numpy()[wrong]])
        bad |= wrong
        far = (values.notna() & ((values < pd.Timestamp(DATE_MIN)) | (values > pd.Timestamp(DATE_MAX)))).to_numpy()
        if far.any():
            log.add_rows(file, log.rows(file, far), col.name, "out_of_range",
                         [f"expected a date from {DATE_MIN} to {DATE_MAX}, got {v!r}" for v in text.to_numpy()[far]])
            values = values.where(~far)
        bad |= far
        values = values.astype("datetime64[ns]")
    else:  # pragma: no cover
        raise TypeError(col.kind)

    if col.choices is not None and col.kind in ("id", "str"):
        wrong = ~text.isin(list(col.choices)).to_numpy() & ~empty
        if wrong.any():
            log.add_rows(file, log.rows(file, wrong), col.name, "bad_choice",
                         [f"expected one of {', '.join(col.choices)}, got {v!r}" for v in text.to_numpy()[wrong]])
        bad |= wrong
    return values, bad


def _by_unique(text: pd.Series, convert) -> np.ndarray:
    """``convert`` applied to each distinct cell once, spread back over the rows.

    A big table repeats few distinct values (dates, quantities), so this is the same
    conversion cell by cell at a fraction of the cost."""
    codes, uniques = pd.factorize(text, use_na_sentinel=False)
    out = np.asarray(convert(pd.Series(uniques, dtype=text.dtype)))
    return out[codes]


def _unit(col: Column) -> str:
    return f" {col.unit}" if col.unit and col.unit != "currency" else ""


def _expected(col: Column) -> str:
    base = {"id": "an id", "str": "a text", "int": "a whole number", "float": "a number",
            "bool": "true or false", "date": "a date YYYY-MM-DD"}[col.kind]
    rng = col.range_text()
    return f"{base} ({rng})" if rng else base


def check_table(raw: pd.DataFrame, spec: Table, file: str, log: IssueLog) -> pd.DataFrame | None:
    """Type and range checks of one table; returns the typed frame (columns in schema order)."""
    raw = raw.rename(columns=lambda c: str(c).strip())
    head = log.header_line(file)
    dupes = list(dict.fromkeys(raw.columns[raw.columns.duplicated()].tolist()))
    for c in dupes:
        log.add(file, head, c, "duplicate_column", "column appears more than once in the header")
    known = [c.name for c in spec.columns]
    for pos, c in enumerate(raw.columns, start=1):
        if c == "":
            log.add(file, head, None, "unnamed_column",
                    f"header field {pos} has no name (a trailing comma?); expected some of {', '.join(known)}")
        elif c not in known and not c.startswith(EXTRA_PREFIX):
            close = _closest(c, known)
            hint = f"did you mean {close!r}? " if close else ""
            log.add(file, head, c, "unknown_column",
                    f"unknown column; {hint}expected some of {', '.join(known)} "
                    f"(columns of your own must start with {EXTRA_PREFIX!r})")
    missing = [c for c in known if c not in raw.columns and not spec.column(c).optional]
    for c in missing:
        log.add(file, head, c, "missing_column",
                f"required column is missing; the header has: {', '.join(map(str, raw.columns)) or '(nothing)'}")
    if missing or dupes:
        return None
    if spec.nonempty and len(raw) == 0:
        log.add(file, None, None, "empty_table", f"the table has no rows: {spec.description.lower()} needs at least one")
    out: dict[str, pd.Series] = {}
    for col in spec.columns:
        if col.name not in raw.columns:
            out[col.name] = pd.Series([col.default] * len(raw), index=raw.index, dtype=_dtype(col))
            continue
        values, _ = convert_column(raw[col.name], col, file, log)
        out[col.name] = values
    frame = pd.DataFrame(out, index=pd.RangeIndex(len(raw)))
    _check_key(frame, spec, file, log)
    for rule in spec.orders:
        lo, hi = frame[rule.lo].to_numpy(), frame[rule.hi].to_numpy()
        wrong = ~(lo < hi) & np.isfinite(lo) & np.isfinite(hi)
        if wrong.any():
            log.add_rows(file, log.rows(file, wrong), rule.hi, "window_order",
                         [f"{rule.hi} ({b:g}) must be after {rule.lo} ({a:g})" for a, b in zip(lo[wrong], hi[wrong], strict=True)])
    for col in spec.columns:
        if col.kind in ("id", "str"):
            frame[col.name] = frame[col.name].astype(object)
    return frame


def _closest(name: str, known: list[str]) -> str | None:
    """The known column ``name`` most likely stands for: a spelling slip, or a longer form (latitude)."""
    low = name.lower()
    if low in known:
        return low
    close = difflib.get_close_matches(low, known, n=1, cutoff=0.6)
    if close:
        return close[0]
    longer = [k for k in known if len(k) >= 3 and low.startswith(k)]
    return max(longer, key=len) if longer else None


def _dtype(col: Column) -> str:
    return {"id": "object", "str": "object", "int": "int64", "float": "float64", "bool": "bool", "date": "datetime64[ns]"}[col.kind]


def _check_key(frame: pd.DataFrame, spec: Table, file: str, log: IssueLog) -> None:
    if not spec.key:
        return
    dup = _duplicated(frame, list(spec.key))
    if not dup.any():
        return
    keyed = frame.loc[dup, list(spec.key)]
    firsts: dict[tuple, int] = {}
    lines = log.rows(file, dup)
    for line, key in zip(lines, keyed.itertuples(index=False, name=None), strict=True):
        if key in firsts:
            shown = ", ".join(f"{k}={_show(v)}" for k, v in zip(spec.key, key, strict=True))
            log.add(file, int(line), spec.key[-1] if len(spec.key) == 1 else ",".join(spec.key), "duplicate_key",
                    f"duplicate {shown}: first seen on line {firsts[key]}")
        else:
            firsts[key] = int(line)


def _duplicated(frame: pd.DataFrame, key: list[str]) -> np.ndarray:
    """``frame.duplicated(key, keep=False)``, through one integer code per row when they fit."""
    codes, size = np.zeros(len(frame), dtype=np.int64), 1
    for c in key:
        col, n = pd.factorize(frame[c], use_na_sentinel=False)
        if size * max(len(n), 1) >= 2**62:
            return frame.duplicated(key, keep=False).to_numpy()
        codes = codes * max(len(n), 1) + col
        size *= max(len(n), 1)
    return pd.Series(codes).duplicated(keep=False).to_numpy()


def _show(v: object) -> str:
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    return str(v)
