"""The registry of point-forecast methods.

A method maps a panel and a list of origins to one (N, h) mean forecast per origin, using
only history before each origin. Local methods just run their kernel on each cut; the global
model fits once and predicts every origin (see :mod:`engine.forecast.gbm`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from engine.errors import ConfigError
from engine.forecast import ets as _ets
from engine.forecast import events as _events
from engine.forecast import local as _local
from engine.forecast.panel import Panel
from engine.solver import Registry

MethodFn = Callable[[Panel, Sequence[int], int, Mapping[str, Any], list[str]], list[np.ndarray]]


class MethodUnavailable(Exception):
    """A method cannot run on this panel (too little history); auto drops it, others fall back."""


FORECASTERS: Registry[MethodFn] = Registry("forecast", default="auto")


def _each_origin(kernel: Callable[..., np.ndarray]) -> MethodFn:
    """Run a local kernel at each origin, with event days taken out and put back (see events.py)."""

    def run(panel: Panel, origins: Sequence[int], h: int, opts: Mapping[str, Any], notes: list[str]) -> list[np.ndarray]:
        out = []
        for o in origins:
            cut = panel.cut(o, h)
            lift = None
            if opts.get("event_adjust", True):
                lift = _events.lifts(cut, prior_units=float(opts.get("event_prior_units", 10.0)))
            if lift is None:
                out.append(kernel(cut, opts, notes=notes))
            else:
                notes.append("local methods: event days divided by the SKU's event lift before fitting, "
                              "and the lift applied to event days of the horizon")
                out.append(_events.inflate(cut, kernel(_events.deflate(cut, lift), opts, notes=notes), lift))
        return out

    run.__doc__ = kernel.__doc__
    return run


def _snaive_week(p: Panel, opts: Mapping[str, Any], *, notes: list[str]) -> np.ndarray:
    return _local.seasonal_naive(p, opts, season=p.season_week or 1, notes=notes)


def _snaive_year(p: Panel, opts: Mapping[str, Any], *, notes: list[str]) -> np.ndarray:
    if p.t < p.season_year:
        raise MethodUnavailable(f"seasonal_naive_yearly needs a year ({p.season_year} periods) of history")
    return _local.seasonal_naive(p, opts, season=p.season_year, notes=notes)


def _auto(*_: Any) -> list[np.ndarray]:
    raise ConfigError("'auto' selects among the other methods; call engine.forecast.forecast()")


FORECASTERS.register("auto", description="per segment, the method with the best holdout error")(_auto)
FORECASTERS.register("seasonal_naive", description="same weekday last week (weekly data: last week)")(
    _each_origin(_snaive_week)
)
FORECASTERS.register("seasonal_naive_yearly", description="same weekday 52 weeks earlier")(_each_origin(_snaive_year))
FORECASTERS.register("moving_average", description="mean of the last 28 days / 8 weeks")(
    _each_origin(_local.moving_average)
)
FORECASTERS.register("ses", description="simple exponential smoothing, no season")(
    _each_origin(partial(_ets.ets, seasonal=False, trend=False))
)
FORECASTERS.register("ets", description="damped-trend ETS on weekly × yearly seasonally adjusted demand")(
    _each_origin(_ets.ets)
)
FORECASTERS.register("croston", description="Croston's intermittent-demand method")(
    _each_origin(partial(_local.croston, variant="classic"))
)
FORECASTERS.register("sba", description="Syntetos–Boylan approximation (bias-corrected Croston)")(
    _each_origin(partial(_local.croston, variant="sba"))
)
FORECASTERS.register("tsb", description="Teunter–Syntetos–Babai intermittent-demand method")(_each_origin(_local.tsb))



def _hierarchical(*_: Any) -> list[np.ndarray]:
    raise ConfigError("'hierarchical' forecasts SKU totals and splits them; call engine.forecast.forecast()")


FORECASTERS.register("hierarchical", description="SKU totals (auto) split to zones by recent shares; "
                     "coherent, sparse scenarios (hier.py)")(_hierarchical)
