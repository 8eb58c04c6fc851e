"""From a long demand table to a dense panel: one row per series, one column per period.

Everything the models see goes through :func:`build_panel`, which is also where bad input is
caught: missing columns, non-numeric or negative quantities, duplicate keys, gaps, a start
date inside the history. Each problem is either a :class:`ForecastInputError` naming the rows,
or a documented fallback recorded in ``Panel.notes`` (and so in the forecast's ``notes``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import EngineError

PSEUDO_ZONE = "_all"  # zone given to every series when the history has no zone column


class ForecastInputError(EngineError):
    """The demand history or event calendar cannot be forecast as given."""


@dataclass(frozen=True, slots=True)
class Panel:
    """Dense history of N series over T periods plus the calendar of the next ``h`` periods.

    ``y[i, t]`` is the demand of series ``i`` in period ``dates[t]``; ``dates`` holds the T
    history periods followed by the ``h`` future ones, so methods can read calendar and event
    features of the days they forecast. ``ev`` (T + h, E) are event features per period.
    """

    y: np.ndarray  # (N, T) float64, finite, >= 0
    dates: pd.DatetimeIndex  # T + h periods
    series: pd.DataFrame  # sku, zone; row i = series i
    freq: str  # "D" (daily) or "W" (weekly)
    ev: np.ndarray  # (T + h, E) float64
    ev_names: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def t(self) -> int:
        return int(self.y.shape[1])

    @property
    def h(self) -> int:
        return len(self.dates) - self.t

    @property
    def season_week(self) -> int | None:
        """Periods in a week-long season (None for weekly data: no within-week pattern)."""
        return 7 if self.freq == "D" else None

    @property
    def season_year(self) -> int:
        """Periods in a year, a whole number of weeks so the weekday lines up."""
        return 364 if self.freq == "D" else 52

    def cut(self, origin: int, h: int) -> Panel:
        """The panel as seen at ``origin``: history ``[0, origin)`` and a calendar of ``h`` more periods."""
        if not (1 <= origin <= self.t):
            raise ValueError(f"origin {origin} outside 1..{self.t}")
        end = origin + h
        if end > len(self.dates):
            raise ValueError("calendar too short for that origin and horizon")
        return Panel(
            y=self.y[:, :origin],
            dates=self.dates[:end],
            series=self.series,
            freq=self.freq,
            ev=self.ev[:end],
            ev_names=self.ev_names,
            notes=self.notes,
        )


def _fail(msg: str, rows: pd.Index | np.ndarray | None = None) -> ForecastInputError:
    if rows is not None and len(rows):
        shown = ", ".join(str(int(r) + 2) for r in list(rows)[:8])  # +2: header line, 1-based
        more = f" (and {len(rows) - 8} more)" if len(rows) > 8 else ""
        msg = f"{msg}: line(s) {shown}{more}"
    return ForecastInputError(msg)


def _parse_dates(col: pd.Series, what: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(col):
        parsed = pd.to_datetime(col)
    else:
        parsed = pd.to_datetime(col, errors="coerce", format="ISO8601")
        retry = parsed.isna() & col.notna()
        if retry.any():  # dates objects or other spellings: parse those one by one
            parsed[retry] = pd.to_datetime(col[retry].astype(str), errors="coerce", format="mixed")
    bad = parsed.isna()
    if bad.any():
        raise _fail(f"{what}: 'date' is not a valid date", col.index[bad.to_numpy()])
    out = parsed.dt.normalize()
    if out.dt.tz is not None:
        out = out.dt.tz_localize(None)
    return out.astype("datetime64[ns]")


def infer_freq(dates: pd.DatetimeIndex) -> str:
    """"D" when consecutive distinct dates are mostly a day apart, "W" when all are whole weeks."""
    if len(dates) < 2:
        return "D"
    step_days = np.diff(dates.values).astype("timedelta64[D]").astype(np.int64)
    if np.all(step_days % 7 == 0):
        return "W"
    return "D"


def build_panel(
    history: pd.DataFrame,
    *,
    horizon: int,
    start: dt.date | None = None,
    events: pd.DataFrame | None = None,
    options: Mapping[str, Any] | None = None,
) -> Panel:
    """Validate ``history`` and pivot it into a :class:`Panel` with ``horizon`` future periods.

    Options: ``freq`` ("auto" | "D" | "W"), ``negative`` ("error" | "zero"),
    ``duplicates`` ("sum" | "error"), ``gaps`` ("zero" | "error").
    """
    return build_sparse_history(history, horizon=horizon, start=start, events=events, options=options).to_panel()


@dataclass(frozen=True, slots=True)
class SparseHistory:
    """The validated history as non-zero cells (series ``sid``, period ``tid``, ``qty``).

    The same content as a :class:`Panel` without its dense (N, T) array: at city scale
    (hundreds of thousands of sparse (SKU, zone) series) only the cells that hold demand are kept.
    """

    sid: np.ndarray  # (R,) series of each cell
    tid: np.ndarray  # (R,) period of each cell
    qty: np.ndarray  # (R,) float64 > 0 (zero rows of the input are dropped)
    t: int  # history periods
    dates: pd.DatetimeIndex  # T + h periods
    series: pd.DataFrame  # sku, zone; row i = series i
    freq: str
    ev: np.ndarray
    ev_names: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return len(self.series)

    @property
    def h(self) -> int:
        return len(self.dates) - self.t

    def to_panel(self) -> Panel:
        """The dense panel (N × T float64)."""
        y = np.zeros((self.n, self.t), dtype=np.float64)
        np.add.at(y, (self.sid, self.tid), self.qty)
        return Panel(y=y, dates=self.dates, series=self.series, freq=self.freq, ev=self.ev,
                     ev_names=self.ev_names, notes=self.notes)

    def aggregate(self, group: np.ndarray, n_groups: int, names: pd.DataFrame) -> Panel:
        """Dense panel of the series summed by ``group`` (group index per series)."""
        y = np.zeros((n_groups, self.t), dtype=np.float64)
        np.add.at(y, (np.asarray(group)[self.sid], self.tid), self.qty)
        return Panel(y=y, dates=self.dates, series=names, freq=self.freq, ev=self.ev, ev_names=self.ev_names,
                     notes=self.notes)

    def window(self, start: int, end: int) -> np.ndarray:
        """Dense (N, end - start) block of periods ``[start, end)`` (a holdout window)."""
        m = (self.tid >= start) & (self.tid < end)
        out = np.zeros((self.n, end - start), dtype=np.float64)
        np.add.at(out, (self.sid[m], self.tid[m] - start), self.qty[m])
        return out


def build_sparse_history(
    history: pd.DataFrame,
    *,
    horizon: int,
    start: dt.date | None = None,
    events: pd.DataFrame | None = None,
    options: Mapping[str, Any] | None = None,
) -> SparseHistory:
    """Validate ``history`` as :func:`build_panel` does, keeping only its non-zero cells."""
    opts = dict(options or {})
    if not isinstance(history, pd.DataFrame):
        raise ForecastInputError(f"history must be a pandas DataFrame, got {type(history).__name__}")
    if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
        raise ForecastInputError(f"horizon must be a positive whole number of periods, got {horizon!r}")
    missing = [c for c in ("date", "sku", "quantity") if c not in history.columns]
    if missing:
        raise ForecastInputError(
            f"history lacks column(s) {', '.join(missing)}; expected date, sku, zone (optional), quantity"
        )
    if history.empty:
        raise ForecastInputError("history is empty: nothing to forecast from")
    notes: list[str] = []
    df = history.reset_index(drop=True)
    qty = pd.to_numeric(df["quantity"], errors="coerce")
    bad = qty.isna() | ~np.isfinite(qty.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        raise _fail("history: 'quantity' is missing or not a finite number", df.index[bad.to_numpy()])
    neg = qty < 0
    if neg.any():
        if opts.get("negative", "error") == "zero":
            notes.append(f"{int(neg.sum())} negative quantities (returns?) set to zero")
            qty = qty.clip(lower=0)
        else:
            raise _fail(
                "history: 'quantity' is negative (returns? pass options negative='zero' to clip)",
                df.index[neg.to_numpy()],
            )
    dates = _parse_dates(df["date"], "history")
    zone = df["zone"].astype(str) if "zone" in df.columns else pd.Series(PSEUDO_ZONE, index=df.index)
    if "zone" in df.columns and df["zone"].isna().any():
        raise _fail("history: 'zone' is empty", df.index[df["zone"].isna().to_numpy()])
    if df["sku"].isna().any():
        raise _fail("history: 'sku' is empty", df.index[df["sku"].isna().to_numpy()])
    long = pd.DataFrame({"date": dates, "sku": df["sku"].astype(str), "zone": zone, "quantity": qty.astype(float)})

    dup = long.duplicated(["date", "sku", "zone"], keep=False)
    if dup.any():
        if opts.get("duplicates", "sum") == "error":
            raise _fail("history: duplicate (date, sku, zone) rows", long.index[dup.to_numpy()])
        n_dup = int(long.duplicated(["date", "sku", "zone"]).sum())
        notes.append(f"{n_dup} duplicate (date, sku, zone) rows summed into their first occurrence")
        long = long.groupby(["date", "sku", "zone"], as_index=False, sort=False)["quantity"].sum()

    freq = str(opts.get("freq", "auto"))
    if freq not in ("auto", "D", "W"):
        raise ForecastInputError(f"options freq must be 'auto', 'D' or 'W', got {freq!r}")
    udates = pd.DatetimeIndex(np.unique(long["date"].to_numpy()))
    if freq == "auto":
        freq = infer_freq(udates)
    step = pd.Timedelta(days=1 if freq == "D" else 7)
    first, last = udates[0], udates[-1]
    if start is not None:
        start_ts = pd.Timestamp(start)
        if freq == "W" and (start_ts - first).days % 7:
            raise ForecastInputError(f"start {start} is not on the weekly grid of the history (weeks from {first.date()})")
        if start_ts <= first:
            raise ForecastInputError(f"start {start} is not after the first history date {first.date()}")
        later = long["date"] >= start_ts
        if later.any():
            notes.append(f"{int(later.sum())} history rows on or after start {start} ignored")
            long = long[~later]
        last = start_ts - step
    if freq == "W" and np.any(((udates - first).days % 7) != 0):
        raise ForecastInputError("weekly history: all dates must fall on the same weekday")

    hist_dates = pd.date_range(first, last, freq=step)
    present = pd.DatetimeIndex(np.unique(long["date"].to_numpy()))
    n_gap = len(hist_dates) - len(present.intersection(hist_dates))
    if n_gap:
        if opts.get("gaps", "zero") == "error":
            gap = hist_dates.difference(present)
            raise ForecastInputError(
                f"history has {n_gap} period(s) without any row, e.g. {', '.join(str(d.date()) for d in gap[:5])}"
                " (pass options gaps='zero' to read them as zero demand)"
            )
        notes.append(f"{n_gap} period(s) with no rows at all read as zero demand")

    # categorical codes: one factorisation of each key column instead of string tuples per row
    sku_codes, sku_names = pd.factorize(long["sku"], sort=True)
    zone_codes, zone_names = pd.factorize(long["zone"], sort=True)
    pair = sku_codes.astype(np.int64) * max(len(zone_names), 1) + zone_codes
    upair, sid = np.unique(pair, return_inverse=True)  # sorted by (sku, zone)
    series = pd.DataFrame({
        "sku": np.asarray(sku_names, dtype=object)[upair // max(len(zone_names), 1)],
        "zone": np.asarray(zone_names, dtype=object)[upair % max(len(zone_names), 1)],
    })
    tid = ((long["date"] - first) // step).to_numpy().astype(np.int64)
    qty = long["quantity"].to_numpy(dtype=np.float64)
    nz = qty > 0
    all_dates = pd.date_range(first, periods=len(hist_dates) + int(horizon), freq=step)
    ev, ev_names = event_features(events, all_dates, freq)
    return SparseHistory(sid=sid.ravel()[nz], tid=tid[nz], qty=qty[nz], t=len(hist_dates), dates=all_dates,
                         series=series, freq=freq, ev=ev, ev_names=ev_names, notes=tuple(notes))


def event_features(
    events: pd.DataFrame | None, dates: pd.DatetimeIndex, freq: str
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per period and event kind, the share of the day the events of that kind run (0..1+).

    Weekly panels add up the daily values over the week starting on each period's date.
    Returns (len(dates), E) and the feature names ``event_<kind>``.
    """
    if events is None or len(events) == 0:
        return np.zeros((len(dates), 0)), ()
    missing = [c for c in ("date", "kind") if c not in events.columns]
    if missing:
        raise ForecastInputError(f"events lack column(s) {', '.join(missing)}; expected date, name, kind, start_min, end_min")
    ev = events.reset_index(drop=True)
    edates = _parse_dates(ev["date"], "events")
    if "start_min" in ev.columns and "end_min" in ev.columns:
        s = pd.to_numeric(ev["start_min"], errors="coerce")
        e = pd.to_numeric(ev["end_min"], errors="coerce")
        dur = ((e - s) / 1440.0).clip(lower=0.0)
        # an event with unknown or zero duration still counts as present that day
        weight = dur.where(dur > 0, 1.0).fillna(1.0).clip(upper=1.0)
    else:
        weight = pd.Series(1.0, index=ev.index)
    kinds = sorted(ev["kind"].astype(str).unique())
    step_days = 1 if freq == "D" else 7
    day0 = dates[0]
    pos = ((edates - day0).dt.days // step_days).to_numpy()
    ok = (pos >= 0) & (pos < len(dates))
    out = np.zeros((len(dates), len(kinds)))
    kidx = pd.Index(kinds).get_indexer(ev["kind"].astype(str))
    np.add.at(out, (pos[ok], kidx[ok]), weight.to_numpy(dtype=float)[ok])
    return out, tuple(f"event_{k}" for k in kinds)


# ----------------------------------------------------------------------------- segments

SEGMENTS = ("smooth", "erratic", "intermittent", "lumpy", "zero")


def classify(y: np.ndarray, *, adi_cut: float = 1.32, cv2_cut: float = 0.49) -> np.ndarray:
    """Syntetos–Boylan demand class per series (ADI and CV² of the non-zero sizes).

    ``zero`` marks series without any demand in ``y``.
    """
    pos = y > 0
    return classify_counts(pos.sum(axis=1), np.where(pos, y, 0.0).sum(axis=1),
                           np.where(pos, y * y, 0.0).sum(axis=1), y.shape[1], adi_cut=adi_cut, cv2_cut=cv2_cut)


def classify_counts(k: np.ndarray, s1: np.ndarray, s2: np.ndarray, n: int, *, adi_cut: float = 1.32,
                    cv2_cut: float = 0.49) -> np.ndarray:
    """:func:`classify` from per-series counts of positive periods ``k``, their sum ``s1`` and
    sum of squares ``s2`` over ``n`` periods (what a sparse history gives directly)."""
    k = np.asarray(k)
    adi = np.where(k > 0, n / np.maximum(k, 1), np.inf)
    mean = s1 / np.maximum(k, 1)
    var = np.maximum(s2 / np.maximum(k, 1) - mean**2, 0.0)
    cv2 = np.where(mean > 0, var / np.maximum(mean, 1e-12) ** 2, 0.0)
    out = np.where(adi < adi_cut, np.where(cv2 < cv2_cut, "smooth", "erratic"),
                   np.where(cv2 < cv2_cut, "intermittent", "lumpy"))
    return np.where(k == 0, "zero", out).astype(object)
