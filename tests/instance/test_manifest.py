"""Manifest gaps closed (#13.3): unknown keys, 64-bit integers, maxima, shares, weights, options."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from engine.errors import Issue
from engine.instance import validate_instance
from engine.instance.manifest import DEFAULT_TARGETS, known_options, parse_manifest, target_bounds
from engine.instance.schema import TABLES

KNOWN = {t.name for t in TABLES}


def _base() -> dict[str, Any]:
    return {
        "format_version": 1, "name": "m",
        "planning": {"start_date": dt.date(2026, 6, 1)},
        "promise": [{"name": "instant", "max_min": 60.0, "source": "forward", "coverage_min": 20.0},
                    {"name": "next_day", "max_min": 1440.0, "source": "central"}],
        "segments": [{"id": "standard", "share": 1.0, "promise_min": 60.0}],
    }


def _issues(data: dict[str, Any]) -> list[Issue]:
    issues: list[Issue] = []
    parse_manifest(data, issues, KNOWN)
    return issues


def _codes(data: dict[str, Any]) -> set[tuple[str | None, str]]:
    return {(i.column, i.code) for i in _issues(data)}


def test_base_manifest_is_valid() -> None:
    issues: list[Issue] = []
    assert parse_manifest(_base(), issues, KNOWN) is not None and issues == []


def test_unknown_keys_in_promise_segments_quality() -> None:
    d = _base()
    d["promise"][0]["coverage"] = 20.0
    d["segments"][0]["wieght"] = 2.0
    d["quality"] = {"target": {}}
    assert {("promise[0].coverage", "unknown_key"), ("segments[0].wieght", "unknown_key"),
            ("quality.target", "unknown_key")} <= _codes(d)


@pytest.mark.parametrize(("where", "value"), [
    (("seed",), 2**64), (("seed",), 2**63), (("planning", "horizon_days"), -(2**70)),
    (("stocking", "min_lot"), 2**64 + 1), (("simulation", "replications"), 2**100),
])
def test_integers_beyond_64_bits(where: tuple[str, ...], value: int) -> None:
    d = _base()
    node = d
    for k in where[:-1]:
        node = node.setdefault(k, {})
    node[where[-1]] = value
    hits = [i for i in _issues(d) if i.column == ".".join(where)]
    assert [i.code for i in hits] == ["out_of_range"]


def test_integer_beyond_float_range_for_a_float_key() -> None:
    d = _base()
    d["dispatch"] = {"unserved_penalty": 10**400}
    hits = [i for i in _issues(d) if i.column == "dispatch.unserved_penalty"]
    assert [i.code for i in hits] == ["out_of_range"] and "too large" in hits[0].message


@pytest.mark.parametrize(("section", "key", "value"), [
    ("stocking", "transfer_cost_per_m3", 1e12), ("dispatch", "late_penalty_per_min", 5e9),
    ("travel", "service_min", 2000.0), ("planning", "picking_min", 1e5),
    ("simulation", "claim_median_hours", 1e6), ("stocking", "budget", 1e16),
])
def test_values_beyond_documented_maxima(section: str, key: str, value: float) -> None:
    d = _base()
    d.setdefault(section, {})[key] = value
    assert (f"{section}.{key}", "out_of_range") in _codes(d)


def test_planning_start_date_range() -> None:
    d = _base()
    d["planning"]["start_date"] = dt.date(1, 1, 1)
    assert ("planning.start_date", "out_of_range") in _codes(d)


def test_share_targets_outside_unit_interval() -> None:
    d = _base()
    d["quality"] = {"targets": {"on_time_rate": 1.5, "forward_fill_rate": -0.1, "eta_error_p90_min": 12.0}}
    codes = _codes(d)
    assert ("quality.targets.on_time_rate", "out_of_range") in codes
    assert ("quality.targets.forward_fill_rate", "out_of_range") in codes
    assert not any(c == "quality.targets.eta_error_p90_min" for c, _ in codes)


def test_every_default_target_lies_in_its_bounds() -> None:
    for name, value in DEFAULT_TARGETS.items():
        lo, hi = target_bounds(name)
        assert lo <= value <= hi, name


def test_all_factor_weights_zero() -> None:
    d = _base()
    d["quality"] = {"weights": {k: 0.0 for k in ("responsiveness", "individual_service", "reliability",
                                                  "traceability", "security")}}
    assert ("quality.weights", "all_zero") in _codes(d)
    d["quality"]["weights"]["security"] = 0.5
    assert not any(code == "all_zero" for _, code in _codes(d))


def test_unknown_solver_option_names_stage_backend_and_key() -> None:
    d = _base()
    d["solver"] = {"stocking": {"backend": "decomp", "options": {"max_sweep": 10, "max_sweeps": 5}},
                   "dispatch": {"backend": "pyvrp", "options": {"recombine": 0.2, "simulate_declines": True,
                                                                "recombination": 0.2}},
                   "forecast": {"options": {"holdout": 28, "hold_out": 28}}}
    hits = {(i.column, i.code): i for i in _issues(d)}
    assert set(hits) == {("solver.stocking.options.max_sweep", "unknown_key"),
                         ("solver.dispatch.options.recombination", "unknown_key"),
                         ("solver.forecast.options.hold_out", "unknown_key")}
    assert "max_sweeps" in hits[("solver.stocking.options.max_sweep", "unknown_key")].message


def test_solver_settings_keys_backend_and_bounds() -> None:
    d = _base()
    d["solver"] = {"stocking": {"backend": "gurobi"}, "dispatch": {"threads": 10**30, "seed": float("inf"),
                                                                   "timelimit": 5.0},
                   "forecast": {"mip_gap": 1.0, "time_limit": 0.0}}
    codes = _codes(d)
    assert {("solver.stocking.backend", "unknown_backend"), ("solver.dispatch.threads", "out_of_range"),
            ("solver.dispatch.seed", "wrong_type"), ("solver.dispatch.timelimit", "unknown_key"),
            ("solver.forecast.mip_gap", "out_of_range"), ("solver.forecast.time_limit", "out_of_range")} <= codes


def test_rule_backend_without_options_rejects_any() -> None:
    assert known_options("stocking", "newsvendor") == frozenset()
    d = _base()
    d["solver"] = {"stocking": {"backend": "newsvendor", "options": {"relax": True}}}
    assert ("solver.stocking.options.relax", "unknown_key") in _codes(d)


def test_fallback_option_names_match_what_the_back_ends_check() -> None:
    from engine.dispatch.backend_ortools import OPTIONS as ORTOOLS
    from engine.dispatch.backend_pyvrp import OPTIONS as PYVRP
    from engine.dispatch.day import DAY_OPTIONS
    from engine.forecast.core import KNOWN_OPTIONS
    from engine.stocking.decomp import OPTIONS as DECOMP

    assert known_options("dispatch", "pyvrp") >= PYVRP | DAY_OPTIONS
    assert known_options("dispatch", "ortools") >= ORTOOLS | DAY_OPTIONS
    assert known_options("stocking", "decomp") >= DECOMP
    assert known_options("forecast", "ets") >= KNOWN_OPTIONS


def test_manifest_issues_reach_validate(tmp_path: Path) -> None:
    from tests.helpers import tiny_copy

    root = tiny_copy(tmp_path)
    data = tomllib.loads((root / "instance.toml").read_text())
    data["segments"][0]["promise"] = 30.0
    data["seed"] = 2**64
    (root / "instance.toml").write_text(tomli_w.dumps(data))
    found = {(i.file, i.column, i.code) for i in validate_instance(root)}
    assert {("instance.toml", "segments[0].promise", "unknown_key"), ("instance.toml", "seed", "out_of_range")} <= found
