"""Rolling-origin backtest of one or more methods on any long demand table."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from engine.errors import ConfigError
from engine.forecast import metrics as M
from engine.forecast.core import _check_quantiles, _settings, fit_panel
from engine.forecast.methods import FORECASTERS
from engine.forecast.panel import ForecastInputError, build_panel, classify
from engine.forecast.result import DEFAULT_QUANTILES, BacktestResult
from engine.solver import Settings, SolveStats, SolveStatus, stopwatch


def read_demand_csv(path: str | Path) -> pd.DataFrame:
    """Read a long demand CSV (``date, sku, zone, quantity``; ``zone`` optional) as strings + numbers.

    Values are checked later by :func:`~engine.forecast.panel.build_panel`, which names bad lines.
    """
    p = Path(path)
    if not p.is_file():
        raise ForecastInputError(f"{p}: no such demand file")
    try:
        df = pd.read_csv(p, dtype={"sku": str, "zone": str}, keep_default_na=False, na_values={"quantity": [""]})
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ForecastInputError(f"{p}: cannot read as CSV: {exc}") from exc
    missing = [c for c in ("date", "sku", "quantity") if c not in df.columns]
    if missing:
        raise ForecastInputError(f"{p}: missing column(s) {', '.join(missing)}; expected date, sku, zone (optional), quantity")
    return df


def backtest(
    history: pd.DataFrame,
    *,
    horizon: int,
    folds: int = 3,
    step: int | None = None,
    methods: Sequence[str] = ("auto",),
    events: pd.DataFrame | None = None,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    settings: Settings | None = None,
    n_scenarios: int = 0,
) -> BacktestResult:
    """Forecast from ``folds`` origins, ``step`` periods apart (default ``horizon``), the last one
    ``horizon`` periods before the end, and score each method against what happened.

    Metrics per method × segment × fold and overall: WMAPE, MASE, bias, pinball loss and
    interval coverage (see :mod:`engine.forecast.metrics`). The segment of a series is its
    demand class on the history before each origin. With ``n_scenarios`` > 0 the joint sample
    paths are checked too: ``sum_coverage_80`` is how often a series' total over the horizon
    falls inside the 10–90% range of its scenario totals, ``sku_sum_coverage_80`` the same for
    a SKU's total over all its zones (this is what the stocking stage consumes).
    """
    s = _settings(settings)
    levels = _check_quantiles(quantiles)
    if isinstance(folds, bool) or int(folds) != folds or folds < 1:
        raise ConfigError(f"folds must be a whole number >= 1, got {folds!r}")
    methods = tuple(methods) or ("auto",)
    for m in methods:
        FORECASTERS.info(m)
    step = int(step or horizon)
    if step < 1:
        raise ConfigError(f"step must be >= 1, got {step}")
    with stopwatch() as elapsed:
        panel = build_panel(history, horizon=1, events=events, options=s.options)
        t = panel.t
        origins = [t - horizon - (folds - 1 - j) * step for j in range(folds)]
        if origins[0] < 2:
            raise ForecastInputError(
                f"history of {t} periods is too short for {folds} fold(s) of horizon {horizon} (step {step})"
            )
        rows: list[pd.DataFrame] = []
        notes: list[str] = list(panel.notes)
        chosen: dict[str, Counter[str]] = {}
        season = panel.season_week or 1
        for j, o in enumerate(origins):
            sub = panel.cut(o, horizon)  # the history before o, the calendar up to o + horizon
            actual = panel.y[:, o : o + horizon]
            seg = classify(panel.y[:, :o])
            for m in methods:
                with stopwatch() as fit_time:
                    fitted = fit_panel(sub, m, s.options, threads=s.threads)
                    res = fitted.predict(quantiles=levels, n_scenarios=n_scenarios, seed=s.seed)
                sec = fit_time()
                per = M.per_series(actual, res.mean, res.quantiles, levels, panel.y[:, :o], season,
                                   alpha=res.dispersion)
                if n_scenarios:
                    sku = panel.series["sku"].to_numpy().astype(str)
                    per["sum_hits_80"], per["sku_sum_hits_80"] = M.path_coverage(actual, res.scenarios, sku)
                per.insert(0, "segment", seg)
                per.insert(0, "fold", str(j))
                per.insert(0, "method", m)
                per["seconds"] = sec / max(len(per), 1)
                rows.append(per)
                chosen.setdefault(m, Counter()).update(res.chosen)
                for nt in res.notes:
                    if nt not in notes:
                        notes.append(nt)
        allrows = pd.concat(rows, ignore_index=True)
        frames = []
        for seg_all in (False, True):
            for fold_all in (False, True):
                r = allrows.copy()
                if seg_all:
                    r["segment"] = "all"
                if fold_all:
                    r["fold"] = "all"
                frames.append(M.summarise(r, ["method", "segment", "fold"]))
        secs = allrows.groupby(["method", "fold"])["seconds"].sum()
        table = pd.concat(frames, ignore_index=True)
        table["seconds"] = [
            float(secs.loc[(mm, ff)]) if ff != "all" else float(secs.loc[mm].sum())
            for mm, ff in zip(table["method"], table["fold"], strict=True)
        ]
        table = table.sort_values(["method", "segment", "fold"], kind="stable").reset_index(drop=True)
    dates = panel.dates
    stats = SolveStats(backend=",".join(methods), status=SolveStatus.FEASIBLE, solve_seconds=elapsed())
    return BacktestResult(
        metrics=table,
        horizon=int(horizon),
        origins=tuple(dt.date.fromisoformat(str(dates[o].date())) for o in origins),
        methods=methods,
        notes=tuple(notes),
        stats=stats,
        chosen={m: {str(k): int(v) for k, v in sorted(c.items())} for m, c in chosen.items()},
    )
