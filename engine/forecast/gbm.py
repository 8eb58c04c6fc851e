"""Global model: one gradient-boosted tree ensemble across all series.

Each training row is (series i, target period t, steps ahead k): features are computed from
the history up to the origin e = t - k only, so one model serves every step of the horizon
and every origin. Demand is normalised by the series' one-year level so series of any size
share the same calendar, event and lag effects; training rows are drawn in proportion to that
level, so the Poisson loss on the ratio matches the count-scale Poisson deviance. Features: level ratios over recent windows, the same
period one and two years earlier, recent same-weekday values, year-over-year growth, share of
zero days, calendar (weekday, day of year, month), steps ahead, and the event calendar at the
target date and one year earlier (so a promotion last year explains last year's spike).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.forecast.methods import FORECASTERS, MethodUnavailable
from engine.forecast.panel import Panel


def _window_mean(c: np.ndarray, i: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean of y[i, a..b] (inclusive, a clipped at 0) from cumulative sums ``c``; NaN when empty."""
    a = np.maximum(a, 0)
    cnt = b - a + 1
    ok = cnt > 0
    bb = np.where(ok, b, 0)
    aa = np.where(ok, a, 0)
    out = (c[i, bb + 1] - c[i, aa]) / np.where(ok, cnt, 1)
    return np.where(ok, out, np.nan)


class _Design:
    """Feature builder over one panel (history up to ``panel.t``)."""

    def __init__(self, panel: Panel) -> None:
        self.p = panel
        y = panel.y
        n, t = y.shape
        self.c = np.concatenate([np.zeros((n, 1)), np.cumsum(y, axis=1)], axis=1)
        self.cz = np.concatenate([np.zeros((n, 1)), np.cumsum(y == 0, axis=1)], axis=1)
        self.year = panel.season_year
        daily = panel.freq == "D"
        self.wins = (7, 28, 91) if daily else (4, 13, 26)
        self.smooth = 3 if daily else 1
        d = panel.dates
        cal = [d.day_of_year.to_numpy(), d.month.to_numpy()]
        if daily:
            cal += [d.day_of_week.to_numpy(), d.day.to_numpy()]
        else:
            cal += [d.isocalendar().week.to_numpy().astype(np.int64)]
        self.cal = np.stack(cal, axis=1).astype(float)
        # per event kind: cumulative demand on event days and count of event days, so a row can
        # see how much this series has sold on past events (live streams lift only some SKUs)
        t_hist = y.shape[1]
        on = panel.ev[:t_hist] > 0  # (T, E)
        self.ev_sum = [np.concatenate([np.zeros((n, 1)), np.cumsum(y * on[:, k], axis=1)], axis=1) for k in range(on.shape[1])]
        self.ev_cnt = [np.concatenate([[0], np.cumsum(on[:, k])]) for k in range(on.shape[1])]
        self.names = (
            ["log_level", "r_short", "r_mid", "r_long", "lag_year", "lag_year_smooth", "lag_2year",
             "growth", "zero_share", "steps_ahead"]
            + (["same_weekday_recent"] if daily else [])
            + (["doy", "month", "dow", "dom"] if daily else ["doy", "month", "week"])
            + list(panel.ev_names)
            + [f"{e}_last_year" for e in panel.ev_names]
            + [f"{e}_past_lift" for e in panel.ev_names]
        )

    def rows(self, i: np.ndarray, t: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Features (R, F) and the level used to normalise (R,) for rows (i, t, k)."""
        p, c, yr = self.p, self.c, self.year
        e = t - k
        lvl = _window_mean(c, i, e - yr + 1, e)
        leff = np.nan_to_num(lvl) + 1.0 / yr  # one unit a year as a floor: never divide by zero
        cols = [np.log(leff)]
        for w in self.wins:
            cols.append(_window_mean(c, i, e - w + 1, e) / leff)
        ty = t - yr
        ok = (ty >= 0) & (ty <= e)
        cols.append(np.where(ok, p.y[i, np.clip(ty, 0, p.t - 1)], np.nan) / leff)
        cols.append(_window_mean(c, i, ty - self.smooth, np.minimum(ty + self.smooth, e)) / leff)
        t2 = t - 2 * yr
        ok2 = t2 >= 0
        cols.append(np.where(ok2, p.y[i, np.clip(t2, 0, p.t - 1)], np.nan) / leff)
        prev = _window_mean(c, i, e - 2 * yr + 1, e - yr)
        cols.append(np.where((e - 2 * yr + 1 >= 0) & (prev > 0), lvl / np.where(prev > 0, prev, 1.0), np.nan))
        zw = self.wins[2]
        a = np.maximum(e - zw + 1, 0)
        cols.append((self.cz[i, e + 1] - self.cz[i, a]) / (e - a + 1))
        cols.append(k.astype(float))
        if p.freq == "D":
            m0 = (k + 6) // 7  # first whole number of weeks back that is not after the origin
            acc = np.zeros(len(i))
            for m in range(4):
                acc += p.y[i, np.clip(t - 7 * (m0 + m), 0, p.t - 1)]
            cols.append(np.where(t - 7 * (m0 + 3) >= 0, acc / 4, np.nan) / leff)
        x = np.column_stack(cols)
        parts = [x, self.cal[t]]
        if p.ev.shape[1]:
            parts += [p.ev[t], np.where((ty >= 0)[:, None], p.ev[np.clip(ty, 0, None)], 0.0)]
            lift = []
            for es, ec in zip(self.ev_sum, self.ev_cnt, strict=True):
                cnt = ec[e + 1]
                lift.append(np.where(cnt > 0, es[i, e + 1] / np.maximum(cnt, 1), np.nan) / leff)
            parts.append(np.column_stack(lift))
        return np.concatenate(parts, axis=1), leff


def _fit_model(des: _Design, before: int, h: int, opts: Mapping[str, Any]) -> tuple[Any, np.ndarray]:
    """Fit on targets strictly before period ``before``."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    p = des.p
    n = p.n
    min_e = des.wins[1]  # at least a month of history behind every origin
    years = float(opts.get("gbm_train_years", 3.0))
    t_lo = max(min_e + 1, before - int(years * des.year))
    span = before - t_lo
    if span < 1 or n * span < 200:
        raise MethodUnavailable("global model needs more history (about 5 weeks × 7 series)")
    rng = np.random.default_rng(0)
    rows = int(min(int(opts.get("gbm_max_rows", 40_000)), n * span * h))
    # candidate rows, then a draw proportional to the series level: the unweighted Poisson loss
    # on the normalised target then matches the count-scale deviance in expectation, without
    # passing sample weights (which make the tree binning far slower)
    m = 3 * rows
    i = rng.integers(0, n, m)
    t = rng.integers(t_lo, before, m)
    k = np.minimum(rng.integers(1, h + 1, m), t - min_e)  # keep the origin inside the history
    e = t - k
    lvl = np.nan_to_num(_window_mean(des.c, i, e - des.year + 1, e)) + 1.0 / des.year
    pick = rng.choice(m, size=rows, replace=True, p=lvl / lvl.sum())
    i, t, k = i[pick], t[pick], k[pick]
    x, leff = des.rows(i, t, k)
    target = p.y[i, t] / leff
    if target.sum() <= 0:
        raise MethodUnavailable("global model: no demand in the training window")
    model = HistGradientBoostingRegressor(
        loss="poisson",
        max_iter=int(opts.get("gbm_max_iter", 100)),
        learning_rate=float(opts.get("gbm_learning_rate", 0.1)),
        max_leaf_nodes=int(opts.get("gbm_leaves", 15)),
        min_samples_leaf=int(opts.get("gbm_min_leaf", 40)),
        early_stopping=False,
        random_state=0,
    )
    keep = ~np.isnan(x).all(axis=0)  # e.g. "two years ago" on a short history: no information
    model.fit(x[:, keep], target)
    return model, keep


@FORECASTERS.register("global", description="gradient-boosted trees across series on lags, calendar and events")
def global_model(
    panel: Panel, origins: Sequence[int], h: int, opts: Mapping[str, Any], notes: list[str]
) -> list[np.ndarray]:
    """Fit once on targets before the first origin (``gbm_refit`` refits per origin), predict each."""
    des = _Design(panel)
    n = panel.n
    refit = bool(opts.get("gbm_refit", False))
    model = None if refit else _fit_model(des, min(origins), h, opts)
    out = []
    for o in origins:
        mdl, keep = _fit_model(des, o, h, opts) if refit else model
        i = np.repeat(np.arange(n), h)
        k = np.tile(np.arange(1, h + 1), n)
        t = o - 1 + k
        x, leff = des.rows(i, t, k)
        pred = mdl.predict(x[:, keep]) * leff
        # series without any demand before the origin stay at zero
        alive = des.c[:, o] > 0
        out.append(np.where(alive[:, None], pred.reshape(n, h), 0.0))
    return out
