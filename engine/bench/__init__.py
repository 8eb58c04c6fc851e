"""Benchmarking solver settings: experiments, isolated runs, a results store, executors, analysis."""

from engine.bench.analysis import Check, accept, geomean, performance_profile, summarise
from engine.bench.executors import fan_out, run_isolated
from engine.bench.experiment import KINDS, SENSE, Config, Experiment, RunSpec, load_experiment
from engine.bench.runner import ExperimentRun, run_experiment
from engine.bench.store import ResultStore

__all__ = [
    "KINDS", "SENSE", "Check", "Config", "Experiment", "ExperimentRun", "ResultStore", "RunSpec", "accept",
    "fan_out", "geomean", "load_experiment", "performance_profile", "run_experiment", "run_isolated", "summarise",
]
