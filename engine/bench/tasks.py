"""What one run does, per experiment kind. Runs in an isolated worker process.

Every task returns the same record shape: status, backend, objective, bound, gap,
wall_seconds, and a ``kpis`` dict of kind-specific measures. ``bound`` is a proven bound only;
a best known solution goes in ``reference``.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from engine.solver import Settings


def _stats_record(stats: Any) -> dict[str, Any]:
    return {"status": str(stats.status), "backend": stats.backend, "objective": stats.objective,
            "bound": stats.bound, "gap": stats.gap, "wall_seconds": stats.wall_seconds,
            "requested_backend": stats.requested_backend, "fallback_reason": stats.fallback_reason}


def run_vrptw(instance: str, settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    from engine.dispatch import solve_vrptw_file

    r = solve_vrptw_file(instance, settings)
    return {"status": r["status"], "backend": r["backend"], "objective": r["distance"], "bound": None,
            "reference": r["bks_distance"],
            "gap": r["gap"], "wall_seconds": r["seconds"],
            "kpis": {"vehicles": r["vehicles"], "bks_vehicles": r["bks_vehicles"], "feasible": r["feasible"],
                     "served": r["served"], "customers": r["customers"], "convention": r["convention"]}}


def run_stocking_random(instance: str, settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    from engine.bench.experiment import parse_random_spec
    from engine.stocking import random_problem, solve_stocking

    spec = parse_random_spec(instance)
    problem = random_problem(spec["S"], spec["W"], spec["Z"], spec["K"], seed=spec["seed"], **params)
    res = solve_stocking(problem, settings)
    return {**_stats_record(res.stats), "kpis": _stocking_kpis(res)}


def _stocking_kpis(res: Any) -> dict[str, Any]:
    exp = res.to_dict().get("expected", {}) if hasattr(res, "to_dict") else {}
    return {k: v for k, v in exp.items() if isinstance(v, (int, float, bool))}


def run_stocking(instance: str, settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    from engine.forecast import forecast
    from engine.instance import load_instance
    from engine.stocking import build_problem, solve_stocking

    inst = load_instance(instance)
    m = inst.manifest
    fc = forecast(inst.demand, horizon=m.planning.horizon_days, start=m.planning.start_date, events=inst.events,
                  n_scenarios=int(params.get("scenarios", m.planning.scenarios)),
                  settings=Settings(backend=str(params.get("forecast", "seasonal_naive")), seed=settings.seed))
    problem = build_problem(inst, fc, cycle_days=params.get("cycle_days"))
    res = solve_stocking(problem, settings)
    return {**_stats_record(res.stats), "kpis": _stocking_kpis(res)}


def run_dispatch(instance: str, settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    from engine.dispatch import check_solution, orders_for_day, plan_day
    from engine.instance import load_instance
    from engine.pipeline import restrict_couriers

    inst = restrict_couriers(load_instance(instance), str(params.get("couriers", "all")))
    day = params.get("day") or inst.orders["date"].min()
    res = plan_day(inst, orders_for_day(inst, day), settings, wave_min=params.get("wave_min"), rolling=params.get("rolling"))
    issues = check_solution(res.problem, res) if res.problem is not None else []
    h = res.headline()
    return {**_stats_record(res.stats), "objective": h["cost_total"],
            "kpis": {"on_time": h["on_time_share"], "served": h["served"], "unserved": h["unserved"],
                     "by_fleet": h["by_fleet"], "by_crowd": h["by_crowd"], "cost_operating": h["cost_operating"],
                     "distance_km": h["distance_km"], "feasible": not issues}}


def run_pipeline(instance: str, settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    from engine.instance import load_instance
    from engine.pipeline import RunSettings, run

    inst = load_instance(instance)
    t0 = time.perf_counter()
    stage = {k: Settings(backend=str(params[k]), seed=settings.seed, time_limit=settings.time_limit)
             for k in ("forecast", "stocking", "dispatch") if k in params}
    rs = RunSettings(day=dt.date.fromisoformat(params["day"]) if "day" in params else None, seed=settings.seed,
                     scenarios=params.get("scenarios"), replications=params.get("replications"),
                     couriers=str(params.get("couriers", "all")), **stage)
    res = run(inst, rs)
    values = res.scorecard.rows.set_index("indicator")["value"].to_dict()
    kpis = {**{k: float(v) for k, v in values.items()}, **res.scorecard.efficiency}
    kpis["on_time"] = kpis.get("on_time_rate")
    return {"status": "ok", "backend": "pipeline", "objective": res.scorecard.index, "bound": None, "gap": None,
            "wall_seconds": time.perf_counter() - t0, "kpis": kpis}


TASKS = {"vrptw": run_vrptw, "stocking": run_stocking, "stocking_random": run_stocking_random,
         "dispatch": run_dispatch, "pipeline": run_pipeline}


def execute(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one spec in this process (the worker calls this)."""
    settings = Settings.from_dict(spec["settings"])
    return TASKS[spec["kind"]](spec["instance"], settings, spec["params"])
