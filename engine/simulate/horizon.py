"""Operate for weeks: stock carried over, nightly replenishment, KPIs over a horizon of days.

:func:`simulate_horizon` runs the planning days ``start .. start + days - 1`` of an instance in
order. Every evening, before day d:

1. **forecast** — refitted on the realised history known that evening (the instance's history
   plus the orders of every planning day before d, :func:`engine.pipeline.history_until`). The
   configured forecaster is refitted in full every ``full_refit_every`` nights (the first night
   always); on the nights between, an ``auto`` forecaster re-selects among the local methods
   only (the global gradient-boosted model costs ~10x a local refit). Forecasts depend on the
   realised orders only, never on the stock, so with ``workers`` >= 2 they are computed ahead
   in a second process while the days run;
2. **replenishment** — the stocking model decides tomorrow's stock with tonight's inventory
   position (on the shelf + in transit) as its starting inventory
   (:class:`engine.stocking.StockingProblem` ``on_hand``): kept units pay only holding, moved
   units transfer and handling, pulled-back units ``replenishment.pull_back_cost_per_m3``, and
   at most ``replenishment.nightly_transfer_m3`` is moved into a warehouse in one night.
   ``stocking`` picks the plan: ``stochastic`` (the two-stage model over demand scenarios with
   the instance's stocking back-end), ``mean`` (the same model on the mean forecast, one
   scenario) or ``days_of_cover`` (the order-up-to rule: mean demand × cycle days, no
   pull-backs). Moves in arrive after ``replenishment.lead_time_days`` more nights (0 = the next
   morning); pull-backs leave that night;
3. **the day** — the orders meet the opening stock (:func:`engine.simulate.allocate_orders`),
   the forward orders are executed by the event-driven day (:func:`engine.simulate.replicate.
   execute_day`, the dispatch policy in the loop, ``replications`` times, every log checked),
   and the day is scored (:func:`engine.quality.build_scorecard`);
4. **returns restock** — units of forward orders that replication 0 delivered intact and the
   customer returned go back on the shelf of their warehouse at the end of the day.

The stock trajectory follows replication 0 (the world as it happened); replications 1.. re-run
each day's execution under other random draws of the same orders and stock, which gives the
confidence intervals of the day's indicators. Stock is conserved exactly: per (date, SKU,
warehouse) ``start + arrived + returned - sold - pulled_back = end`` and each day starts where
the previous one ended (``HorizonResult.stock``; :func:`conservation_errors` checks it).
"""

from __future__ import annotations

import datetime as dt
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ConfigError
from engine.instance import Instance
from engine.io import atomic_dir, to_json_text, write_frame
from engine.solver import Settings

STOCKING_POLICIES = ("stochastic", "days_of_cover", "mean")
LOCAL_CANDIDATES = ("seasonal_naive", "seasonal_naive_yearly", "moving_average", "ses", "ets", "croston", "sba",
                    "tsb")
STOCK_COLUMNS = ("date", "sku", "warehouse", "start", "arrived", "returned", "sold", "pulled_back", "end",
                 "decided", "moved_in", "in_transit")
DAY_COLUMNS = (
    "date", "day", "orders", "units_ordered", "forward_orders", "forward_fill_rate", "stockout_orders",
    "stock_units", "stock_volume_m3", "stock_value", "warehouse_utilisation", "units_sold", "units_returned",
    "units_moved_in", "units_pulled_back", "transfer_m3", "inventory_turnover_days", "vehicle_load_factor",
    "courier_utilisation", "forecast_wmape", "forecast_wmape_sku", "forecast_abs_error", "forecast_abs_error_sku",
    "forecast_units", "on_time_rate",
    "instant_rate", "service_index", "service_index_ci_low", "service_index_ci_high", "cost_transfer",
    "cost_pull_back", "cost_holding", "cost_dispatch", "cost_central", "cost_total", "cost_per_order",
    "stocking_backend", "stocking_status", "stocking_gap", "forecast_refit",
)
TIMING_COLUMNS = ("date", "forecast_s", "stocking_s", "allocate_s", "execute_s", "quality_s")
SEGMENT_COLUMNS = ("date", "segment", "orders", "forward_share", "on_time_rate", "instant_rate", "late_min_mean")


class HorizonError(ConfigError):
    """A horizon that cannot be run as asked (days without orders, a back-end without start stock)."""


@dataclass(frozen=True, slots=True)
class HorizonSettings:
    """Settings of a horizon; ``None`` fields fall back to the instance manifest."""

    days: int = 7
    start: dt.date | None = None  # first planning day (default: planning.start_date)
    stocking: str = "stochastic"  # stochastic | days_of_cover | mean
    seed: int | None = None
    forecast: Settings | None = None
    stocking_settings: Settings | None = None  # the model's back-end (stochastic and mean)
    dispatch: Settings | None = None
    scenarios: int | None = None
    replications: int = 1
    policy: str = "rolling"  # the dispatcher in the loop: rolling | waves | greedy
    period: float | None = None
    couriers: str = "all"
    workers: int = 1  # >= 2: forecasts ahead in a second process; replications in parallel too
    full_refit_every: int = 7  # nights between full forecast refits (1 = every night)
    check_logs: bool = True  # every executed log through its checker (about half of a day's time)

    def __post_init__(self) -> None:
        from engine.pipeline import COURIER_POLICIES, DISPATCH_POLICIES

        if isinstance(self.days, bool) or not isinstance(self.days, int) or not 1 <= self.days <= 366:
            raise ConfigError(f"days must be a whole number in 1..366, got {self.days!r}")
        if self.stocking not in STOCKING_POLICIES:
            raise ConfigError(f"stocking must be one of {', '.join(STOCKING_POLICIES)}, got {self.stocking!r}")
        if self.policy not in DISPATCH_POLICIES:
            raise ConfigError(f"policy must be one of {', '.join(DISPATCH_POLICIES)}, got {self.policy!r}")
        if self.couriers not in COURIER_POLICIES:
            raise ConfigError(f"couriers must be one of {', '.join(COURIER_POLICIES)}, got {self.couriers!r}")
        for name in ("replications", "workers", "full_refit_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be a whole number >= 1, got {v!r}")
        if self.period is not None and not (0 < self.period <= 1440):
            raise ConfigError(f"period must be in (0, 1440] minutes, got {self.period!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "days": self.days, "start": self.start.isoformat() if self.start else None, "stocking": self.stocking,
            "seed": self.seed, "forecast": self.forecast.to_dict() if self.forecast else None,
            "stocking_settings": self.stocking_settings.to_dict() if self.stocking_settings else None,
            "dispatch": self.dispatch.to_dict() if self.dispatch else None, "scenarios": self.scenarios,
            "replications": self.replications, "policy": self.policy, "period": self.period,
            "couriers": self.couriers, "workers": self.workers, "full_refit_every": self.full_refit_every,
            "check_logs": self.check_logs,
        }


@dataclass(frozen=True)
class HorizonResult:
    """Every day of a horizon: KPIs per day and segment, stock flows, overall KPIs."""

    instance: str
    start: dt.date
    seed: int
    settings: HorizonSettings
    days: pd.DataFrame  # DAY_COLUMNS, one row per day
    segments: pd.DataFrame  # SEGMENT_COLUMNS, one row per (day, segment)
    stock: pd.DataFrame  # STOCK_COLUMNS, one row per (day, sku, warehouse) with any stock or flow
    index_by_replication: pd.DataFrame  # date, replication, service_index
    kpis: dict[str, Any]
    day_timings: pd.DataFrame = field(default_factory=pd.DataFrame)  # TIMING_COLUMNS (not seeded: wall time)
    timings: dict[str, float] = field(default_factory=dict)
    peak_memory_mb: float = float("nan")
    notes: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        return self.days

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance, "start": self.start.isoformat(), "days": int(len(self.days)),
            "seed": self.seed, "settings": self.settings.to_dict(), "overall": self.kpis["overall"],
            "segments": self.kpis["segments"], "per_day": _records(self.days),
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
            "peak_memory_mb": round(self.peak_memory_mb, 1), "notes": list(self.notes),
        }

    def seeded_dict(self) -> dict[str, Any]:
        """``to_dict`` without wall-clock timings and memory: the same seed gives the same value."""
        return {k: v for k, v in self.to_dict().items() if k not in ("timings_s", "peak_memory_mb")}

    def summary(self) -> dict[str, Any]:
        """The overall KPIs with the run's identity (what ``--json`` prints)."""
        return {"instance": self.instance, "start": self.start.isoformat(), "days": int(len(self.days)),
                "seed": self.seed, "stocking": self.settings.stocking, "policy": self.settings.policy,
                "replications": self.settings.replications, **self.kpis["overall"],
                "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
                "peak_memory_mb": round(self.peak_memory_mb, 1)}

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every exported table by file name (each declared in the export policy)."""
        return {"days.csv": self.days, "segments.csv": self.segments, "stock_days.csv": self.stock,
                "index_by_replication.csv": self.index_by_replication, "timings.csv": self.day_timings}

    def write(self, out: str | Path, *, force: bool = False) -> Path:
        """Write ``kpis.json`` and the tables into ``out`` atomically (an output folder, marker kind
        ``horizon``; ``nearstock report OUT`` draws its report)."""
        with atomic_dir(out, force=force, kind="horizon") as tmp:
            (tmp / "kpis.json").write_text(to_json_text(self.to_dict()), encoding="utf-8")
            for name, frame in self.tables().items():
                write_frame(frame, tmp / name)
        return Path(out)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in frame.to_dict(orient="records"):
        out.append({k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in rec.items()})
    return out


# --------------------------------------------------------------------------- forecasts


def _forecast_settings(base: Settings, night: int, every: int) -> tuple[Settings, str]:
    """The forecaster of one night: in full on refit nights, else auto over the local methods."""
    if (base.backend or "auto") != "auto" or night % every == 0:
        return base, "full"
    cands = [c for c in base.options.get("candidates", LOCAL_CANDIDATES) if c in LOCAL_CANDIDATES]
    return base.with_(options={**base.options, "candidates": cands or list(LOCAL_CANDIDATES)}), "local"


def _night_forecast(instance: Instance, day: dt.date, settings: Settings, scenarios: int) -> Any:
    from engine.forecast import forecast
    from engine.pipeline import history_until

    m = instance.manifest
    return forecast(history_until(instance, day), horizon=m.planning.horizon_days, start=day,
                    events=instance.events, n_scenarios=scenarios, settings=settings)


_WORKER_INSTANCE: Instance | None = None


def _init_forecaster(instance: Instance) -> None:
    global _WORKER_INSTANCE
    _WORKER_INSTANCE = instance


def _forecast_task(day: dt.date, settings: Settings, scenarios: int) -> tuple[Any, float]:
    assert _WORKER_INSTANCE is not None
    t0 = time.perf_counter()
    return _night_forecast(_WORKER_INSTANCE, day, settings, scenarios), time.perf_counter() - t0


def horizon_forecasts(instance: Instance, days: Sequence[dt.date], settings: Settings, *, scenarios: int,
                      full_refit_every: int = 7, ahead: bool = False) -> Iterator[tuple[Any, str, float]]:
    """(forecast, refit kind, seconds) for the night before each day, in order.

    With ``ahead`` the nights are computed in one separate process while the caller consumes
    them (same results: every forecast is seeded by ``settings``)."""
    plan = [_forecast_settings(settings, i, full_refit_every) for i in range(len(days))]
    if not ahead or len(days) < 2:
        for day, (s, kind) in zip(days, plan, strict=True):
            t0 = time.perf_counter()
            fc = _night_forecast(instance, day, s, scenarios)
            yield fc, kind, time.perf_counter() - t0
        return
    import multiprocessing

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_forecaster, initargs=(instance,)) as pool:
        futures: list[Future[tuple[Any, float]]] = [pool.submit(_forecast_task, day, s, scenarios)
                                                    for day, (s, _) in zip(days, plan, strict=True)]
        try:
            for fut, (_, kind) in zip(futures, plan, strict=True):
                fc, secs = fut.result()
                yield fc, kind, secs
        finally:
            for fut in futures:
                fut.cancel()


# --------------------------------------------------------------------------- the horizon


def _planning_days(instance: Instance, start: dt.date, n: int) -> list[dt.date]:
    days = [start + dt.timedelta(days=i) for i in range(n)]
    have = {d.date() for d in pd.to_datetime(instance.orders["date"]).drop_duplicates()}
    missing = [d for d in days if d not in have]
    if missing:
        listed = sorted(have)
        span = f"{listed[0]} .. {listed[-1]} ({len(listed)} days)" if listed else "none"
        raise HorizonError(
            f"instance {instance.name!r} has no orders on {len(missing)} of the {n} days from {start} "
            f"(first missing: {missing[0]}); days with orders: {span}. A synthetic city with more order "
            f"days: `nearstock generate DIR --days {n + (start - listed[0]).days if listed else n}`")
    return days


def _solve_night(instance: Instance, fc: Any, position: np.ndarray, policy: str, settings: Settings,
                 scenarios: int) -> tuple[Any, Any]:
    from engine.stocking import build_problem, solve_stocking
    from engine.stocking.study import mean_value_problem

    problem = build_problem(instance, fc, scenarios=scenarios, on_hand=position)
    if policy == "days_of_cover":
        return problem, solve_stocking(problem, Settings(backend="days_of_cover", seed=settings.seed))
    if policy == "mean":
        mean = mean_value_problem(problem)
        return problem, solve_stocking(mean, settings)
    return problem, solve_stocking(problem, settings)


def _matrix(frame: pd.DataFrame, col: str, skus: pd.Index, whs: pd.Index) -> np.ndarray:
    out = np.zeros((len(skus), len(whs)), dtype=np.int64)
    if len(frame):
        si = skus.get_indexer(frame["sku"].astype(str))
        wi = whs.get_indexer(frame["warehouse"].astype(str))
        ok = (si >= 0) & (wi >= 0)
        np.add.at(out, (si[ok], wi[ok]), frame[col].to_numpy(dtype=np.int64)[ok])
    return out


def _stock_frame(units: np.ndarray, skus: pd.Index, whs: pd.Index) -> pd.DataFrame:
    s, w = np.nonzero(units)
    return pd.DataFrame({"sku": skus.to_numpy()[s], "warehouse": whs.to_numpy()[w],
                         "units": units[s, w].astype(np.int64)})


def _returned_units(allocated: pd.DataFrame, outcomes: pd.DataFrame, skus: pd.Index, whs: pd.Index) -> np.ndarray:
    """Units of forward orders replication 0 delivered intact and the customer sent back."""
    o = outcomes[(outcomes["replication"] == 0) & outcomes["returned"].astype(bool)
                 & (outcomes["state"] == "delivered") & (outcomes["source"] == "forward")]
    back = allocated[allocated["id"].isin(set(o["order"]))]
    return _matrix(back.rename(columns={"quantity": "units"}), "units", skus, whs)


def conservation_errors(stock: pd.DataFrame) -> list[str]:
    """Every (date, sku, warehouse) whose flows do not add up, and every day that does not start
    where the previous one ended (empty list = stock conserved)."""
    bad: list[str] = []
    s = stock
    lhs = s["start"] + s["arrived"] + s["returned"] - s["sold"] - s["pulled_back"]
    for r in s[lhs != s["end"]].head(10).itertuples(index=False):
        bad.append(f"{r.date} {r.sku} {r.warehouse}: start {r.start} + arrived {r.arrived} + returned {r.returned}"
                   f" - sold {r.sold} - pulled back {r.pulled_back} != end {r.end}")
    if (s[["start", "arrived", "returned", "sold", "pulled_back", "end"]] < 0).any().any():
        bad.append("negative stock or flow")
    dates = sorted(s["date"].unique())
    for prev, cur in zip(dates, dates[1:], strict=False):
        a = s[s["date"] == prev].set_index(["sku", "warehouse"])["end"]
        b = s[s["date"] == cur].set_index(["sku", "warehouse"])["start"]
        j = pd.concat([a, b], axis=1, keys=["end", "start"]).fillna(0)
        if (j["end"] != j["start"]).any():
            bad.append(f"{cur} does not start where {prev} ended ({int((j['end'] != j['start']).sum())} slots)")
    return bad


EXACT_STOCKING = ("highs", "cbc", "scip")  # the stocking back-ends that take a starting inventory
STOCKING_DEFAULT = "decomp"  # what an instance without [solver.stocking] backend is stocked with


def _check(instance: Instance, st: dict[str, Settings], policy: str) -> None:
    from engine.dispatch import check_day_settings
    from engine.forecast import FORECASTERS
    from engine.pipeline import _options_source
    from engine.stocking import STOCKING

    checks = {"forecast": FORECASTERS.check, "stocking": STOCKING.check, "dispatch": check_day_settings}
    for stage, check in checks.items():
        try:
            check(st[stage])
        except ConfigError as exc:
            raise ConfigError(f"{exc} (options from {_options_source(instance, stage, st[stage])})") from None
    if policy != "days_of_cover" and st["stocking"].backend not in EXACT_STOCKING:
        raise HorizonError(f"stocking back-end {st['stocking'].backend!r} does not take a starting inventory; "
                           "over a horizon the stochastic and mean plans need an exact MIP back-end "
                           "(highs, cbc or scip), e.g. --stocking-backend highs")


def simulate_horizon(instance: Instance, settings: HorizonSettings | None = None, *,
                     progress: Callable[[int, dt.date, str], None] | None = None,
                     forecasts: Sequence[tuple[Any, str, float]] | None = None) -> HorizonResult:
    """Run ``settings.days`` planning days with stock carried over (see the module docstring).

    ``progress(i, day, stage)`` is called after each stage of day ``i`` (``forecast``,
    ``stocking``, ``execute``, ``quality``). ``forecasts`` (from :func:`horizon_forecasts`, one
    per day) lets several stocking policies share the nights' forecasts: they depend on the
    realised orders only, not on the stock.
    """
    from engine.pipeline import (
        _executed_plan,
        _peak_windows,
        _stage_settings,
        efficiency,
        orders_of_day,
        restrict_couriers,
    )
    from engine.quality import Context, build_scorecard, export_privacy
    from engine.quality.scorecard import mean_ci
    from engine.simulate import allocate_orders
    from engine.simulate.logcheck import check_execution
    from engine.simulate.replicate import execute_day

    settings = settings or HorizonSettings()
    t_all = time.perf_counter()
    m = instance.manifest
    seed = m.seed if settings.seed is None else settings.seed
    start = settings.start or m.planning.start_date
    days = _planning_days(instance, start, settings.days)
    st = {stage: _stage_settings(instance, stage, override, seed) for stage, override in
          (("forecast", settings.forecast), ("stocking", settings.stocking_settings), ("dispatch", settings.dispatch))}
    substituted = ""
    if (settings.stocking != "days_of_cover" and st["stocking"].backend not in EXACT_STOCKING
            and (settings.stocking_settings is None or not settings.stocking_settings.backend)):
        # the instance's back-end (not the user's choice) cannot start from tonight's stock: say so, use HiGHS
        substituted = (f"stocking: the instance's back-end {st['stocking'].backend or STOCKING_DEFAULT!r} does not "
                       "take a starting inventory; highs used every night")
        st["stocking"] = st["stocking"].with_(backend="highs", options={})
    _check(instance, st, settings.stocking)
    scenarios = settings.scenarios or m.planning.scenarios
    skus = pd.Index(instance.skus["id"].astype(str))
    fw = instance.forward_warehouses
    whs = pd.Index(fw["id"].astype(str))
    vol = instance.skus["unit_volume_m3"].to_numpy(float)
    value = instance.skus["unit_value"].to_numpy(float)
    cap = fw["capacity_m3"].to_numpy(float)
    handling = fw["handling_cost_per_unit"].to_numpy(float)
    holding = fw["holding_cost_per_m3_day"].to_numpy(float)
    rp = m.replenishment
    transfer_unit = m.stocking.transfer_cost_per_m3 * vol[:, None] + handling[None, :]
    pull_unit = rp.pull_back_cost_per_m3 * vol[:, None] * np.ones((1, len(whs)))
    covered_zones = set(instance.coverage().reindex(index=list(whs)).any(axis=0).pipe(lambda s: s[s].index))
    fleet_view = restrict_couriers(instance, settings.couriers)

    shelf = np.zeros((len(skus), len(whs)), dtype=np.int64)  # on the shelf at the end of the last day
    transit: dict[dt.date, np.ndarray] = {}
    day_rows: list[dict[str, Any]] = []
    seg_rows: list[pd.DataFrame] = []
    stock_rows: list[pd.DataFrame] = []
    rep_rows: list[dict[str, Any]] = []
    time_rows: list[dict[str, Any]] = []
    timings = {"forecast": 0.0, "stocking": 0.0, "allocate": 0.0, "execute": 0.0, "quality": 0.0}
    if forecasts is not None and len(forecasts) != len(days):
        raise ConfigError(f"got {len(forecasts)} forecasts for {len(days)} days")
    nights = forecasts if forecasts is not None else horizon_forecasts(
        instance, days, st["forecast"], scenarios=scenarios, full_refit_every=settings.full_refit_every,
        ahead=settings.workers >= 2)
    for i, (day, (fc, refit, fc_secs)) in enumerate(zip(days, nights, strict=True)):
        tick = time.perf_counter()
        timings["forecast"] += fc_secs
        if progress:
            progress(i, day, "forecast")
        in_transit = sum(transit.values(), np.zeros_like(shelf))
        position = shelf + in_transit
        problem, plan = _solve_night(instance, fc, position, settings.stocking, st["stocking"], scenarios)
        q = np.asarray(plan.units, dtype=np.int64)
        moved_in = np.maximum(q - position, 0)
        pulled = np.minimum(np.maximum(position - q, 0), shelf)  # only what is on the shelf can leave
        arrive = day + dt.timedelta(days=rp.lead_time_days)
        transit[arrive] = transit.get(arrive, np.zeros_like(shelf)) + moved_in
        arrived = transit.pop(day, np.zeros_like(shelf))
        opening = shelf - pulled + arrived
        t_stock = time.perf_counter() - tick
        timings["stocking"] += t_stock
        if progress:
            progress(i, day, "stocking")

        tick = time.perf_counter()
        orders = orders_of_day(instance, day)
        allocated, left = allocate_orders(instance, orders, _stock_frame(opening, skus, whs))
        remaining = _matrix(left, "units_left", skus, whs)
        sold = opening - remaining
        t_alloc = time.perf_counter() - tick
        timings["allocate"] += t_alloc
        tick = time.perf_counter()
        ex = execute_day(fleet_view, allocated, policy=settings.policy, settings=st["dispatch"],
                         period=settings.period, replications=settings.replications,
                         seed=seed + 7919 * i, workers=min(settings.workers, settings.replications))
        for r, executed in enumerate(ex.days if settings.check_logs else ()):
            problems = check_execution(executed)
            if problems:
                from engine.pipeline import ExecutionCheckError

                raise ExecutionCheckError(f"replication {r} of {day}: the executed log fails its checker: "
                                          + "; ".join(problems[:5]))
        returned = _returned_units(allocated, ex.outcomes, skus, whs)
        closing = opening - sold + returned
        t_exec = time.perf_counter() - tick
        timings["execute"] += t_exec
        if progress:
            progress(i, day, "execute")

        tick = time.perf_counter()
        flows = {"start": shelf, "arrived": arrived, "returned": returned, "sold": sold, "pulled_back": pulled,
                 "end": closing, "decided": q, "moved_in": moved_in,
                 "in_transit": sum(transit.values(), np.zeros_like(shelf))}
        any_flow = np.any(np.stack(list(flows.values())) != 0, axis=0)
        s_i, w_i = np.nonzero(any_flow)
        stock_day = pd.DataFrame({"date": day.isoformat(), "sku": skus.to_numpy()[s_i],
                                  "warehouse": whs.to_numpy()[w_i],
                                  **{k: v[s_i, w_i].astype(np.int64) for k, v in flows.items()}})
        stock_rows.append(stock_day)
        plan_exec = _executed_plan(ex, fleet_view, allocated, st["dispatch"])
        seg_day = _segment_rows(day, ex.outcomes)
        ctx = Context(peak_windows=_peak_windows(instance, day, orders),
                      export_privacy=export_privacy({"stock_days.csv": stock_day, "segments.csv": seg_day}).score)
        eff = efficiency(instance, allocated, SimpleNamespace(units=opening), problem, plan_exec, fc, orders, ex)
        card = build_scorecard(ex.outcomes, ctx, targets=m.quality.targets, weights=m.quality.weights)
        per_rep = []
        for r, g in ex.outcomes.groupby("replication", sort=True):
            idx = build_scorecard(g, ctx, targets=m.quality.targets, weights=m.quality.weights).index
            per_rep.append(idx)
            rep_rows.append({"date": day.isoformat(), "replication": int(r), "service_index": float(idx)})
        _, lo, hi = mean_ci(np.asarray(per_rep))
        ind = card.rows.set_index("indicator")["value"]
        n_orders = len(allocated)
        fwd = allocated["source"] == "forward"
        stockouts = int(((~fwd) & allocated["zone"].isin(covered_zones)).sum())
        fc_err = _forecast_error(fc, orders, day)
        costs = {
            "cost_transfer": float((transfer_unit * moved_in).sum()),
            "cost_pull_back": float((pull_unit * pulled).sum()),
            "cost_holding": float((holding[None, :] * vol[:, None] * opening).sum()),
            "cost_dispatch": float(eff["dispatch_cost"]),
            "cost_central": float(eff["central_carrier_cost"]),
        }
        total = sum(costs.values())
        units_sold = int(sold.sum())
        day_rows.append({
            "date": day.isoformat(), "day": i, "orders": n_orders, "units_ordered": int(allocated["quantity"].sum()),
            "forward_orders": int(fwd.sum()), "forward_fill_rate": float(ind.get("forward_fill_rate", np.nan)),
            "stockout_orders": stockouts, "stock_units": int(opening.sum()),
            "stock_volume_m3": float(vol @ opening.sum(axis=1)), "stock_value": float(value @ opening.sum(axis=1)),
            "warehouse_utilisation": float(np.mean((vol @ opening) / np.where(cap > 0, cap, np.nan))),
            "units_sold": units_sold, "units_returned": int(returned.sum()), "units_moved_in": int(moved_in.sum()),
            "units_pulled_back": int(pulled.sum()), "transfer_m3": float(vol @ moved_in.sum(axis=1)),
            "inventory_turnover_days": float(opening.sum() / units_sold) if units_sold else float("nan"),
            "vehicle_load_factor": float(eff["vehicle_load_factor"]),
            "courier_utilisation": float(eff["courier_utilisation"]),
            "forecast_wmape": fc_err[0] / fc_err[2] if fc_err[2] > 0 else float("nan"),
            "forecast_wmape_sku": fc_err[1] / fc_err[2] if fc_err[2] > 0 else float("nan"),
            "forecast_abs_error": fc_err[0], "forecast_abs_error_sku": fc_err[1], "forecast_units": fc_err[2],
            "on_time_rate": float(ind.get("on_time_rate", np.nan)),
            "instant_rate": float(ind.get("instant_delivery_rate", np.nan)),
            "service_index": float(card.index), "service_index_ci_low": lo, "service_index_ci_high": hi,
            **costs, "cost_total": total, "cost_per_order": total / n_orders if n_orders else float("nan"),
            "stocking_backend": plan.stats.backend, "stocking_status": str(getattr(plan.stats.status, "value", plan.stats.status)),
            "stocking_gap": float("nan") if plan.stats.gap is None else float(plan.stats.gap),
            "forecast_refit": refit,
        })
        time_rows.append({"date": day.isoformat(), "forecast_s": fc_secs, "stocking_s": t_stock,
                          "allocate_s": t_alloc, "execute_s": t_exec, "quality_s": time.perf_counter() - tick})
        seg_rows.append(seg_day)
        shelf = closing
        timings["quality"] += time.perf_counter() - tick
        if progress:
            progress(i, day, "quality")

    days_frame = pd.DataFrame(day_rows, columns=list(DAY_COLUMNS))
    seg_frame = pd.concat(seg_rows, ignore_index=True) if seg_rows else pd.DataFrame(columns=list(SEGMENT_COLUMNS))
    stock_frame = pd.concat(stock_rows, ignore_index=True)
    reps = pd.DataFrame(rep_rows, columns=["date", "replication", "service_index"])
    timings["total"] = time.perf_counter() - t_all
    notes = (
        "stock follows replication 0; replications 1.. re-execute each day for the confidence intervals",
        "every executed log passed its checker" if settings.check_logs else "executed logs NOT checked (check_logs off)",
        f"forecast: full refit every {settings.full_refit_every} nights, local methods re-selected on the others"
        if (st["forecast"].backend or "auto") == "auto" else f"forecast: {st['forecast'].backend} refitted every night",
        f"replenishment: lead time {rp.lead_time_days} nights, nightly transfer "
        + ("unlimited" if rp.nightly_transfer_m3 is None else f"<= {rp.nightly_transfer_m3:g} m3 per warehouse"),
    ) + ((substituted,) if substituted else ())
    kpis = horizon_kpis(days_frame, seg_frame, reps)
    kpis["overall"]["in_transit_units_at_end"] = int(sum(transit.values(), np.zeros_like(shelf)).sum())
    return HorizonResult(instance=instance.name, start=start, seed=seed, settings=settings, days=days_frame,
                         segments=seg_frame, stock=stock_frame, index_by_replication=reps, kpis=kpis,
                         day_timings=pd.DataFrame(time_rows, columns=list(TIMING_COLUMNS)), timings=timings, peak_memory_mb=peak_memory_mb(), notes=notes)


def peak_memory_mb() -> float:
    """Peak resident memory of this process and its finished children, MB (Linux: ru_maxrss in kB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return float(max(own, kids)) / 1024.0


def _forecast_error(fc: Any, orders: pd.DataFrame, day: dt.date) -> tuple[float, float, float]:
    """Sum of |forecast mean - realised units| on ``day`` per (sku, zone) and per SKU (zones
    summed), and the realised units."""
    f = fc.to_frame()
    f = f[pd.to_datetime(f["date"]) == pd.Timestamp(day)].groupby(["sku", "zone"])["mean"].sum()
    real = orders.groupby(["sku", "zone"])["quantity"].sum().astype(float)
    j = pd.concat([f, real], axis=1, keys=["mean", "real"]).fillna(0.0)
    by_sku = j.groupby(level=0).sum()
    return (float((j["real"] - j["mean"]).abs().sum()), float((by_sku["real"] - by_sku["mean"]).abs().sum()),
            float(j["real"].sum()))


def _segment_rows(day: dt.date, outcomes: pd.DataFrame) -> pd.DataFrame:
    o = outcomes
    delivered = o["state"].isin(["delivered", "damaged"])
    g = o.assign(fwd=o["source"] == "forward", on=o["on_time"].astype(bool), inst=o["instant"].astype(bool),
                 late=np.where(delivered, o["late_min"].clip(lower=0), np.nan)).groupby("segment", sort=True)
    reps = max(int(o["replication"].nunique()), 1)
    out = pd.DataFrame({"orders": g.size() / reps, "forward_share": g["fwd"].mean(), "on_time_rate": g["on"].mean(),
                        "instant_rate": g["inst"].mean(), "late_min_mean": g["late"].mean()}).reset_index()
    out.insert(0, "date", day.isoformat())
    return out[list(SEGMENT_COLUMNS)]


def horizon_kpis(days: pd.DataFrame, segments: pd.DataFrame, reps: pd.DataFrame) -> dict[str, Any]:
    """Overall KPIs of a horizon: totals, ratios of totals, and means over days with 95% CIs."""
    from engine.quality.scorecard import mean_ci

    def ci(values: Any) -> dict[str, float | None]:
        m, lo, hi = mean_ci(np.asarray(values, dtype=float))
        return {"mean": _clean(m), "ci_low": _clean(lo), "ci_high": _clean(hi)}

    orders = float(days["orders"].sum())
    sold = float(days["units_sold"].sum())
    w = days["orders"].to_numpy(float)

    def weighted(col: str) -> float:
        v = days[col].to_numpy(float)
        ok = np.isfinite(v)
        return float((v[ok] * w[ok]).sum() / w[ok].sum()) if ok.any() and w[ok].sum() > 0 else float("nan")

    cost_parts = {c: float(days[c].sum()) for c in ("cost_transfer", "cost_pull_back", "cost_holding",
                                                      "cost_dispatch", "cost_central")}
    overall: dict[str, Any] = {
        "orders": int(orders), "units_sold": int(sold),
        "inventory_turnover_days": _clean(float(days["stock_units"].mean()) / (sold / len(days)) if sold else np.nan),
        "warehouse_utilisation": _clean(float(days["warehouse_utilisation"].mean())),
        "forward_fill_rate": _clean(weighted("forward_fill_rate")),
        "forward_fill_rate_ci": ci(days["forward_fill_rate"]),
        "stockout_orders": int(days["stockout_orders"].sum()),
        "stockout_rate": _clean(float(days["stockout_orders"].sum()) / orders if orders else np.nan),
        "vehicle_load_factor": _clean(float(days["vehicle_load_factor"].mean())),
        "courier_utilisation": _clean(float(days["courier_utilisation"].mean())),
        "forecast_wmape": _clean(float(days["forecast_abs_error"].sum()) / float(days["forecast_units"].sum())
                                 if days["forecast_units"].sum() > 0 else np.nan),
        "forecast_wmape_sku": _clean(float(days["forecast_abs_error_sku"].sum()) / float(days["forecast_units"].sum())
                                     if days["forecast_units"].sum() > 0 else np.nan),
        "on_time_rate": _clean(weighted("on_time_rate")),
        "on_time_rate_ci": ci(days["on_time_rate"]),
        "instant_rate": _clean(weighted("instant_rate")),
        "service_index": _clean(float(reps["service_index"].mean()) if len(reps) else np.nan),
        "service_index_ci": ci(reps["service_index"]),
        "cost": {k: round(v, 2) for k, v in cost_parts.items()},
        "cost_total": round(sum(cost_parts.values()), 2),
        "cost_per_order": _clean(sum(cost_parts.values()) / orders if orders else np.nan),
        "units_moved_in": int(days["units_moved_in"].sum()), "units_pulled_back": int(days["units_pulled_back"].sum()),
        "units_returned": int(days["units_returned"].sum()),
    }
    seg: dict[str, Any] = {}
    for name, g in segments.groupby("segment", sort=True):
        wt = g["orders"].to_numpy(float)
        seg[str(name)] = {
            "orders": _clean(float(wt.sum())),
            "forward_share": _clean(float((g["forward_share"] * wt).sum() / wt.sum()) if wt.sum() else np.nan),
            "on_time_rate": _clean(float((g["on_time_rate"] * wt).sum() / wt.sum()) if wt.sum() else np.nan),
            "on_time_rate_ci": ci(g["on_time_rate"]),
            "instant_rate": _clean(float((g["instant_rate"] * wt).sum() / wt.sum()) if wt.sum() else np.nan),
            "late_min_mean": _clean(float(np.nanmean(g["late_min_mean"])) if g["late_min_mean"].notna().any()
                                    else np.nan),
        }
    return {"overall": overall, "segments": seg}


def _clean(v: float) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def with_replenishment(instance: Instance, **changes: Any) -> Instance:
    """The instance with some ``[replenishment]`` keys changed (for what-ifs and tests)."""
    m = instance.manifest
    return replace(instance, manifest=replace(m, replenishment=replace(m.replenishment, **changes)))
