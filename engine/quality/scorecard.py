"""The scorecard: indicator values with confidence intervals, targets, pass/fail, composite index,
and the same indicators per customer segment (``to_frame(per_segment=True)``).

Score of one indicator: 1 when it meets its target, else the shortfall ratio (value/target
for ">=", target/value for "<="), clipped to [0, 1]. A factor's score is the mean score of its
indicators; the composite service-quality index is the weighted mean of factor scores (weights
from the instance, normalised to sum 1), in [0, 100].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from engine.quality.indicators import FACTORS, INDICATORS, Context, damage_by_courier


@dataclass(frozen=True, slots=True)
class Scorecard:
    rows: pd.DataFrame  # indicator, factor, label, value, ci_low, ci_high, target, direction, unit, passed,
    #                     score, measured_as, moved_by
    factors: pd.DataFrame  # factor, weight, score
    index: float  # composite service-quality index, 0..100
    efficiency: Mapping[str, float]
    replications: int
    damage_by_courier: pd.DataFrame = field(default_factory=pd.DataFrame)  # commodity safety per courier type
    per_replication: pd.DataFrame = field(default_factory=pd.DataFrame)  # replication, indicator, value
    per_segment: pd.DataFrame = field(default_factory=pd.DataFrame)  # SEGMENT_COLUMNS: each indicator by segment

    def to_frame(self, *, per_segment: bool = False) -> pd.DataFrame:
        """The scorecard table; with ``per_segment`` the indicators by customer segment."""
        return self.per_segment if per_segment else self.rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "replications": self.replications,
            "indicators": _records(self.rows),
            "factors": _records(self.factors),
            "efficiency": dict(self.efficiency),
            "damage_by_courier": _records(self.damage_by_courier),
            "segments": _records(self.per_segment),
            "passed": int(self.rows["passed"].sum()),
            "failed": int((~self.rows["passed"] & self.rows["value"].notna()).sum()),
        }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in frame.to_dict(orient="records"):
        out.append({k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in rec.items()})
    return out


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and a Student-t confidence interval over replications (NaNs ignored)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(v.mean())
    if v.size == 1:
        return m, m, m
    half = float(stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return m, m - half, m + half


# indicators of the whole export, not of a set of orders: not split by segment
NOT_PER_SEGMENT = frozenset({"export_privacy"})
SEGMENT_COLUMNS = ("segment", "orders", "indicator", "factor", "label", "value", "ci_low", "ci_high", "target",
                   "direction", "unit", "passed")


def segment_rows(outcomes: pd.DataFrame, context: Context, targets: Mapping[str, float]) -> pd.DataFrame:
    """Every order-level indicator per customer segment (mean and 95% CI over replications,
    against the same target as the whole day); ``orders`` = the segment's orders per replication.
    A replication where a segment has no orders counts as missing for it, not as zero."""
    if "segment" not in outcomes or not len(outcomes):
        return pd.DataFrame(columns=list(SEGMENT_COLUMNS))
    rep_ids = sorted(int(r) for r in outcomes["replication"].unique())
    rows = []
    for seg, g in outcomes.groupby("segment", sort=True):
        reps = [g[g["replication"] == r] for r in rep_ids]
        orders = float(np.mean([len(x) for x in reps]))
        for ind in INDICATORS:
            if ind.name in NOT_PER_SEGMENT:
                continue
            per_rep = np.array([ind.compute(x, context) if len(x) else np.nan for x in reps], dtype=float)
            value, lo, hi = mean_ci(per_rep)
            if ind.unit == "share":
                lo, hi = max(lo, 0.0), min(hi, 1.0)
            target = float(targets.get(ind.name, ind.default_target))
            passed = bool(np.isfinite(value) and (value >= target if ind.direction == ">=" else value <= target))
            rows.append({"segment": str(seg), "orders": orders, "indicator": ind.name, "factor": ind.factor,
                         "label": ind.label, "value": value, "ci_low": lo, "ci_high": hi, "target": target,
                         "direction": ind.direction, "unit": ind.unit, "passed": passed})
    return pd.DataFrame(rows, columns=list(SEGMENT_COLUMNS))


def _score(value: float, target: float, direction: str) -> float:
    if not np.isfinite(value):
        return float("nan")
    if direction == ">=":
        return 1.0 if value >= target else (float(np.clip(value / target, 0, 1)) if target > 0 else 0.0)
    return 1.0 if value <= target else float(np.clip(target / value, 0, 1)) if value > 0 else 1.0


def build_scorecard(outcomes: pd.DataFrame, context: Context, *, targets: Mapping[str, float],
                    weights: Mapping[str, float], efficiency: Mapping[str, float] | None = None) -> Scorecard:
    """Score executed outcomes (all replications) against targets (an indicator the instance
    sets no target for is held to its ``default_target``)."""
    reps = [g for _, g in outcomes.groupby("replication", sort=True)]
    rows = []
    rep_ids = [int(r) for r, _ in outcomes.groupby("replication", sort=True)]
    by_rep: list[dict[str, Any]] = []
    for ind in INDICATORS:
        per_rep = np.array([ind.compute(g, context) for g in reps], dtype=float)
        by_rep.extend({"replication": r, "indicator": ind.name, "value": float(v)} for r, v in zip(rep_ids, per_rep, strict=True))
        value, lo, hi = mean_ci(per_rep)
        if ind.unit == "share":  # a share's interval stays inside [0, 1]
            lo, hi = max(lo, 0.0), min(hi, 1.0)
        target = float(targets.get(ind.name, ind.default_target))
        passed = bool(np.isfinite(value) and (value >= target if ind.direction == ">=" else value <= target))
        rows.append({
            "indicator": ind.name, "factor": ind.factor, "label": ind.label, "value": value, "ci_low": lo,
            "ci_high": hi, "target": target, "direction": ind.direction, "unit": ind.unit, "passed": passed,
            "score": _score(value, target, ind.direction), "measured_as": ind.measured_as,
            "moved_by": ind.moved_by,
        })
    frame = pd.DataFrame(rows)
    w = pd.Series({f: float(weights.get(f, 0.0)) for f in FACTORS})
    fscore = frame.groupby("factor")["score"].mean().reindex(FACTORS)
    valid = fscore.notna() & (w > 0)
    index = float(100 * (fscore[valid] * w[valid]).sum() / w[valid].sum()) if valid.any() else float("nan")
    factors = pd.DataFrame({"factor": list(FACTORS), "weight": (w / w.sum()).to_numpy(), "score": fscore.to_numpy()})
    return Scorecard(rows=frame, factors=factors, index=index, efficiency=dict(efficiency or {}), replications=len(reps),
                     damage_by_courier=damage_by_courier(outcomes),
                     per_replication=pd.DataFrame(by_rep, columns=["replication", "indicator", "value"]),
                     per_segment=segment_rows(outcomes, context, targets))


def responsive_indicators(a: Scorecard, b: Scorecard, *, rel_tol: float = 1e-9) -> tuple[str, ...]:
    """Indicators whose value differs between two scorecards (say, one day under two policies).

    A value measured in one and not the other (no peak orders, no returns) counts as a
    difference; two values differ when they are further apart than ``rel_tol`` relative.
    """
    va = a.rows.set_index("indicator")["value"]
    vb = b.rows.set_index("indicator")["value"].reindex(va.index)
    out = []
    for name in va.index:
        x, y = float(va[name]), float(vb[name])
        fx, fy = np.isfinite(x), np.isfinite(y)
        if fx != fy or (fx and fy and abs(x - y) > rel_tol * max(1.0, abs(x), abs(y))):
            out.append(str(name))
    return tuple(out)
