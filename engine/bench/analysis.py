"""Summaries, performance profiles and acceptance tests over an experiment's results."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ConfigError

SHIFT = 1.0  # geometric means of times use a shift of 1 second (as in MIP benchmarking)


def geomean(x: pd.Series, shift: float = 0.0) -> float:
    v = x.dropna().to_numpy(dtype=float)
    if v.size == 0:
        return float("nan")
    if shift == 0.0 and (v <= 0).any():
        return float("nan")
    return float(np.exp(np.mean(np.log(v + shift))) - shift)


def gap_basis(runs: pd.DataFrame) -> str | None:
    """What the ``gap`` column of ``runs`` is measured against: ``"bound"`` (proven gaps),
    ``"reference"`` (gaps to a best known solution), ``"mixed"``, or ``None`` when unknown."""
    if "gap_basis" not in runs.columns:
        return None
    kinds = set(runs["gap_basis"].dropna().astype(str))
    return None if not kinds else kinds.pop() if len(kinds) == 1 else "mixed"


def gap_label(runs: pd.DataFrame) -> str:
    """``"gap to BKS"``, ``"proven gap"`` or plain ``"gap"``, for table headers and plots."""
    return {"reference": "gap to BKS", "bound": "proven gap"}.get(gap_basis(runs) or "", "gap")


def summarise(runs: pd.DataFrame, *, sense: str, baseline: str | None = None, kpis: list[str] | None = None,
              tolerance: float = 1e-6) -> pd.DataFrame:
    """Per configuration: counts, mean/median/geo-mean of objective, gap and time, chosen KPIs, and
    win / tie / loss against ``baseline`` on the objective (paired by instance and repetition).

    ``gap_basis`` says per configuration whether its gaps are proven (``bound``) or measured
    against a best known solution (``reference``); ``fallbacks`` counts the runs whose plan came
    from a fallback rather than the configured back-end."""
    if runs.empty:
        return pd.DataFrame()
    rows = []
    ok = runs[runs["state"] == "ok"]
    kpis = kpis or []
    for cfg, g in runs.groupby("config", sort=False):
        o = ok[ok["config"] == cfg]
        row: dict[str, Any] = {
            "config": cfg, "runs": len(g), "ok": len(o), "error": int((g["state"] == "error").sum()),
            "timeout": int((g["state"] == "timeout").sum()),
            "objective_mean": o["objective"].mean(), "objective_median": o["objective"].median(),
            "objective_geomean": geomean(o["objective"].abs()),
            "gap_mean": o["gap"].mean(), "gap_median": o["gap"].median(), "gap_max": o["gap"].max(),
            "seconds_mean": o["wall_seconds"].mean(), "seconds_median": o["wall_seconds"].median(),
            "seconds_geomean": geomean(o["wall_seconds"], SHIFT),
            "gap_basis": gap_basis(o),
            "fallbacks": int(o["fallback_reason"].notna().sum()) if "fallback_reason" in o else 0,
        }
        for k in kpis:
            col = f"kpi_{k}"
            row[f"{k}_mean"] = pd.to_numeric(o[col], errors="coerce").mean() if col in o else float("nan")
        rows.append(row)
    out = pd.DataFrame(rows)
    if baseline is not None:
        base = ok[ok["config"] == baseline].set_index(["instance", "repetition"])["objective"]
        wins, ties, losses = [], [], []
        for cfg in out["config"]:
            mine = ok[ok["config"] == cfg].set_index(["instance", "repetition"])["objective"]
            both = pd.concat([mine.rename("c"), base.rename("b")], axis=1, join="inner").dropna()
            diff = both["c"] - both["b"]
            if sense == "min":
                diff = -diff
            scale = np.maximum(np.abs(both["b"]), 1.0)
            w = int((diff > tolerance * scale).sum())
            lo = int((diff < -tolerance * scale).sum())
            wins.append(w)
            losses.append(lo)
            ties.append(len(both) - w - lo)
        out["wins"], out["ties"], out["losses"] = wins, ties, losses
    return out


def performance_profile(runs: pd.DataFrame, *, sense: str, taus: np.ndarray | None = None) -> pd.DataFrame:
    """Dolan–Moré profile on the objective: share of instances each configuration solves within a
    factor tau of the best configuration (failed runs never count)."""
    ok = runs[runs["state"] == "ok"].copy()
    if ok.empty:
        return pd.DataFrame(columns=["config", "tau", "share"])
    key = ["instance", "repetition"]
    best = ok.groupby(key)["objective"].transform("min" if sense == "min" else "max")
    if sense == "min":
        ratio = ok["objective"] / best.replace(0, np.nan)
    else:
        ratio = best / ok["objective"].replace(0, np.nan)
    ok["ratio"] = ratio.fillna(1.0).clip(lower=1.0)
    n_problems = runs.groupby(key).ngroups
    taus = taus if taus is not None else np.unique(np.concatenate([[1.0], np.sort(ok["ratio"].to_numpy())]))
    rows = []
    for cfg, g in ok.groupby("config"):
        r = np.sort(g["ratio"].to_numpy())
        for t in taus:
            rows.append({"config": cfg, "tau": float(t), "share": float(np.searchsorted(r, t, side="right") / n_problems)})
    return pd.DataFrame(rows)


_METRIC = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=)\s*$")


@dataclass(frozen=True, slots=True)
class Check:
    metric: str
    direction: str
    baseline: float
    candidate: float
    tolerance: float
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


def metric_values(runs: pd.DataFrame, config: str, metric: str) -> pd.Series:
    ok = runs[(runs["config"] == config) & (runs["state"] == "ok")]
    column = {"gap": "gap", "objective": "objective", "time": "wall_seconds", "seconds": "wall_seconds"}.get(metric)
    if column is None:
        column = f"kpi_{metric}"
    if column not in runs.columns:
        known = ["gap", "objective", "time"] + [c.removeprefix("kpi_") for c in runs.columns if c.startswith("kpi_")]
        raise ConfigError(f"unknown metric {metric!r}; known: {', '.join(known)}")
    return pd.to_numeric(ok[column], errors="coerce")


def accept(runs: pd.DataFrame, *, baseline: str, candidate: str, metrics: list[str], tolerances: list[float],
           statistic: str = "mean") -> list[Check]:
    """Gate a change: for "m<=", pass when candidate ≤ baseline + tol; for "m>=", when ≥ baseline − tol.

    Failed runs (error / timeout) of the candidate fail every check: a gate must not pass on
    runs that did not finish.
    """
    for cfg in (baseline, candidate):
        if cfg not in set(runs["config"]):
            raise ConfigError(f"no runs of configuration {cfg!r}; have {', '.join(sorted(set(runs['config'])))}")
    if len(tolerances) == 1:
        tolerances = tolerances * len(metrics)
    if len(tolerances) != len(metrics):
        raise ConfigError(f"give one --tolerance, or one per --metric ({len(metrics)}), got {len(tolerances)}")
    failed_runs = int((runs[runs["config"] == candidate]["state"] != "ok").sum())
    checks = []
    for spec, tol in zip(metrics, tolerances, strict=True):
        m = _METRIC.match(spec)
        if not m:
            raise ConfigError(f"--metric expects NAME<= or NAME>= (e.g. \"gap<=\"), got {spec!r}")
        name, direction = m.groups()
        agg = getattr(pd.Series, statistic)
        b = float(agg(metric_values(runs, baseline, name)))
        c = float(agg(metric_values(runs, candidate, name)))
        ok = (c <= b + tol) if direction == "<=" else (c >= b - tol)
        checks.append(Check(name, direction, b, c, tol, bool(ok and np.isfinite(c) and failed_runs == 0)))
    return checks
