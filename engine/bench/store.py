"""The results store: one SQLite database per experiment, one row per finished run.

WAL journal, one transaction per run as it finishes: killing the process loses at most the
runs in flight, and re-running skips every key already stored.

Keys include the code version (see :func:`engine.bench.experiment.code_version`), stored in its
own column with the git commit beside it. ``bound`` holds proven bounds only; a best known
solution (Solomon BKS) is a ``reference``, and ``gap_basis`` says which one ``gap`` is measured
against. Stores written before these columns existed are migrated when opened: their rows get
no code version, so they are never taken as done, and a VRPTW row's BKS moves from ``bound`` to
``reference``.
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
    backend TEXT,                 -- the back-end whose plan this is (a fallback's name if one was used)
    requested_backend TEXT,       -- the back-end the configuration asked for
    fallback_reason TEXT,         -- why the requested back-end's plan was not used, if it was not
    objective REAL,
    bound REAL,                   -- proven bound from the solver only
    reference REAL,               -- a best known solution (not a bound)
    gap REAL,
    gap_basis TEXT,               -- bound (proven gap) | reference (gap to the best known) | NULL
    wall_seconds REAL,
    elapsed_seconds REAL,         -- wall time of the whole isolated run, process start included
    kpis TEXT,                    -- JSON
    settings TEXT,                -- JSON
    params TEXT,                  -- JSON
    error TEXT,
    host TEXT,
    code_version TEXT,            -- package version + hash of the engine/ sources; part of the key
    git_commit TEXT,              -- provenance only (with -dirty when the tree was edited)
    finished TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
"""

SCHEMA_VERSION = 2
# columns added by schema version 2, with their SQL types
_ADDED = {"requested_backend": "TEXT", "fallback_reason": "TEXT", "reference": "REAL", "gap_basis": "TEXT",
          "code_version": "TEXT", "git_commit": "TEXT"}
_COLUMNS = ("key", "experiment", "kind", "instance", "config", "repetition", "seed", "state", "status", "backend",
            "requested_backend", "fallback_reason", "objective", "bound", "reference", "gap", "gap_basis",
            "wall_seconds", "elapsed_seconds", "kpis", "settings", "params", "error", "host", "code_version",
            "git_commit")


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
        self._migrate()
        self.conn.commit()

    def _migrate(self) -> None:
        """Bring a store written by older code up to :data:`SCHEMA_VERSION`, in one transaction."""
        (version,) = self.conn.execute("PRAGMA user_version").fetchone()
        if version >= SCHEMA_VERSION:
            return
        have = {r[1] for r in self.conn.execute("PRAGMA table_info(runs)")}
        self.conn.execute("BEGIN IMMEDIATE")  # the column changes and the row moves land together or not at all
        try:
            for name, sql_type in _ADDED.items():
                if name not in have:
                    self.conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {sql_type}")
            # old VRPTW rows kept the best known distance in `bound`; it was never a bound
            self.conn.execute("UPDATE runs SET reference = bound, bound = NULL, gap_basis = 'reference' "
                              "WHERE kind = 'vrptw' AND code_version IS NULL AND reference IS NULL")
            self.conn.execute("UPDATE runs SET gap_basis = 'bound' WHERE gap_basis IS NULL AND bound IS NOT NULL "
                              "AND gap IS NOT NULL")
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def done_keys(self, *, retry_failed: bool = False) -> set[str]:
        """Keys of stored runs that need not run again; rows without a code version never count."""
        q = "SELECT key FROM runs WHERE code_version IS NOT NULL" + (" AND state = 'ok'" if retry_failed else "")
        return {r[0] for r in self.conn.execute(q)}

    def record(self, spec: dict[str, Any], outcome: dict[str, Any]) -> None:
        """Store one finished run (``outcome`` from an executor) in its own transaction."""
        res = outcome.get("result") or {}
        bound, reference, gap = _num(res.get("bound")), _num(res.get("reference")), _num(res.get("gap"))
        basis = None if gap is None else ("bound" if bound is not None else "reference" if reference is not None else None)
        values = {
            "key": spec["key"], "experiment": spec["experiment"], "kind": spec["kind"], "instance": spec["instance"],
            "config": spec["config"], "repetition": spec["repetition"], "seed": spec["settings"].get("seed"),
            "state": outcome["state"], "status": res.get("status"), "backend": res.get("backend"),
            "requested_backend": res.get("requested_backend") or spec["settings"].get("backend") or None,
            "fallback_reason": res.get("fallback_reason"),
            "objective": _num(res.get("objective")), "bound": bound, "reference": reference, "gap": gap,
            "gap_basis": basis, "wall_seconds": _num(res.get("wall_seconds")),
            "elapsed_seconds": _num(outcome.get("elapsed")), "kpis": json.dumps(res.get("kpis", {}), default=str),
            "settings": json.dumps(spec["settings"]), "params": json.dumps(spec["params"]),
            "error": outcome.get("error"), "host": outcome.get("host") or socket.gethostname(),
            "code_version": spec.get("code_version") or None, "git_commit": spec.get("git_commit"),
        }
        cols = ", ".join(_COLUMNS)
        marks = ",".join("?" for _ in _COLUMNS)
        with self.conn:
            self.conn.execute(f"INSERT OR REPLACE INTO runs ({cols}) VALUES ({marks})", [values[c] for c in _COLUMNS])

    def frame(self, *, all_versions: bool = False) -> pd.DataFrame:
        """Runs, with the KPI JSON expanded into ``kpi_<name>`` columns.

        By default one row per (instance, configuration, repetition): the one finished last, so
        that rows of an older code version left in the store are not counted twice.
        ``all_versions=True`` returns every stored row.
        """
        df = pd.read_sql_query("SELECT * FROM runs ORDER BY instance, config, repetition, finished", self.conn)
        if not all_versions and len(df):
            df = df.drop_duplicates(["instance", "config", "repetition"], keep="last").reset_index(drop=True)
        if len(df):
            k = pd.json_normalize([json.loads(x if isinstance(x, str) and x else "{}") for x in df["kpis"]]).add_prefix("kpi_")
            df = pd.concat([df.drop(columns=["kpis"]), k.set_index(df.index)], axis=1)
        return df
