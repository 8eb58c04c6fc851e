"""The whole chain on one instance: forecast → stocking → fulfilment → execute the day → quality.

``run`` is a plain function over an :class:`~engine.instance.Instance` and :class:`RunSettings`;
the CLI's ``nearstock run`` only parses arguments, calls it and renders the result.

What ``run`` checks rather than trusts:

* before any stage runs: the back-end names and every option name of the forecast, stocking
  and dispatch settings (each back-end declares its option names in its stage's registry; a
  typo fails with a :class:`~engine.errors.ConfigError` naming stage, back-end, key and the
  closest known names);
* the day is executed, not planned then perturbed: :func:`engine.simulate.execute_day` runs
  each replication as a discrete-event simulation with the dispatch policy (``rolling``,
  ``waves`` or ``greedy``) called at every decision epoch on the realised state;
* before anything is executed: every epoch's trips go through the independent feasibility
  checker against the state they were planned from; a failing plan raises
  :class:`~engine.simulate.execute.PlanRejected` and nothing is written;
* after each replication: the executed log goes through its own checker
  (:func:`engine.simulate.logcheck.check_execution`: one place at a time, no leg faster than
  possible, capacity, no pickup before ready, one final state per order); an inconsistent
  log raises :class:`ExecutionCheckError` rather than being scored;
* decision epochs whose solve failed are reported (``summary()["dispatch_waves"]``), not
  hidden: nothing of theirs was executed and their orders stayed in the pool.
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

from engine.dispatch.policy import POLICIES
from engine.errors import ConfigError, EngineError
from engine.instance import Instance
from engine.io import atomic_dir, to_json_text, write_frame
from engine.quality import Context, Scorecard, build_scorecard, courier_manifest, export_privacy
from engine.simulate import allocate_orders
from engine.simulate.replicate import ExecutionResult
from engine.solver import Settings, SolveStats, SolveStatus

COURIER_POLICIES = ("all", "fleet-only", "crowd-only")
DISPATCH_POLICIES = POLICIES  # the dispatch policies make_policy knows
STAGES = ("forecast", "stocking", "allocate", "execute", "quality")


class ExecutionCheckError(EngineError):
    """An executed day failed the log checker (a defect to report, never a scorecard to trust)."""


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
    policy: str = "rolling"  # the dispatcher in the loop: rolling | waves | greedy | matching
    period: float | None = None  # minutes between decision epochs (default: dispatch.wave_min)
    workers: int = 1  # replications executed in parallel processes (same results as one)

    def __post_init__(self) -> None:
        if self.couriers not in COURIER_POLICIES:
            raise ConfigError(f"couriers must be one of {', '.join(COURIER_POLICIES)}, got {self.couriers!r}")
        if self.policy not in DISPATCH_POLICIES:
            raise ConfigError(f"policy must be one of {', '.join(DISPATCH_POLICIES)}, got {self.policy!r}")
        if self.period is not None and not (0 < self.period <= 1440):
            raise ConfigError(f"period must be in (0, 1440] minutes, got {self.period!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat() if self.day else None, "seed": self.seed,
            "forecast": self.forecast.to_dict() if self.forecast else None,
            "stocking": self.stocking.to_dict() if self.stocking else None,
            "dispatch": self.dispatch.to_dict() if self.dispatch else None,
            "scenarios": self.scenarios, "replications": self.replications, "couriers": self.couriers,
            "policy": self.policy, "period": self.period, "workers": self.workers,
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
    dispatch: Any  # engine.dispatch.DispatchResult: replication 0 as executed
    simulation: ExecutionResult
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
            "dispatch_waves": dispatch_waves(self.simulation),
            "execution": {k: v for k, v in self.simulation.to_dict().items() if k not in ("notes", "stats")},
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

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table the run exports, by file name (each declared in the export policy)."""
        return {**export_tables(self.forecast, self.stocking, self.stock_left, self.allocated, self.dispatch,
                                self.courier_manifest, self.simulation, self.context),
                "scorecard.csv": self.scorecard.rows, "damage_by_courier.csv": self.scorecard.damage_by_courier,
                "indicators_by_replication.csv": self.scorecard.per_replication}

    def write(self, out: str | Path, *, force: bool = False) -> Path:
        """Write every output into ``out`` atomically (temporary directory, then move).

        ``out`` must be new, an empty directory, or (with ``force``) an earlier nearstock output;
        see :func:`engine.io.check_output_dir`.
        """
        with atomic_dir(out, force=force, kind="run") as tmp:
            (tmp / "run.json").write_text(to_json_text(self.to_dict()), encoding="utf-8")
            for name, frame in self.tables().items():
                write_frame(frame, tmp / name)
        return Path(out)


def export_tables(fc: Any, stock: Any, stock_left: pd.DataFrame, allocated: pd.DataFrame, plan: Any,
                  manifest: pd.DataFrame, execution: ExecutionResult, context: dict[str, pd.DataFrame]
                  ) -> dict[str, pd.DataFrame]:
    """The run's exported tables that exist before scoring (the export-privacy check reads these)."""
    return {
        "forecast.csv": fc.to_frame(), "stock_plan.csv": stock.to_frame(), "stock_left.csv": stock_left,
        "orders_allocated.csv": allocated, "assignments.csv": plan.assignments, "routes.csv": plan.routes,
        "courier_manifest.csv": manifest, "outcomes.csv": execution.outcomes,
        "tracking_events.csv": execution.tracking_events(), "events.csv": execution.events,
        "epochs.csv": execution.epochs, **context,
    }


def _options_source(instance: Instance, stage: str, used: Settings) -> str:
    """Where a stage's options came from, for error messages."""
    if dict(used.options) == dict(instance.manifest.settings(stage).options) and used.options:
        where = instance.path / "instance.toml" if instance.path is not None else f"instance {instance.name!r}"
        return f"table solver.{stage}.options of {where}"  # no brackets: the CLI prints rich markup
    return f"the {stage} settings given to the run"


def dispatch_waves(execution: ExecutionResult) -> dict[str, Any]:
    """How the decision epochs' solves went, over every replication: counts and the failed ones."""
    ep = execution.epochs
    if not len(ep) or "status" not in ep:
        return {"solves": 0, "errored": 0, "errors": []}
    solved = ep[ep["status"] != "idle"]
    errored = solved[solved["status"] == "error"]
    return {"solves": int(len(solved)), "errored": int(len(errored)),
            "errors": [{"replication": int(r.replication), "epoch_min": float(r.t), "status": str(r.status),
                        "error": str(r.error), "orders_in": int(r.pending)}
                       for r in errored.head(20).itertuples(index=False)]}


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
    from engine.dispatch import check_day_settings
    from engine.forecast import FORECASTERS, forecast
    from engine.simulate.logcheck import check_execution
    from engine.simulate.replicate import execute_day
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
    ex = execute_day(fleet_view, allocated, policy=settings.policy, settings=stage_settings["dispatch"],
                     period=settings.period, replications=settings.replications, seed=seed,
                     workers=settings.workers)
    for r, executed in enumerate(ex.days):
        problems = check_execution(executed)
        if problems:
            raise ExecutionCheckError(f"replication {r} of {day}: the executed log fails its checker: "
                                      + "; ".join(problems[:5]))
    plan = _executed_plan(ex, fleet_view, allocated, stage_settings["dispatch"])
    assignments = _with_central(plan.assignments, allocated)
    done("execute")

    manifest_export = courier_manifest(assignments, allocated)
    context = report_context(instance, fc, history, day)
    executed = replace_assignments(plan, assignments)
    exported = export_tables(fc, stock, stock_left, allocated, executed, manifest_export, ex, context)
    ctx = Context(peak_windows=_peak_windows(instance, day, orders), export_privacy=export_privacy(exported).score)
    eff = efficiency(instance, allocated, stock, problem, plan, fc, orders, ex)
    card = build_scorecard(ex.outcomes, ctx, targets=m.quality.targets, weights=m.quality.weights, efficiency=eff)
    done("quality")

    return RunResult(instance=instance.name, day=day, seed=seed, settings=settings, forecast=fc, stocking=stock,
                     allocated=allocated, stock_left=stock_left, dispatch=executed,
                     simulation=ex, scorecard=card, courier_manifest=manifest_export, timings=timings,
                     context=context, instance_notes=dict(m.notes))


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


def _executed_plan(ex: ExecutionResult, instance: Instance, allocated: pd.DataFrame, settings: Settings) -> Any:
    """Replication 0 as executed, as a dispatch result (an empty one when nothing was forward)."""
    from engine.dispatch.result import (
        ASSIGNMENT_COLUMNS,
        ROUTE_COLUMNS,
        DispatchResult,
        cost_breakdown,
    )
    from engine.simulate.replicate import executed_plan

    ep = ex.epochs
    solved = ep[ep["status"] != "idle"] if len(ep) and "status" in ep else ep.iloc[0:0]
    errored = int((solved["status"] == "error").sum()) if len(solved) else 0
    status = SolveStatus.ERROR if len(solved) and errored == len(solved) else SolveStatus.FEASIBLE
    secs = float(ep["seconds"].sum()) if len(ep) and "seconds" in ep else 0.0
    stats = SolveStats(backend=ex.policy if ex.policy in ("greedy", "matching") else (settings.backend or "pyvrp"), status=status,
                       solve_seconds=secs,
                       message=f"{ex.policy} every {ex.period:g} min in the loop of {ex.replications} executed "
                               f"replications; {len(ep)} epochs" + (f", {errored} failed solves" if errored else ""))
    if ex.days:
        return executed_plan(ex.days[0], stats)
    empty_a = pd.DataFrame(columns=[*ASSIGNMENT_COLUMNS, "assigned_min", "eta_min"])
    empty_r = pd.DataFrame(columns=[*ROUTE_COLUMNS, "warehouse", "loc"])
    return DispatchResult(assignments=empty_a, routes=empty_r, stats=stats,
                          cost=cost_breakdown(fixed=0, distance=0, time=0, per_delivery=0, unserved=0, lateness=0))


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
               orders: pd.DataFrame, execution: ExecutionResult | None = None) -> dict[str, float]:
    """Cost and utilisation figures of the day (no targets; reported beside the scorecard).

    Costs are means over the executed replications: couriers' executed operating cost plus
    the DC carrier's price (``dispatch.central_cost_per_order``) for every order it delivered
    (central-DC orders and forward orders sent to the slow tier). Loads and utilisation are
    replication 0's."""
    n = max(len(allocated), 1)
    units = np.asarray(stock.units, dtype=float)
    stock_cost = float((units * np.asarray(problem.unit_cost)).sum())
    dispatch_cost = float(plan.cost["operating"])  # fixed + distance + time + per-delivery pay
    central_cost = 0.0
    if execution is not None and len(execution.outcomes):
        o = execution.outcomes
        if len(execution.costs) and "operating" in execution.costs:
            dispatch_cost = float(execution.costs["operating"].mean())
        carried = (~o["served_by_plan"].astype(bool)).groupby(o["replication"]).sum()
        central_cost = float(carried.mean()) * float(instance.manifest.dispatch.central_cost_per_order)
    fw = instance.forward_warehouses.set_index("id")
    vol = units * np.asarray(problem.volume_m3)[:, None]
    cap = fw.loc[list(problem.warehouses), "capacity_m3"].to_numpy(dtype=float)
    wh_util = float(np.mean(vol.sum(axis=0) / np.where(cap > 0, cap, np.nan))) if len(cap) else float("nan")
    sold_fwd = float(allocated.loc[allocated["source"] == "forward", "quantity"].sum())
    routes = plan.routes
    load_factor = courier_util = float("nan")
    if len(routes):
        caps = pd.concat([instance.fleet.set_index("id")["capacity_m3"], instance.crowd.set_index("id")["capacity_m3"]])
        delivery_trips = routes.loc[routes["kind"] == "pickup", ["courier", "trip"]].drop_duplicates()
        routes = routes.merge(delivery_trips, on=["courier", "trip"])  # return runs carry no outbound load
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
        "cost_per_order": (stock_cost + dispatch_cost + central_cost) / n,
        "dispatch_cost": dispatch_cost,
        "central_carrier_cost": central_cost,
        "stocking_cost": stock_cost,
        "vehicle_load_factor": load_factor,
        "courier_utilisation": courier_util,
        "warehouse_utilisation": wh_util,
        "inventory_turnover_days": float(units.sum() / sold_fwd) if sold_fwd > 0 else float("nan"),
        "forecast_wmape_day": wmape,
    }
