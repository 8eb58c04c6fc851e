"""Run an experiment: skip finished runs, execute the rest, store each as it finishes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.bench.executors import executor_map
from engine.bench.experiment import Experiment
from engine.bench.store import ResultStore


@dataclass(frozen=True, slots=True)
class ExperimentRun:
    experiment: str
    db: Path
    total: int
    skipped: int
    ok: int
    failed: int  # error or timeout

    def to_dict(self) -> dict[str, object]:
        return {"experiment": self.experiment, "db": str(self.db), "total": self.total, "skipped": self.skipped,
                "ok": self.ok, "failed": self.failed}


def run_experiment(exp: Experiment, *, jobs: int = 1, cluster: str | None = None, db: str | Path | None = None,
                   retry_failed: bool = False,
                   progress: Callable[[int, int, int], None] | None = None) -> ExperimentRun:
    """Execute every run of ``exp`` not already in the store; ``progress(done, failed, todo)``."""
    path = Path(db) if db else exp.db_path
    specs = [s.to_dict() for s in exp.runs()]
    with ResultStore(path) as store:
        done = store.done_keys(retry_failed=retry_failed)
        todo = [s for s in specs if s["key"] not in done]
        ok = failed = 0
        if progress:
            progress(0, 0, len(todo))
        for spec, outcome in executor_map(todo, jobs=jobs, cluster=cluster):
            store.record(spec, outcome)
            if outcome["state"] == "ok":
                ok += 1
            else:
                failed += 1
            if progress:
                progress(ok + failed, failed, len(todo))
    return ExperimentRun(exp.name, path, len(specs), len(specs) - len(todo), ok, failed)
