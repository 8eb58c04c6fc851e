"""Instances: manifest + tables, loaded and validated as a whole."""

from engine.instance.manifest import (
    DEFAULT_TARGETS,
    DEFAULT_WEIGHTS,
    DispatchParams,
    Manifest,
    Planning,
    PromiseTier,
    Quality,
    Segment,
    SimulationParams,
    StockingParams,
    Travel,
)
from engine.instance.model import Instance
from engine.instance.read import load_instance, validate_instance, write_instance
from engine.instance.schema import TABLES, Column, Table

__all__ = [
    "DEFAULT_TARGETS", "DEFAULT_WEIGHTS", "TABLES", "Column", "DispatchParams", "Instance", "Manifest",
    "Planning", "PromiseTier", "Quality", "Segment", "SimulationParams", "StockingParams", "Table",
    "Travel", "load_instance", "validate_instance", "write_instance",
]
