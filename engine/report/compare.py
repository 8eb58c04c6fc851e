"""Compare two runs: indicator and efficiency deltas, and whether a change is beyond the noise.

When both runs kept their per-replication indicator values (``indicators_by_replication.csv``)
the difference B − A gets a 95% Student-t interval: **paired** by replication when both runs
used the same seed and number of replications (the execution draws common random numbers per
order and courier, so replication r of A and of B share their luck), Welch's otherwise. A change
is significant when its interval excludes zero. Older runs without that file fall back to
"the two 95% intervals do not overlap".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import EngineError


@dataclass(frozen=True, slots=True)
class Comparison:
    a: str
    b: str
    indicators: pd.DataFrame  # indicator, label, unit, direction, a, b, delta, delta_low, delta_high, test, better, significant
    efficiency: pd.DataFrame  # metric, a, b, delta
    index_a: float
    index_b: float

    def to_frame(self) -> pd.DataFrame:
        return self.indicators

    def to_dict(self) -> dict[str, Any]:
        def rec(f: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
                    for r in f.to_dict(orient="records")]
        return {"a": self.a, "b": self.b, "index_a": self.index_a, "index_b": self.index_b,
                "indicators": rec(self.indicators), "efficiency": rec(self.efficiency)}


def _per_rep(run_dir: Path) -> pd.DataFrame | None:
    f = run_dir / "indicators_by_replication.csv"
    return pd.read_csv(f) if f.is_file() else None


def delta_interval(a: np.ndarray, b: np.ndarray, *, paired: bool, level: float = 0.95) -> tuple[float, float, float]:
    """Mean difference b − a and its Student-t interval (paired, or Welch's for independent runs)."""
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    if paired:
        d = b - a
        d = d[np.isfinite(d)]
        if d.size == 0:
            return float("nan"), float("nan"), float("nan")
        m = float(d.mean())
        if d.size < 2:
            return m, float("nan"), float("nan")
        half = float(stats.t.ppf(0.5 + level / 2, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size))
        return m, m - half, m + half
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size == 0 or b.size == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(b.mean() - a.mean())
    if a.size < 2 or b.size < 2:
        return m, float("nan"), float("nan")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = float(np.sqrt(va + vb))
    if se == 0:
        return m, m, m
    dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = float(stats.t.ppf(0.5 + level / 2, dof) * se)
    return m, m - half, m + half


def _load(run_dir: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    card, meta = run_dir / "scorecard.csv", run_dir / "run.json"
    if not (card.is_file() and meta.is_file()):
        raise EngineError(f"{run_dir}: not a run directory (needs scorecard.csv and run.json from `nearstock run`)")
    return pd.read_csv(card), json.loads(meta.read_text())


def compare_runs(run_a: str | Path, run_b: str | Path) -> Comparison:
    """Indicator deltas B − A. ``significant`` when the 95% intervals do not overlap."""
    ca, ma = _load(Path(run_a))
    cb, mb = _load(Path(run_b))
    j = ca.set_index("indicator").merge(cb.set_index("indicator"), left_index=True, right_index=True, suffixes=("_a", "_b"), how="outer")
    delta = j["value_b"] - j["value_a"]
    higher = j["direction_a"].fillna(j["direction_b"]) == ">="
    better = np.where(delta.abs() < 1e-12, "same", np.where((delta > 0) == higher, "B", "A"))
    significant = (j["ci_low_b"] > j["ci_high_a"]) | (j["ci_high_b"] < j["ci_low_a"])
    lo = pd.Series(np.nan, index=j.index)
    hi = pd.Series(np.nan, index=j.index)
    test = pd.Series("ci_overlap", index=j.index)
    ra, rb = _per_rep(Path(run_a)), _per_rep(Path(run_b))
    if ra is not None and rb is not None:
        paired = (ma.get("summary", {}).get("seed") == mb.get("summary", {}).get("seed")
                  and sorted(set(ra["replication"])) == sorted(set(rb["replication"])))
        for name in j.index:
            xa = ra[ra["indicator"] == name].sort_values("replication")["value"].to_numpy(float)
            xb = rb[rb["indicator"] == name].sort_values("replication")["value"].to_numpy(float)
            if not len(xa) or not len(xb):
                continue
            _, lo[name], hi[name] = delta_interval(xa, xb, paired=paired and len(xa) == len(xb))
            test[name] = "paired" if paired and len(xa) == len(xb) else "welch"
            significant[name] = bool(np.isfinite(lo[name]) and (lo[name] > 0 or hi[name] < 0))
    ind = pd.DataFrame({
        "indicator": j.index, "label": j["label_a"].fillna(j["label_b"]).to_numpy(),
        "unit": j["unit_a"].fillna(j["unit_b"]).to_numpy(), "direction": j["direction_a"].fillna(j["direction_b"]).to_numpy(),
        "a": j["value_a"].to_numpy(), "b": j["value_b"].to_numpy(), "delta": delta.to_numpy(),
        "delta_low": lo.to_numpy(), "delta_high": hi.to_numpy(), "test": test.to_numpy(),
        "better": better, "significant": significant.to_numpy(dtype=bool),
    })
    order = {name: i for i, name in enumerate(ca["indicator"])}
    ind = ind.sort_values("indicator", key=lambda s: s.map(order).fillna(len(order))).reset_index(drop=True)
    ea, eb = ma["summary"].get("efficiency", {}), mb["summary"].get("efficiency", {})
    keys = list(dict.fromkeys([*ea, *eb]))
    eff = pd.DataFrame({"metric": keys, "a": [ea.get(k, np.nan) for k in keys], "b": [eb.get(k, np.nan) for k in keys]})
    eff["a"] = pd.to_numeric(eff["a"], errors="coerce")
    eff["b"] = pd.to_numeric(eff["b"], errors="coerce")
    eff["delta"] = eff["b"] - eff["a"]
    return Comparison(a=str(run_a), b=str(run_b), indicators=ind, efficiency=eff,
                      index_a=float(ma["scorecard"]["index"]), index_b=float(mb["scorecard"]["index"]))
