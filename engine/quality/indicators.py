"""Service-quality indicators: each defined once, as a function of simulated outcomes.

Five factors, thirteen indicators (DESIGN.md): each indicator is computed per replication from
the outcome table of :func:`engine.simulate.execute_day`, then summarised with a 95% confidence
interval. ``direction`` says whether higher (">=") or lower ("<=") is better; its target comes
from the instance (``[quality.targets]``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True, slots=True)
class Context:
    """What indicators need besides the outcomes of one replication."""

    peak_windows: tuple[tuple[float, float], ...]  # (start_min, end_min) of peak periods
    manifest_privacy: float  # share of privacy checks the exported courier manifest passes


@dataclass(frozen=True, slots=True)
class Indicator:
    name: str
    factor: str
    label: str
    direction: str  # ">=" higher is better, "<=" lower is better
    unit: str
    compute: Callable[[pd.DataFrame, Context], float]
    measured_as: str


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
    wait = o["assigned_min"] - o["created_min"]
    in_peak = np.zeros(len(o), dtype=bool)
    for lo, hi in c.peak_windows:
        in_peak |= (o["created_min"] >= lo).to_numpy() & (o["created_min"] < hi).to_numpy()
    w = wait[in_peak & o["assigned_min"].notna().to_numpy()]
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
    err = o["eta_error_min"].abs().dropna()
    return float(np.percentile(err, 90)) if len(err) else float("nan")


def _returns(o: pd.DataFrame, c: Context) -> float:
    return _share(o["return_picked_on_time"] & o["trail_complete"], o["returned"])


def _high_value_allowed(o: pd.DataFrame, c: Context) -> float:
    return _share(o["allowed_courier"], o["high_value"])


def _privacy(o: pd.DataFrame, c: Context) -> float:
    return c.manifest_privacy


INDICATORS: tuple[Indicator, ...] = (
    Indicator("instant_delivery_rate", "responsiveness", "Instant delivery capability", ">=", "share", _instant_rate,
              "orders delivered within their instant promise / all orders"),
    Indicator("forward_fill_rate", "responsiveness", "Demand served from forward stock", ">=", "share", _forward_fill,
              "orders filled from a forward warehouse / all orders"),
    Indicator("peak_assignment_p95_min", "responsiveness", "Coordination in peaks", "<=", "min", _peak_assignment_p95,
              "p95 minutes from order to courier assignment, orders placed in peak windows"),
    Indicator("special_handling_compliance", "individual_service", "Customised packaging / handling", ">=", "share", _special_compliance,
              "special-handling orders on an allowed courier and delivered undamaged / special orders"),
    Indicator("special_goods_on_time", "individual_service", "Special goods delivery", ">=", "share", _special_on_time,
              "special orders on time by an allowed courier / special orders"),
    Indicator("on_time_rate", "reliability", "On-time delivery accuracy", ">=", "share", _on_time,
              "orders delivered by their promised time / all orders"),
    Indicator("damage_loss_rate", "reliability", "Lost or damaged handling", "<=", "share", _damage_loss,
              "damaged or lost orders / all orders"),
    Indicator("claims_resolved_rate", "reliability", "Claims resolved in time", ">=", "share", _claims,
              "damage / loss claims resolved within the claim window / claims"),
    Indicator("tracking_complete_rate", "traceability", "Information transparency", ">=", "share", _trail,
              "orders with every tracking event recorded / all orders"),
    Indicator("eta_error_p90_min", "traceability", "ETA accuracy", "<=", "min", _eta_error,
              "p90 of |delivered − ETA promised at dispatch| in minutes, orders delivered by couriers"),
    Indicator("returns_tracked_rate", "traceability", "Returns tracking", ">=", "share", _returns,
              "returns picked up in their window with a complete trail / returns"),
    Indicator("high_value_on_allowed_courier", "security", "Commodity safety", ">=", "share", _high_value_allowed,
              "high-value orders carried by an allowed courier / high-value orders"),
    Indicator("manifest_privacy", "security", "Data protection", ">=", "share", _privacy,
              "privacy checks passed by the exported courier manifest"),
)
INDICATOR_BY_NAME = {i.name: i for i in INDICATORS}
FACTORS = ("responsiveness", "individual_service", "reliability", "traceability", "security")


def indicators_markdown() -> str:
    """The indicator reference of ``docs/quality.md``, generated from :data:`INDICATORS`."""
    from engine.instance.manifest import DEFAULT_TARGETS

    lines = ["| factor | indicator | name | better | unit | default target | measured as |", "|---|---|---|---|---|---|---|"]
    for i in INDICATORS:
        better = "higher" if i.direction == ">=" else "lower"
        lines.append(f"| {i.factor.replace('_', ' ')} | {i.label} | `{i.name}` | {better} | {i.unit} | "
                     f"{DEFAULT_TARGETS[i.name]:g} | {i.measured_as} |")
    return "\n".join(lines) + "\n"


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
