"""Compare two runs: indicator and efficiency deltas, and whether a change is beyond the noise."""

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
    indicators: pd.DataFrame  # indicator, label, unit, direction, a, b, delta, better, significant
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
    ind = pd.DataFrame({
        "indicator": j.index, "label": j["label_a"].fillna(j["label_b"]).to_numpy(),
        "unit": j["unit_a"].fillna(j["unit_b"]).to_numpy(), "direction": j["direction_a"].fillna(j["direction_b"]).to_numpy(),
        "a": j["value_a"].to_numpy(), "b": j["value_b"].to_numpy(), "delta": delta.to_numpy(),
        "better": better, "significant": significant.to_numpy(),
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
