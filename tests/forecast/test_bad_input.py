"""Bad input: a clear ForecastInputError naming the lines, or a documented fallback in notes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from engine.errors import BackendError, ConfigError, EngineError
from engine.forecast import ForecastInputError, forecast
from engine.solver import Settings

from .helpers import synthetic


def _hist() -> pd.DataFrame:
    return synthetic(n_sku=2, n_zone=2, days=40)


def test_negative_quantity_is_an_error_naming_the_line() -> None:
    h = _hist()
    h.loc[5, "quantity"] = -3
    with pytest.raises(ForecastInputError, match=r"negative.*line\(s\) 7"):
        forecast(h, horizon=3)


def test_negative_quantity_clipped_on_request() -> None:
    h = _hist()
    h.loc[5, "quantity"] = -3
    r = forecast(h, horizon=3, settings=Settings(backend="ets", options={"negative": "zero"}))
    assert any("negative" in n for n in r.notes)


@pytest.mark.parametrize("bad", ["abc", None, np.inf, ""])
def test_non_numeric_quantity(bad: object) -> None:
    h = _hist().astype({"quantity": object})
    h.loc[3, "quantity"] = bad
    with pytest.raises(ForecastInputError, match=r"quantity.*line\(s\) 5"):
        forecast(h, horizon=3)


def test_bad_date() -> None:
    h = _hist().astype({"date": object})
    h.loc[0, "date"] = "not a date"
    with pytest.raises(ForecastInputError, match="valid date"):
        forecast(h, horizon=3)


def test_duplicates_are_summed_and_noted() -> None:
    h = _hist()
    dup = pd.concat([h, h.iloc[[-1]]], ignore_index=True)
    base = forecast(h, horizon=3, settings=Settings(backend="moving_average"))
    r = forecast(dup, horizon=3, settings=Settings(backend="moving_average"))
    assert any("duplicate" in n for n in r.notes)
    assert r.mean.sum() > base.mean.sum()


def test_duplicates_error_on_request() -> None:
    h = _hist()
    dup = pd.concat([h, h.iloc[[0]]], ignore_index=True)
    with pytest.raises(ForecastInputError, match="duplicate"):
        forecast(dup, horizon=3, settings=Settings(options={"duplicates": "error"}))


def test_gap_days_read_as_zero_and_noted() -> None:
    h = _hist()
    h = h[h["date"] != h["date"].min() + pd.Timedelta(days=10)]
    r = forecast(h, horizon=3, settings=Settings(backend="ets"))
    assert any("no rows" in n for n in r.notes)
    with pytest.raises(ForecastInputError, match="without any row"):
        forecast(h, horizon=3, settings=Settings(options={"gaps": "error"}))


def test_all_zero_series_forecast_as_zero() -> None:
    h = _hist()
    h.loc[h["sku"] == "S0", "quantity"] = 0
    r = forecast(h, horizon=5, n_scenarios=4)
    zero = (r.series["sku"] == "S0").to_numpy()
    assert (r.mean[zero] == 0).all() and (r.scenarios[:, zero] == 0).all()
    assert any("all-zero" in n for n in r.notes)
    assert set(np.asarray(r.chosen)[zero]) == {"zero"}


@pytest.mark.parametrize("days", [1, 2, 5, 9])
def test_history_shorter_than_a_season(days: int) -> None:
    h = synthetic(n_sku=2, n_zone=1, days=days)
    for m in ("auto", "seasonal_naive", "seasonal_naive_yearly", "ets", "global", "tsb"):
        r = forecast(h, horizon=7, n_scenarios=3, settings=Settings(backend=m))
        assert np.isfinite(r.mean).all() and np.isfinite(r.quantiles).all()
        if m != "tsb" and not (m == "seasonal_naive" and days >= 7):  # these need no season
            assert r.notes, "a short history must say which fallback it used"


def test_start_inside_history_ignores_later_rows() -> None:
    h = _hist()
    start = (h["date"].min() + pd.Timedelta(days=30)).date()
    r = forecast(h, horizon=3, start=start, settings=Settings(backend="ets"))
    assert r.dates[0] == start and any("ignored" in n for n in r.notes)


def test_start_after_history_fills_zero_days() -> None:
    h = _hist()
    start = (h["date"].max() + pd.Timedelta(days=5)).date()
    r = forecast(h, horizon=3, start=start)
    assert r.dates[0] == start


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"horizon": 0}, ForecastInputError),
        ({"horizon": 3, "quantiles": (0.5, 1.2)}, ConfigError),
        ({"horizon": 3, "quantiles": (0.9, 0.1)}, ConfigError),
        ({"horizon": 3, "n_scenarios": -1}, ConfigError),
        ({"horizon": 3, "settings": Settings(backend="prophet")}, BackendError),
        ({"horizon": 3, "settings": Settings(options={"colour": 1})}, ConfigError),
        ({"horizon": 3, "start": dt.date(1990, 1, 1)}, ForecastInputError),
    ],
)
def test_bad_arguments(kwargs: dict, exc: type[EngineError]) -> None:
    with pytest.raises(exc):
        forecast(_hist(), **kwargs)


def test_missing_columns_and_empty() -> None:
    with pytest.raises(ForecastInputError, match="quantity"):
        forecast(pd.DataFrame({"date": ["2024-01-01"], "sku": ["a"]}), horizon=2)
    with pytest.raises(ForecastInputError, match="empty"):
        forecast(pd.DataFrame(columns=["date", "sku", "quantity"]), horizon=2)


def test_zone_optional() -> None:
    h = _hist().drop(columns="zone").groupby(["date", "sku"], as_index=False)["quantity"].sum()
    r = forecast(h, horizon=4, n_scenarios=2)
    assert set(r.series["zone"]) == {"_all"}


def test_bad_event_calendar() -> None:
    ev = pd.DataFrame({"date": ["2024-01-05"], "name": ["p"]})
    with pytest.raises(ForecastInputError, match="kind"):
        forecast(_hist(), horizon=3, events=ev)
    ev = pd.DataFrame({"date": ["someday"], "name": ["p"], "kind": ["promotion"]})
    with pytest.raises(ForecastInputError, match="events: 'date'"):
        forecast(_hist(), horizon=3, events=ev)


def test_auto_with_only_unavailable_candidates_falls_back() -> None:
    r = forecast(synthetic(n_sku=1, n_zone=1, days=30), horizon=3,
                 settings=Settings(options={"candidates": ["seasonal_naive_yearly"]}))
    assert set(r.chosen) == {"moving_average"} and any("moving_average used" in n for n in r.notes)
