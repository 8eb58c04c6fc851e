"""Integer scaling shared by the back-ends (both work on integers).

Travel times are rounded *up* and deadlines *down*, so a plan feasible for a back-end is
feasible in exact minutes; the result is always recomputed in floats afterwards.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

TIME_SCALE = 10  # units per minute (6 s)
MONEY_SCALE = 1000  # units per currency unit
LOAD_SCALE = 100_000  # units per m3 (10 cm3)
BIG = 10**12


def t_up(x: NDArray[np.float64] | float) -> NDArray[np.int64]:
    a = np.asarray(x, dtype=float)
    return np.ceil(np.minimum(a, BIG / TIME_SCALE) * TIME_SCALE - 1e-6).astype(np.int64)


def t_down(x: NDArray[np.float64] | float) -> NDArray[np.int64]:
    a = np.asarray(x, dtype=float)
    return np.floor(np.minimum(a, BIG / TIME_SCALE) * TIME_SCALE + 1e-6).astype(np.int64)


def service_weight(value: object, where: str) -> float:
    """The ``service_weight`` option: how much a unit of service penalty (unserved orders,
    minutes late) weighs against a unit of money in a back-end's objective (default 1)."""
    from engine.errors import ConfigError

    if value is None:
        return 1.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < 1e6):
        raise ConfigError(f"{where}: service_weight must be a number > 0 (and below 1e6), got {value!r}")
    return float(value)


def money(x: NDArray[np.float64] | float) -> NDArray[np.int64]:
    return np.rint(np.asarray(x, dtype=float) * MONEY_SCALE).astype(np.int64)


def load_up(x: NDArray[np.float64] | float) -> NDArray[np.int64]:
    return np.ceil(np.asarray(x, dtype=float) * LOAD_SCALE - 1e-6).astype(np.int64)


def load_down(x: NDArray[np.float64] | float) -> NDArray[np.int64]:
    a = np.minimum(np.asarray(x, dtype=float), BIG / LOAD_SCALE)
    return np.floor(a * LOAD_SCALE + 1e-6).astype(np.int64)
