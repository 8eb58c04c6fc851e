"""The whole chain on one instance: forecast → stocking → fulfilment → dispatch → simulate → quality.

``run`` is a plain function over an :class:`~engine.instance.Instance` and :class:`RunSettings`;
the CLI's ``nearstock run`` only parses arguments, calls it and renders the result.

What ``run`` checks rather than trusts:

* before any stage runs: the back-end names and every option name of the forecast, stocking
  and dispatch settings (each back-end declares its option names in its stage's registry; a
  typo fails with a :class:`~engine.errors.ConfigError` naming stage, back-end, key and the
  closest known names);
* before simulating: the day's whole dispatch plan (every wave together) goes through the
  independent feasibility checker; a plan that fails it raises
  :class:`~engine.dispatch.PlanCheckError` listing each violation and nothing is simulated;
* dispatch waves whose solve failed are reported (``summary()["dispatch_waves"]``), not
  hidden: their orders were offered again at the next epoch, and any left unserved carry the
  reason ``solve_error: ...``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ConfigError
from engine.instance import Instance
from engine.io import atomic_dir, to_json_text, write_frame
from engine.quality import Context, Scorecard, build_scorecard, courier_manifest, privacy_score
from engine.simulate import SimulationResult, allocate_orders, simulate_day
from engine.solver import Settings

COURIER_POLICIES = ("all", "fleet-only", "crowd-only")
STAGES = ("forecast", "stocking", "allocate", "dispatch", "simulate", "quality")


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Settings of one end-to-end run; ``None`` fields fall back to the instance manifest."""

    day: dt.date | None = None  # the day to dispatch and simulate (default: planning.start_date)
    seed: int | None = None
    forecast: Settings | None = None
    stocking: Settings | None = None
    dispatch: Settings | None = None
    scenarios: int | None = None
    replications: int | None = None
    couriers: str = "all"  # all | fleet-only | crowd-only

    def __post_init__(self) -> None:
        if self.couriers not in COURIER_POLICIES:
            raise ConfigError(f"couriers must be one of {', '.join(COURIER_POLICIES)}, got {self.couriers!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat() if self.day else None, "seed": self.seed,
            "forecast": self.forecast.to_dict() if self.forecast else None,
            "stocking": self.stocking.to_dict() if self.stocking else None,
            "dispatch": self.dispatch.to_dict() if self.dispatch else None,
            "scenarios": self.scenarios, "replications": self.replications, "couriers": self.couriers,
        }


@dataclass(frozen=True)
class RunResult:
    """Everything one run decided and measured."""

    instance: str
    day: dt.date
    seed: int
    settings: RunSettings
    forecast: Any  # engine.forecast.ForecastResult
    stocking: Any  # engine.stocking.StockingResult
    allocated: pd.DataFrame
    stock_left: pd.DataFrame
    dispatch: Any  # engine.dispatch.DispatchResult
    simulation: SimulationResult
    scorecard: Scorecard
    courier_manifest: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    context: dict[str, pd.DataFrame] = field(default_factory=dict)  # tables the report draws from
    instance_notes: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        a = self.allocated
        asg = self.dispatch.assignments
        fwd = a["source"] == "forward"
        served = asg["status"] == "served"
        return {
            "instance": self.instance,
            "day": self.day.isoformat(),
            "seed": self.seed,
            "orders": int(len(a)),
            "from_forward_stock": int(fwd.sum()),
            "from_central_dc": int((~fwd).sum()),
            "dispatched_fleet": int((served & (asg["courier_kind"] == "fleet")).sum()),
            "dispatched_crowd": int((served & (asg["courier_kind"] == "crowd")).sum()),
            "unserved_by_dispatch": int((~served).sum()),
            "service_quality_index": round(self.scorecard.index, 2),
            "forecast": self.forecast.stats.to_dict(),
            "stocking": self.stocking.stats.to_dict(),
            "dispatch": self.dispatch.stats.to_dict(),
            "dispatch_waves": dispatch_waves(self.dispatch),
            "efficiency": dict(self.scorecard.efficiency),
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
            "dispatch_cost": dict(self.dispatch.cost),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "settings": self.settings.to_dict(),
            "scorecard": self.scorecard.to_dict(),
            "simulation": self.simulation.to_dict(),
            "instance_notes": self.instance_notes,
        }

    def write(self, out: str | Path, *, force: bool = False) -> Path:
        """Write every output into ``out`` atomically (temporary directory, then move).

        ``out`` must be new, an empty directory, or (with ``force``) an earlier nearstock output;
        see :func:`engine.io.check_output_dir`.
        """
        with atomic_dir(out, force=force, kind="run") as tmp:
            (tmp / "run.json").write_text(to_json_text(self.to_dict()), encoding="utf-8")
            tables = {
                "forecast.csv": self.forecast.to_frame(),
                "stock_plan.csv": self.stocking.to_frame(),
                "stock_left.csv": self.stock_left,
                "orders_allocated.csv": self.allocated,
                "assignments.csv": self.dispatch.assignments,
                "routes.csv": self.dispatch.routes,
                "courier_manifest.csv": self.courier_manifest,
                "outcomes.csv": self.simulation.outcomes,
                "tracking_events.csv": self.simulation.events,
                "scorecard.csv": self.scorecard.rows,
                "damage_by_courier.csv": self.scorecard.damage_by_courier,
            }
            for name, frame in tables.items():
                write_frame(frame, tmp / name)
            for name, frame in self.context.items():
                write_frame(frame, tmp / name)
        return Path(out)


def _options_source(instance: Instance, stage: str, used: Settings) -> str:
    """Where a stage's options came from, for error messages."""
    if dict(used.options) == dict(instance.manifest.settings(stage).options) and used.options:
        where = instance.path / "instance.toml" if instance.path is not None else f"instance {instance.name!r}"
        return f"table solver.{stage}.options of {where}"  # no brackets: the CLI prints rich markup
    return f"the {stage} settings given to the run"


def dispatch_waves(plan: Any) -> dict[str, Any]:
    """How the day's dispatch solves went: counts and the failed ones (epoch, back-end, error)."""
    solves = list(getattr(plan, "meta", {}).get("solves", []))
    errored = [s for s in solves if s.get("error")]
    return {"solves": len(solves), "errored": len(errored),
            "errors": [{k: s[k] for k in ("epoch_min", "backend", "status", "error", "orders_in")}
                       for s in errored]}


def _stage_settings(instance: Instance, stage: str, override: Settings | None, seed: int) -> Settings:
    """The stage's settings: the override or the manifest's; the run seed unless an override sets its own."""
    base = override or instance.manifest.settings(stage)
    return base.with_(seed=seed) if override is None or override.seed == 0 else base


def history_until(instance: Instance, day: dt.date) -> pd.DataFrame:
    """Demand history as known the evening before ``day``: the instance's history plus the
    realised orders of planning days before ``day`` (units per date, SKU and zone)."""
    before = instance.orders[instance.orders["date"] < pd.Timestamp(day)]
    if before.empty:
        return instance.demand
    realised = before.groupby(["date", "sku", "zone"], as_index=False)["quantity"].sum()
    realised["quantity"] = realised["quantity"].astype(float)
    return pd.concat([instance.demand, realised], ignore_index=True)


def orders_of_day(instance: Instance, day: dt.date) -> pd.DataFrame:
    orders = instance.orders[instance.orders["date"] == pd.Timestamp(day)]
    if orders.empty:
        days = sorted({d.date().isoformat() for d in instance.orders["date"]})
        raise ConfigError(f"instance {instance.name!r} has no orders on {day}; days with orders: {', '.join(days) or 'none'}")
    return orders.reset_index(drop=True)


def restrict_couriers(instance: Instance, policy: str) -> Instance:
    if policy == "fleet-only":
        return replace(instance, crowd=instance.crowd.iloc[0:0])
    if policy == "crowd-only":
        return replace(instance, fleet=instance.fleet.iloc[0:0])
    return instance


def run(instance: Instance, settings: RunSettings | None = None, *,
        progress: Callable[[str], None] | None = None) -> RunResult:
    """Run the whole chain for one day of the instance."""
    from engine.dispatch import PlanCheckError, check_day_settings, find_violations, plan_day
    from engine.forecast import FORECASTERS, forecast
    from engine.stocking import STOCKING, build_problem, solve_stocking

    settings = settings or RunSettings()
    m = instance.manifest
    seed = m.seed if settings.seed is None else settings.seed
    day = settings.day or m.planning.start_date
    orders = orders_of_day(instance, day)
    stage_settings = {
        stage: _stage_settings(instance, stage, getattr(settings, stage), seed)
        for stage in ("forecast", "stocking", "dispatch")
    }
    # unknown or unavailable back-ends and undeclared option names fail here, before any work
    checks = {"forecast": FORECASTERS.check, "stocking": STOCKING.check,
              "dispatch": check_day_settings}  # dispatch: the back-end's options + day planning's own
    for stage, check in checks.items():
        try:
            check(stage_settings[stage])
        except ConfigError as exc:
            raise ConfigError(f"{exc} (options from {_options_source(instance, stage, stage_settings[stage])})") from None
    timings: dict[str, float] = {}
    tick = time.perf_counter()

    def done(stage: str) -> None:
        nonlocal tick
        now = time.perf_counter()
        timings[stage] = now - tick
        tick = now
        if progress:
            progress(stage)

    scenarios = settings.scenarios or m.planning.scenarios
    history = history_until(instance, day)
    fc = forecast(history, horizon=m.planning.horizon_days, start=day,
                  events=instance.events, n_scenarios=scenarios,
                  settings=stage_settings["forecast"])
    done("forecast")

    problem = build_problem(instance, fc)
    stock = solve_stocking(problem, stage_settings["stocking"])
    done("stocking")

    allocated, stock_left = allocate_orders(instance, orders, stock.to_frame())
    done("allocate")

    fleet_view = restrict_couriers(instance, settings.couriers)
    fast = allocated[allocated["source"] == "forward"].reset_index(drop=True)
    plan = plan_day(fleet_view, fast, stage_settings["dispatch"])
    # the plan that is executed is checked independently first: never simulate a broken plan
    if plan.problem is None:
        raise PlanCheckError([], what="the dispatch plan (it carries no problem to check it against)")
    violations = find_violations(plan.problem, plan)
    if violations:
        raise PlanCheckError(violations, what=f"the dispatch plan of {day}")
    assignments = _with_central(plan.assignments, allocated)
    done("dispatch")

    sim = simulate_day(instance, allocated, assignments, replications=settings.replications, seed=seed)
    done("simulate")

    manifest_export = courier_manifest(assignments, allocated)
    ctx = Context(peak_windows=_peak_windows(instance, day, orders), manifest_privacy=privacy_score(manifest_export))
    eff = efficiency(instance, allocated, stock, problem, plan, fc, orders)
    card = build_scorecard(sim.outcomes, ctx, targets=m.quality.targets, weights=m.quality.weights, efficiency=eff)
    done("quality")

    return RunResult(instance=instance.name, day=day, seed=seed, settings=settings, forecast=fc, stocking=stock,
                     allocated=allocated, stock_left=stock_left, dispatch=replace_assignments(plan, assignments),
                     simulation=sim, scorecard=card, courier_manifest=manifest_export, timings=timings,
                     context=report_context(instance, fc, history, day), instance_notes=dict(m.notes))


def report_context(instance: Instance, fc: Any, history: pd.DataFrame, day: dt.date, *, top: int = 6,
                   days: int = 42) -> dict[str, pd.DataFrame]:
    """Small tables the HTML report needs besides the plans: the network and recent history."""
    fcf = fc.to_frame()
    top_series = (fcf.groupby(["sku", "zone"])["mean"].sum().sort_values(ascending=False).head(top).reset_index()[["sku", "zone"]])
    start = pd.Timestamp(day)
    recent = history[history["date"] >= start - pd.Timedelta(days=days)]
    hist = recent.merge(top_series, on=["sku", "zone"])
    grid = pd.MultiIndex.from_product([pd.date_range(start - pd.Timedelta(days=days), start - pd.Timedelta(days=1)),
                                       [tuple(x) for x in top_series.to_numpy()]], names=["date", "series"])
    hist = hist.set_index(["date", hist[["sku", "zone"]].apply(tuple, axis=1).rename("series")])["quantity"]
    hist = hist.reindex(grid, fill_value=0.0).reset_index()
    hist[["sku", "zone"]] = pd.DataFrame(hist["series"].tolist(), index=hist.index)
    return {
        "warehouses.csv": instance.warehouses,
        "zones.csv": instance.zones,
        "history_top.csv": hist[["date", "sku", "zone", "quantity"]],
    }


def replace_assignments(plan: Any, assignments: pd.DataFrame) -> Any:
    try:
        return replace(plan, assignments=assignments)
    except TypeError:  # pragma: no cover - result types that are not dataclasses
        return plan


def _with_central(assignments: pd.DataFrame, allocated: pd.DataFrame) -> pd.DataFrame:
    """Add the central-DC orders (not routed here) to the per-order table, reason stated."""
    central = allocated[allocated["source"] == "central"]
    if central.empty:
        return assignments.reset_index(drop=True)
    extra = pd.DataFrame({"order": central["id"].to_numpy(), "status": "unserved", "warehouse": central["warehouse"].to_numpy(),
                          "due_min": central["due_min"].to_numpy(),
                          "reason": "no forward stock: slow promise from the central DC"})
    return pd.concat([assignments, extra], ignore_index=True)


def _peak_windows(instance: Instance, day: dt.date, orders: pd.DataFrame) -> tuple[tuple[float, float], ...]:
    ev = instance.events[(instance.events["date"] == pd.Timestamp(day)) & (instance.events["kind"] == "livestream")]
    if len(ev):
        return tuple((float(a), float(b)) for a, b in zip(ev["start_min"], ev["end_min"], strict=True))
    hours = np.bincount((orders["created_min"].to_numpy() // 60).astype(int).clip(0, 23), minlength=24)
    top = np.argsort(-hours, kind="stable")[:2]
    return tuple((float(h * 60), float(h * 60 + 60)) for h in sorted(top))


def efficiency(instance: Instance, allocated: pd.DataFrame, stock: Any, problem: Any, plan: Any, fc: Any,
               orders: pd.DataFrame) -> dict[str, float]:
    """Cost and utilisation figures of the day (no targets; reported beside the scorecard)."""
    n = max(len(allocated), 1)
    units = np.asarray(stock.units, dtype=float)
    stock_cost = float((units * np.asarray(problem.unit_cost)).sum())
    dispatch_cost = float(plan.cost["operating"])  # fixed + distance + time + per-delivery pay
    fw = instance.forward_warehouses.set_index("id")
    vol = units * np.asarray(problem.volume_m3)[:, None]
    cap = fw.loc[list(problem.warehouses), "capacity_m3"].to_numpy(dtype=float)
    wh_util = float(np.mean(vol.sum(axis=0) / np.where(cap > 0, cap, np.nan))) if len(cap) else float("nan")
    sold_fwd = float(allocated.loc[allocated["source"] == "forward", "quantity"].sum())
    routes = plan.routes
    load_factor = courier_util = float("nan")
    if len(routes):
        caps = pd.concat([instance.fleet.set_index("id")["capacity_m3"], instance.crowd.set_index("id")["capacity_m3"]])
        trips = routes.groupby(["courier", "trip"]).agg(load=("load_m3", "max"), start=("depart_min", "min"),
                                                        end=("arrive_min", "max")).reset_index()
        trips["cap"] = trips["courier"].map(caps)
        load_factor = float((trips["load"] / trips["cap"]).mean())
        fleet = instance.fleet.set_index("id")
        ft = trips[trips["courier"].isin(fleet.index)]
        if len(ft):
            busy = (ft["end"] - ft["start"]).groupby(ft["courier"]).sum()
            shift = (fleet["shift_end_min"] - fleet["shift_start_min"]).loc[busy.index]
            courier_util = float((busy / shift).mean())
    # forecast error on the day: forecast mean of that day vs realised units per (sku, zone)
    fcf = fc.to_frame()
    day_fc = fcf[pd.to_datetime(fcf["date"]) == pd.Timestamp(orders["date"].iloc[0])]
    realised = orders.groupby(["sku", "zone"])["quantity"].sum()
    joined = day_fc.set_index(["sku", "zone"])["mean"].to_frame().join(realised, how="outer").fillna(0.0)
    wmape = float((joined["quantity"] - joined["mean"]).abs().sum() / max(joined["quantity"].sum(), 1e-9))
    return {
        "cost_per_order": (stock_cost + dispatch_cost) / n,
        "dispatch_cost": dispatch_cost,
        "stocking_cost": stock_cost,
        "vehicle_load_factor": load_factor,
        "courier_utilisation": courier_util,
        "warehouse_utilisation": wh_util,
        "inventory_turnover_days": float(units.sum() / sold_fwd) if sold_fwd > 0 else float("nan"),
        "forecast_wmape_day": wmape,
    }
