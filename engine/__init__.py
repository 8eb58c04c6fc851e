"""nearstock: forecast, forward stocking, dispatch and service quality for fast e-commerce delivery.

The public API is small; everything a planner or an embedding developer needs is here.
The heavier parts (instances, the pipeline, importers) load on first use, so ``import engine``
and the solver processes that dispatch portfolios spawn start quickly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from engine.errors import (
    BackendError,
    ConfigError,
    EngineError,
    InfeasibleError,
    InstanceError,
    Issue,
)
from engine.solver import Settings, SolveStats, SolveStatus

if TYPE_CHECKING:
    from engine.importers import import_olist
    from engine.instance import Instance, load_instance, validate_instance, write_instance
    from engine.instance.generate import generate_instance
    from engine.pipeline import RunResult, RunSettings, run
    from engine.simulate.horizon import HorizonResult, HorizonSettings, simulate_horizon
    from engine.travel import TravelModel

__version__ = "0.1.0"

_LAZY = {
    "import_olist": "engine.importers",
    "Instance": "engine.instance", "load_instance": "engine.instance",
    "validate_instance": "engine.instance", "write_instance": "engine.instance",
    "generate_instance": "engine.instance.generate",
    "RunResult": "engine.pipeline", "RunSettings": "engine.pipeline", "run": "engine.pipeline",
    "TravelModel": "engine.travel",
    "HorizonResult": "engine.simulate.horizon", "HorizonSettings": "engine.simulate.horizon",
    "simulate_horizon": "engine.simulate.horizon",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "BackendError", "ConfigError", "EngineError", "HorizonResult", "HorizonSettings", "InfeasibleError", "Instance",
    "InstanceError", "Issue",
    "RunResult", "RunSettings", "Settings", "SolveStats", "SolveStatus", "TravelModel", "generate_instance",
    "import_olist", "load_instance", "run", "simulate_horizon", "validate_instance", "write_instance",
]
