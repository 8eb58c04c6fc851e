"""The results store: one SQLite database per experiment, one row per finished run.

WAL journal, one transaction per run as it finishes: killing the process loses at most the
runs in flight, and re-running skips every key already stored.
"""

from __future__ import annotations

import json
import math
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    kind TEXT NOT NULL,
    instance TEXT NOT NULL,
    config TEXT NOT NULL,
    repetition INTEGER NOT NULL,
    seed INTEGER,
    state TEXT NOT NULL,          -- ok | error | timeout
    status TEXT,                  -- solver status (optimal, feasible, time_limit, ...)
    backend TEXT,
    objective REAL,
    bound REAL,
    gap REAL,
    wall_seconds REAL,
    elapsed_seconds REAL,         -- wall time of the whole isolated run, process start included
    kpis TEXT,                    -- JSON
    settings TEXT,                -- JSON
    params TEXT,                  -- JSON
    error TEXT,
    host TEXT,
    finished TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
"""


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


class ResultStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def done_keys(self, *, retry_failed: bool = False) -> set[str]:
        q = "SELECT key FROM runs" + (" WHERE state = 'ok'" if retry_failed else "")
        return {r[0] for r in self.conn.execute(q)}

    def record(self, spec: dict[str, Any], outcome: dict[str, Any]) -> None:
        """Store one finished run (``outcome`` from an executor) in its own transaction."""
        res = outcome.get("result") or {}
        row = (
            spec["key"], spec["experiment"], spec["kind"], spec["instance"], spec["config"], spec["repetition"],
            spec["settings"].get("seed"), outcome["state"], res.get("status"), res.get("backend"),
            _num(res.get("objective")), _num(res.get("bound")), _num(res.get("gap")), _num(res.get("wall_seconds")),
            _num(outcome.get("elapsed")), json.dumps(res.get("kpis", {}), default=str),
            json.dumps(spec["settings"]), json.dumps(spec["params"]), outcome.get("error"),
            outcome.get("host") or socket.gethostname(),
        )
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO runs (key, experiment, kind, instance, config, repetition, seed, state, status,"
                " backend, objective, bound, gap, wall_seconds, elapsed_seconds, kpis, settings, params, error, host)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", row)

    def frame(self) -> pd.DataFrame:
        """All runs, with the KPI JSON expanded into ``kpi_<name>`` columns."""
        df = pd.read_sql_query("SELECT * FROM runs ORDER BY instance, config, repetition", self.conn)
        if len(df):
            k = pd.json_normalize([json.loads(x or "{}") for x in df["kpis"]]).add_prefix("kpi_")
            df = pd.concat([df.drop(columns=["kpis"]), k.set_index(df.index)], axis=1)
        return df
