"""Service-quality indicators: each defined once, as a function of the executed outcomes.

Five factors, thirteen indicators (DESIGN.md): each indicator is computed per replication from
the outcome table of the event-driven execution (:func:`engine.simulate.replicate.execute_day`,
``OUTCOME_COLUMNS``), then summarised with a 95% confidence interval. ``direction`` says
whether higher (">=") or lower ("<=") is better; its target comes from the instance
(``[quality.targets]``), ``default_target`` when the instance does not set one.

Every indicator reads what the executed log recorded (the accepted assignment's minute, the ETA
given at that moment, the executed arrival, the scans that were recorded, who carried what) and
``moved_by`` names the decisions that move it (:data:`DECISIONS`); ``docs/quality.md`` explains
how. An indicator no decision can move has no place on the scorecard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

# what a planner decides, and so what can move an indicator
DECISIONS = (
    "stocking plan",  # what is placed in which forward warehouse (and so what ships from the central DC)
    "dispatch policy / period",  # rolling, waves or greedy, and how often it re-plans
    "fleet size",  # own couriers and their shifts
    "courier mix",  # own fleet and crowd (fleet-only, crowd-only), who may carry special goods
    "export settings",  # what the run exports: the courier manifest's precision and columns
)


@dataclass(frozen=True, slots=True)
class Context:
    """What indicators need besides the outcomes of one replication."""

    peak_windows: tuple[tuple[float, float], ...]  # (start_min, end_min) of peak periods
    export_privacy: float  # share of field checks passed by every exported file (engine.quality.privacy)


@dataclass(frozen=True, slots=True)
class Indicator:
    name: str
    factor: str
    label: str
    direction: str  # ">=" higher is better, "<=" lower is better
    unit: str
    compute: Callable[[pd.DataFrame, Context], float]
    measured_as: str
    moved_by: str  # the decisions (of DECISIONS) that move it, comma-separated
    default_target: float

    @property
    def decisions(self) -> tuple[str, ...]:
        return tuple(d.strip() for d in self.moved_by.split(",") if d.strip())


def _share(mask: pd.Series | np.ndarray, among: pd.Series | np.ndarray | None = None) -> float:
    m = np.asarray(mask, dtype=bool)
    if among is not None:
        m = m[np.asarray(among, dtype=bool)]
    return float(m.mean()) if m.size else float("nan")


def _instant_rate(o: pd.DataFrame, c: Context) -> float:
    return _share(o["instant"])


def _forward_fill(o: pd.DataFrame, c: Context) -> float:
    return _share(o["source"] == "forward")


def _peak_assignment_p95(o: pd.DataFrame, c: Context) -> float:
    """p95 of minutes from creation to the accepted assignment, forward orders created in a peak.

    An order no courier ever accepted (moved to the slow tier first) waited at least until its
    promise: it counts with that wait, so leaving orders unassigned never looks fast.
    """
    created = o["created_min"].to_numpy(float)
    in_peak = np.zeros(len(o), dtype=bool)
    for lo, hi in c.peak_windows:
        in_peak |= (created >= lo) & (created < hi)
    in_peak &= (o["source"] == "forward").to_numpy()
    assigned = o["assigned_min"].to_numpy(float)
    wait = np.where(np.isfinite(assigned), assigned, o["due_min"].to_numpy(float)) - created
    w = wait[in_peak]
    return float(np.percentile(w, 95)) if len(w) else float("nan")


def _special_compliance(o: pd.DataFrame, c: Context) -> float:
    ok = o["allowed_courier"] & (o["state"] == "delivered")
    return _share(ok, o["special"])


def _special_on_time(o: pd.DataFrame, c: Context) -> float:
    return _share(o["on_time"] & o["allowed_courier"], o["special"])


def _on_time(o: pd.DataFrame, c: Context) -> float:
    return _share(o["on_time"])


def _damage_loss(o: pd.DataFrame, c: Context) -> float:
    return _share(o["state"] != "delivered")


def _claims(o: pd.DataFrame, c: Context) -> float:
    return _share(o["claim_resolved_on_time"], o["claim"])


def _trail(o: pd.DataFrame, c: Context) -> float:
    return _share(o["trail_complete"])


def _eta_error(o: pd.DataFrame, c: Context) -> float:
    err = (o["delivered_min"] - o["planned_arrive_min"]).abs().dropna()
    return float(np.percentile(err, 90)) if len(err) else float("nan")


def _returns(o: pd.DataFrame, c: Context) -> float:
    return _share(o["return_picked_on_time"] & o["trail_complete"], o["returned"])


def _high_value_intact(o: pd.DataFrame, c: Context) -> float:
    return _share(o["allowed_courier"] & (o["state"] == "delivered"), o["high_value"])


def _privacy(o: pd.DataFrame, c: Context) -> float:
    return c.export_privacy


_ALL_OPS = "stocking plan, dispatch policy / period, fleet size, courier mix"
_COURIERS = "dispatch policy / period, fleet size, courier mix"
# who carries an order (its courier kind) sets its damage, loss and scan-gap rates
_CARRIER = "courier mix, dispatch policy / period, stocking plan"

INDICATORS: tuple[Indicator, ...] = (
    Indicator("instant_delivery_rate", "responsiveness", "Instant delivery capability", ">=", "share", _instant_rate,
              "orders delivered within their instant promise / all orders", _ALL_OPS, 0.8),
    Indicator("forward_fill_rate", "responsiveness", "Demand served from forward stock", ">=", "share", _forward_fill,
              "orders filled from a forward warehouse / all orders", "stocking plan", 0.85),
    Indicator("peak_assignment_p95_min", "responsiveness", "Coordination in peaks", "<=", "min", _peak_assignment_p95,
              "p95 minutes from order creation to the accepted assignment, forward orders created in peak "
              "windows (never accepted: the wait until the promise)", _COURIERS, 10.0),
    Indicator("special_handling_compliance", "individual_service", "Customised packaging / handling", ">=", "share",
              _special_compliance, "special-handling orders delivered undamaged by an allowed courier / special orders",
              _CARRIER, 0.99),
    Indicator("special_goods_on_time", "individual_service", "Special goods delivery", ">=", "share", _special_on_time,
              "special orders on time by an allowed courier / special orders", _ALL_OPS, 0.95),
    Indicator("on_time_rate", "reliability", "On-time delivery accuracy", ">=", "share", _on_time,
              "orders delivered by their promised time / all orders", _ALL_OPS, 0.98),
    Indicator("damage_loss_rate", "reliability", "Lost or damaged handling", "<=", "share", _damage_loss,
              "damaged or lost orders / all orders", _CARRIER, 0.005),
    Indicator("claims_resolved_rate", "reliability", "Claims resolved in time", ">=", "share", _claims,
              "damage / loss claims resolved within the claim window / claims",
              "courier mix, dispatch policy / period", 0.95),
    Indicator("tracking_complete_rate", "traceability", "Information transparency", ">=", "share", _trail,
              "orders whose every courier scan was recorded in the executed log / all orders", _CARRIER, 0.99),
    Indicator("eta_error_p90_min", "traceability", "ETA accuracy", "<=", "min", _eta_error,
              "p90 of the minutes between the executed arrival and the ETA given at the accepted "
              "assignment (either way), orders delivered by couriers of the day", _COURIERS, 10.0),
    Indicator("returns_tracked_rate", "traceability", "Returns tracking", ">=", "share", _returns,
              "returns picked up in their window with a complete trail / returns", _COURIERS, 0.95),
    Indicator("high_value_intact_rate", "security", "Commodity safety", ">=", "share", _high_value_intact,
              "high-value orders delivered intact (not damaged, not lost) by an allowed courier / high-value orders",
              _CARRIER, 0.995),
    Indicator("export_privacy", "security", "Data protection", ">=", "share", _privacy,
              "field checks passed by every exported file against the declared export policy / checks",
              "export settings", 1.0),
)
INDICATOR_BY_NAME = {i.name: i for i in INDICATORS}
FACTORS = ("responsiveness", "individual_service", "reliability", "traceability", "security")


def indicators_markdown() -> str:
    """The indicator reference of ``docs/quality.md``, generated from :data:`INDICATORS`."""
    lines = ["| factor | indicator | name | better | unit | default target | measured as | moved by |",
             "|---|---|---|---|---|---|---|---|"]
    for i in INDICATORS:
        better = "higher" if i.direction == ">=" else "lower"
        lines.append(f"| {i.factor.replace('_', ' ')} | {i.label} | `{i.name}` | {better} | {i.unit} | "
                     f"{i.default_target:g} | {i.measured_as} | {i.moved_by} |")
    return "\n".join(lines) + "\n"


def default_targets() -> dict[str, float]:
    """Each indicator's default target, by name (what ``[quality.targets]`` falls back to)."""
    return {i.name: i.default_target for i in INDICATORS}


def damage_by_courier(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Commodity safety by courier type: orders, damaged and lost per replication (means), and the rate."""
    reps = max(int(outcomes["replication"].nunique()), 1)
    g = outcomes.groupby("courier_kind")
    out = pd.DataFrame({
        "orders": g.size() / reps,
        "damaged": g["state"].apply(lambda s: (s == "damaged").sum()) / reps,
        "lost": g["state"].apply(lambda s: (s == "lost").sum()) / reps,
    })
    out["damage_loss_rate"] = (out["damaged"] + out["lost"]) / out["orders"]
    return out.reset_index()
