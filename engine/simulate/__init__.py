"""Simulation: allocate realised orders to stock, then execute the plans under uncertainty."""

from engine.simulate.day import EVENT_KINDS, FINAL_STATES, SimulationResult, simulate_day
from engine.simulate.fulfil import ALLOCATED_COLUMNS, allocate_orders

__all__ = ["ALLOCATED_COLUMNS", "EVENT_KINDS", "FINAL_STATES", "SimulationResult", "allocate_orders", "simulate_day"]
