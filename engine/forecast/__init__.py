"""Forecast stage: probabilistic demand per (sku, zone, day), backtested.

>>> from engine.forecast import forecast
>>> res = forecast(history, horizon=14, n_scenarios=100)   # doctest: +SKIP
>>> res.to_frame()                                          # doctest: +SKIP

Methods (``FORECASTERS``; ``Settings.backend``, "" = "auto"), all vectorised over series:

- ``seasonal_naive`` (same weekday last week), ``seasonal_naive_yearly`` (52 weeks back),
  ``moving_average``, ``ses``;
- ``ets``: exponential smoothing of level, damped trend and a multiplicative weekday profile,
  on demand divided by a yearly profile (with two years of history); parameters per series
  from a grid;
- ``croston``, ``sba``, ``tsb`` for intermittent demand;
- ``global``: one HistGradientBoosting model across series on level-normalised demand, with
  lags, calendar and the event calendar (plus each series' past lift on event days);
- ``auto``: every candidate forecasts one or two holdout windows; per demand segment
  (smooth / erratic / intermittent / lumpy) the one with the lowest |error| + |bias| wins.
- ``hierarchical``: SKU totals forecast by another method (``hier_base``, default ``auto``),
  split to zones by shrunk recent zone shares; coherent (zones add up to the SKU, in the mean
  and in every scenario), scenarios stored sparsely; ``auto`` itself goes top-down when the
  dense history would exceed ``hier_auto_cells`` cells (``hier.py``, docs/scale.md).

Local methods see events through a lift per SKU and kind (``events.py``). The distribution is
negative binomial per (series, day) with a dispersion fitted on the holdout errors of the
chosen method; scenarios are joint draws through a Gaussian copula with market, SKU and
zone factors (``distribution.py``). Options (``Settings.options``): see ``KNOWN_OPTIONS`` in
``core.py``; input handling: ``negative`` ("error" | "zero"), ``duplicates`` ("sum" |
"error"), ``gaps`` ("zero" | "error"), ``freq`` ("auto" | "D" | "W").
"""

from engine.forecast import gbm as _gbm  # noqa: F401  (registers the global model)
from engine.forecast.backtest import backtest, read_demand_csv
from engine.forecast.core import (
    AUTO_CANDIDATES,
    KNOWN_OPTIONS,
    FittedForecast,
    fit,
    fit_panel,
    forecast,
)
from engine.forecast.methods import FORECASTERS
from engine.forecast.panel import ForecastInputError, Panel, build_panel
from engine.forecast.result import DEFAULT_QUANTILES, BacktestResult, ForecastResult

# every method reads the same option names (KNOWN_OPTIONS); declaring them on each registered
# method lets the pipeline check them before any stage runs
for _method in FORECASTERS.names():
    FORECASTERS.declare_options(_method, KNOWN_OPTIONS)

__all__ = [
    "AUTO_CANDIDATES",
    "DEFAULT_QUANTILES",
    "KNOWN_OPTIONS",
    "FORECASTERS",
    "BacktestResult",
    "FittedForecast",
    "ForecastInputError",
    "ForecastResult",
    "Panel",
    "backtest",
    "build_panel",
    "fit",
    "fit_panel",
    "forecast",
    "read_demand_csv",
]
