"""nearstock: forecast, forward stocking, dispatch and service quality for fast e-commerce delivery.

The public API is small; everything a planner or an embedding developer needs is here.
"""

from engine.errors import (
    BackendError,
    ConfigError,
    EngineError,
    InfeasibleError,
    InstanceError,
    Issue,
)
from engine.importers import import_olist
from engine.instance import Instance, load_instance, validate_instance, write_instance
from engine.instance.generate import generate_instance
from engine.pipeline import RunResult, RunSettings, run
from engine.solver import Settings, SolveStats, SolveStatus

__version__ = "0.1.0"

__all__ = [
    "BackendError", "ConfigError", "EngineError", "InfeasibleError", "Instance", "InstanceError", "Issue",
    "RunResult", "RunSettings", "Settings", "SolveStats", "SolveStatus", "generate_instance", "import_olist", "load_instance",
    "run", "validate_instance", "write_instance",
]
