"""The results store keys runs by code version; old stores are migrated, never reused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from engine.bench import ResultStore, load_experiment, run_experiment, summarise
from engine.bench import experiment as experiment_module
from engine.bench.analysis import gap_label
from engine.bench.experiment import code_version, source_hash

ONE_RUN = """
name = "one-run"
kind = "stocking_random"
run_timeout = 120

[instances]
paths = ["random:S=8,W=3,Z=4,K=3,seed=1"]

[[configs]]
name = "newsvendor"
backend = "newsvendor"
"""

# the runs table as stores written before code versions existed have it
OLD_SCHEMA = """
CREATE TABLE runs (
    key TEXT PRIMARY KEY, experiment TEXT NOT NULL, kind TEXT NOT NULL, instance TEXT NOT NULL,
    config TEXT NOT NULL, repetition INTEGER NOT NULL, seed INTEGER, state TEXT NOT NULL, status TEXT,
    backend TEXT, objective REAL, bound REAL, gap REAL, wall_seconds REAL, elapsed_seconds REAL, kpis TEXT,
    settings TEXT, params TEXT, error TEXT, host TEXT,
    finished TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
"""


def _experiment(tmp_path: Path):  # noqa: ANN202
    p = tmp_path / "one.toml"
    p.write_text(ONE_RUN)
    return load_experiment(p)


def test_code_version_is_package_version_plus_source_hash() -> None:
    from engine import __version__

    v = code_version()
    assert v.startswith(__version__ + "+") and len(v.split("+")[1]) == 12
    assert source_hash().startswith(v.split("+")[1])
    assert code_version() is v  # computed once per process


def test_source_hash_changes_with_any_source_byte(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "a.py").write_text("x = 1\n")
    (root / "sub" / "b.py").write_text("y = 2\n")
    (root / "sub" / "__pycache__").mkdir()
    (root / "sub" / "__pycache__" / "b.cpython-311.pyc").write_bytes(b"\0")
    first = source_hash(root)
    (root / "sub" / "__pycache__" / "b.cpython-311.pyc").write_bytes(b"\1")
    assert source_hash(root) == first  # byte caches do not count
    (root / "a.py").write_text("x = 2\n")
    assert source_hash(root) != first
    (root / "a.py").write_text("x = 1\n")
    assert source_hash(root) == first
    (root / "sub" / "b.py").rename(root / "sub" / "c.py")  # same bytes, other path
    assert source_hash(root) != first


def test_changed_code_version_runs_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exp = _experiment(tmp_path)
    first = run_experiment(exp)
    assert (first.total, first.skipped, first.ok) == (1, 0, 1)
    assert run_experiment(exp).skipped == 1  # same code: resumed

    monkeypatch.setattr(experiment_module, "code_version", lambda: "0.1.0+changedcode0")
    again = run_experiment(exp)
    assert (again.skipped, again.ok) == (0, 1)  # a changed solver never reuses the stale row
    with ResultStore(exp.db_path) as store:
        every = store.frame(all_versions=True)
        latest = store.frame()
    assert sorted(every["code_version"]) == sorted([code_version(), "0.1.0+changedcode0"])
    assert len(every["key"].unique()) == 2
    assert len(latest) == 1 and latest.loc[0, "code_version"] == "0.1.0+changedcode0"
    assert every["git_commit"].notna().all() or every["git_commit"].isna().all()  # provenance, same for both


def test_old_store_is_migrated_and_its_rows_never_reused(tmp_path: Path) -> None:
    exp = _experiment(tmp_path)
    spec = exp.runs()[0].to_dict()
    with sqlite3.connect(exp.db_path) as conn:
        conn.executescript(OLD_SCHEMA)
        # an old row under the very key the current code would use, and an old VRPTW row whose
        # `bound` held the best known distance
        conn.execute("INSERT INTO runs (key, experiment, kind, instance, config, repetition, state, objective)"
                     " VALUES (?, 'one-run', 'stocking_random', ?, 'newsvendor', 0, 'ok', 1.0)",
                     (spec["key"], spec["instance"]))
        conn.execute("INSERT INTO runs (key, experiment, kind, instance, config, repetition, state, objective, bound,"
                     " gap) VALUES ('v1', 'solomon', 'vrptw', 'C101.txt', 'pyvrp', 0, 'ok', 830.0, 827.3, 0.0033)")
    with ResultStore(exp.db_path) as store:
        assert store.done_keys() == set()
        old = store.frame(all_versions=True).set_index("key")
    assert old.loc["v1", "reference"] == pytest.approx(827.3) and old["bound"].isna().all()
    assert old.loc["v1", "gap_basis"] == "reference"
    assert old["code_version"].isna().all()

    res = run_experiment(exp)
    assert (res.skipped, res.ok) == (0, 1)
    with ResultStore(exp.db_path) as store:  # opening again migrates nothing twice
        row = store.frame(all_versions=True).set_index("key").loc[spec["key"]]
        v1 = store.frame(all_versions=True).set_index("key").loc["v1"]
    assert row["code_version"] == code_version() and row["objective"] > 1.0
    assert v1["reference"] == pytest.approx(827.3)


def test_vrptw_rows_keep_bks_as_reference_not_bound(tmp_path: Path) -> None:
    spec = {"key": "k", "experiment": "e", "kind": "vrptw", "instance": "C101.txt", "config": "c", "repetition": 0,
            "settings": {"backend": "pyvrp", "seed": 1}, "params": {}, "code_version": "v"}
    result = {"status": "feasible", "backend": "pyvrp", "objective": 830.0, "bound": None, "reference": 827.3,
              "gap": 0.0033, "wall_seconds": 10.0, "kpis": {}}
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.record(spec, {"state": "ok", "result": result, "elapsed": 10.5})
        frame = store.frame()
    row = frame.iloc[0]
    assert pd.isna(row["bound"]) and row["reference"] == pytest.approx(827.3)
    assert row["gap_basis"] == "reference" and row["requested_backend"] == "pyvrp"
    summary = summarise(frame, sense="min").iloc[0]
    assert summary["gap_basis"] == "reference" and summary["fallbacks"] == 0
    assert gap_label(frame) == "gap to BKS"
