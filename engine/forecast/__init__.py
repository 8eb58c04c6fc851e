"""Forecast stage: probabilistic demand per (sku, zone, day), backtested.

>>> from engine.forecast import forecast
>>> res = forecast(history, horizon=14, n_scenarios=100)   # doctest: +SKIP
>>> res.to_frame()                                          # doctest: +SKIP
"""

from engine.forecast import gbm as _gbm  # noqa: F401  (registers the global model)
from engine.forecast.backtest import backtest, read_demand_csv
from engine.forecast.core import AUTO_CANDIDATES, FittedForecast, fit, fit_panel, forecast
from engine.forecast.methods import FORECASTERS
from engine.forecast.panel import ForecastInputError, Panel, build_panel
from engine.forecast.result import DEFAULT_QUANTILES, BacktestResult, ForecastResult

__all__ = [
    "AUTO_CANDIDATES",
    "DEFAULT_QUANTILES",
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
