"""benchmarks/simulate/RESULTS.md quotes its committed result files exactly."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

from tests.helpers import REPO

SUITE = REPO / "benchmarks" / "simulate"


def _doc() -> str:
    return (SUITE / "RESULTS.md").read_text(encoding="utf-8")


def test_speed_table_is_the_summary_of_the_committed_runs() -> None:
    spec = importlib.util.spec_from_file_location("speed_under_test", SUITE / "speed.py")
    assert spec and spec.loader
    speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(speed)
    table = speed.markdown(speed.summary(pd.read_csv(SUITE / "results" / "speed.csv", dtype={"label": str})))
    assert table in _doc()


def test_profile_and_checker_rows_come_from_their_files() -> None:
    doc = _doc()
    prof = pd.read_csv(SUITE / "results" / "profile_metro-medium.csv")
    for r in prof.itertuples():
        assert f"| {r.what.strip()} | `{r.function}` | {r.calls} | {r.cum_s:.1f} | {100 * r.share:.1f}% |" in doc
    chk = pd.read_csv(SUITE / "results" / "checker.csv")
    for r in chk.itertuples():
        assert (f"| {r.plan} | {r.orders} | {r.couriers} | {r.trips} | {r.stops} | {r.reference_ms:.1f} "
                f"| {r.vectorised_ms:.1f} | {r.speedup:.1f}× | {r.load:.1f} |") in doc


def test_the_scripts_named_exist() -> None:
    for script in ("speed.py", "profile_day.py", "checker_speed.py"):
        assert Path(SUITE / script).is_file()
        assert f"python benchmarks/simulate/{script}" in _doc()


def test_late_window_tables_are_the_scripts_render_of_the_committed_file() -> None:
    spec = importlib.util.spec_from_file_location("late_window_under_test", SUITE / "late_window.py")
    assert spec and spec.loader
    lw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lw)
    df = pd.read_csv(SUITE / "results" / "late_window.csv")
    assert set(df["window_min"]) >= {0.0} and df.groupby(["instance", "window_min"]).size().nunique() == 1
    for block in lw.render(df).strip().split("\n\n"):
        assert block in _doc()
    assert "python benchmarks/simulate/late_window.py" in _doc()
