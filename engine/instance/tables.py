"""Reading one table file and checking it against its :class:`~engine.instance.schema.Table`.

Cells are read as text and converted column by column with vectorised pandas operations;
every bad cell becomes an :class:`~engine.errors.Issue` naming file, line and column. At most
``MAX_PER_KIND`` issues of one kind (file, column, code) are listed one by one; the rest are
counted in one summary issue, so a systematic defect in a million-row file stays readable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import Issue
from engine.instance.schema import Column, Table

MAX_PER_KIND = 25
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


class IssueLog:
    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self._counts: dict[tuple[str, str | None, str], int] = {}

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
    try:
        if path.name.endswith(".parquet"):
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        log.add(name, None, None, "empty_file", "the file is empty: expected a header line with the column names")
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        log.add(name, None, None, "unreadable", f"cannot be read as a table: {exc}".strip())
    return None


def _lines(mask: np.ndarray) -> np.ndarray:
    # data row i (0-based) is on line i + 2: line 1 is the header
    return np.flatnonzero(mask) + 2


def _text(series: pd.Series) -> pd.Series:
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        return series.astype(str).str.strip()
    return series.astype(str)


def convert_column(raw: pd.Series, col: Column, file: str, log: IssueLog) -> tuple[pd.Series, np.ndarray]:
    """Convert one column; returns the typed series and a mask of rows that are unusable."""
    text = _text(raw)
    empty = (text == "").to_numpy() | raw.isna().to_numpy()
    if empty.any():
        log.add_rows(file, _lines(empty), col.name, "missing_value", f"empty cell: expected {_expected(col)}")
    bad = empty.copy()

    if col.kind in ("id", "str"):
        values = text
    elif col.kind in ("float", "int"):
        values = pd.to_numeric(raw if pd.api.types.is_numeric_dtype(raw) else text, errors="coerce").astype(float)
        arr = values.to_numpy()
        lower = text.str.lower()
        named_nonfinite = lower.isin(["nan", "inf", "-inf", "+inf", "infinity", "-infinity"]).to_numpy()
        not_number = np.isnan(arr) & ~empty & ~named_nonfinite
        nonfinite = (named_nonfinite | (np.isinf(arr))) & ~empty
        if not_number.any():
            shown = text.to_numpy()[not_number]
            log.add_rows(file, _lines(not_number), col.name, "not_a_number",
                         [f"expected a number, got {v!r}" for v in shown])
        if nonfinite.any():
            log.add_rows(file, _lines(nonfinite), col.name, "not_finite", "expected a finite number, got NaN or infinity")
        bad |= not_number | nonfinite
        ok = ~bad
        if col.kind == "int":
            frac = ok & (np.abs(arr - np.round(arr)) > 1e-9)
            if frac.any():
                log.add_rows(file, _lines(frac), col.name, "not_an_integer",
                             [f"expected a whole number, got {v:g}" for v in arr[frac]])
            bad |= frac
            ok = ~bad
        if col.min is not None:
            low = ok & ((arr <= col.min) if col.min_exclusive else (arr < col.min))
            if low.any():
                log.add_rows(file, _lines(low), col.name, "out_of_range",
                             [f"expected {col.range_text()}{_unit(col)}, got {v:g}" for v in arr[low]])
            bad |= low
        if col.max is not None:
            high = ok & (arr > col.max)
            if high.any():
                log.add_rows(file, _lines(high), col.name, "out_of_range",
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
                log.add_rows(file, _lines(wrong), col.name, "not_a_bool",
                             [f"expected true or false, got {v!r}" for v in text.to_numpy()[wrong]])
            bad |= wrong
            values = pd.Series(is_true, index=raw.index)
    elif col.kind == "date":
        if pd.api.types.is_datetime64_any_dtype(raw):
            values = raw.dt.normalize()
        else:
            values = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        wrong = values.isna().to_numpy() & ~empty
        if wrong.any():
            log.add_rows(file, _lines(wrong), col.name, "not_a_date",
                         [f"expected a date YYYY-MM-DD, got {v!r}" for v in text.to_numpy()[wrong]])
        bad |= wrong
        values = values.astype("datetime64[ns]")
    else:  # pragma: no cover
        raise TypeError(col.kind)

    if col.choices is not None and col.kind in ("id", "str"):
        wrong = ~text.isin(list(col.choices)).to_numpy() & ~empty
        if wrong.any():
            log.add_rows(file, _lines(wrong), col.name, "bad_choice",
                         [f"expected one of {', '.join(col.choices)}, got {v!r}" for v in text.to_numpy()[wrong]])
        bad |= wrong
    return values, bad


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
    dupes = raw.columns[raw.columns.duplicated()].tolist()
    for c in dupes:
        log.add(file, 1, c, "duplicate_column", "column appears more than once in the header")
    missing = [c.name for c in spec.columns if c.name not in raw.columns and not c.optional]
    for c in missing:
        log.add(file, 1, c, "missing_column",
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
            log.add_rows(file, _lines(wrong), rule.hi, "window_order",
                         [f"{rule.hi} ({b:g}) must be after {rule.lo} ({a:g})" for a, b in zip(lo[wrong], hi[wrong], strict=True)])
    for col in spec.columns:
        if col.kind in ("id", "str"):
            frame[col.name] = frame[col.name].astype(object)
    return frame


def _dtype(col: Column) -> str:
    return {"id": "object", "str": "object", "int": "int64", "float": "float64", "bool": "bool", "date": "datetime64[ns]"}[col.kind]


def _check_key(frame: pd.DataFrame, spec: Table, file: str, log: IssueLog) -> None:
    if not spec.key:
        return
    dup = frame.duplicated(list(spec.key), keep=False).to_numpy()
    if not dup.any():
        return
    keyed = frame.loc[dup, list(spec.key)]
    firsts: dict[tuple, int] = {}
    lines = _lines(dup)
    for line, key in zip(lines, keyed.itertuples(index=False, name=None), strict=True):
        if key in firsts:
            shown = ", ".join(f"{k}={_show(v)}" for k, v in zip(spec.key, key, strict=True))
            log.add(file, int(line), spec.key[-1] if len(spec.key) == 1 else ",".join(spec.key), "duplicate_key",
                    f"duplicate {shown}: first seen on line {firsts[key]}")
        else:
            firsts[key] = int(line)


def _show(v: object) -> str:
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    return str(v)
