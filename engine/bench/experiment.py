"""Experiments: instances × configurations × repetitions, read from a TOML file.

.. code-block:: toml

    name = "solomon-dispatch"
    kind = "vrptw"              # vrptw | stocking | stocking_random | dispatch | pipeline
    repetitions = 1
    run_timeout = 120           # wall seconds before a run is killed and recorded as "timeout"
    baseline = "pyvrp-10s"      # configuration the summary compares against

    [instances]
    paths = ["data/solomon/C1*.txt"]   # files, dirs, globs

    [[configs]]
    name = "pyvrp-10s"
    backend = "pyvrp"
    time_limit = 10
    seed = 1                    # repetition r runs with seed + r
    options = {}
    params = {}                 # kind-specific (e.g. scenarios, couriers, wave_min)

Relative paths are relative to the experiment file. Everything is checked before any run
starts: unknown keys, unknown back-ends and option names, instances that do not exist.
``stocking_random`` instances are specs such as ``random:S=1000,W=10,Z=30,K=30,seed=1``.

Every run's key includes :func:`code_version` (the package version and a hash of the
``engine/`` sources), so a results store never hands back a row computed by other code.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.solver import Settings

KINDS = ("vrptw", "stocking", "stocking_random", "dispatch", "pipeline")
# objective sense per kind: what the summary calls better
SENSE = {"vrptw": "min", "stocking": "max", "stocking_random": "max", "dispatch": "min", "pipeline": "max"}
_TOP = {"name", "kind", "repetitions", "run_timeout", "baseline", "instances", "configs", "description"}
_CONFIG = {"name", "backend", "time_limit", "seed", "threads", "mip_gap", "options", "params"}
_PARAMS = {
    "vrptw": set(),
    "stocking": {"forecast", "scenarios", "cycle_days"},
    "stocking_random": {"cover", "capacity_factor", "slotting_fixed_cost", "min_lot", "budget_factor"},
    "dispatch": {"day", "wave_min", "rolling", "couriers"},
    "pipeline": {"day", "forecast", "stocking", "dispatch", "scenarios", "replications", "couriers"},
}


_ENGINE_ROOT = Path(__file__).resolve().parents[1]


def source_hash(root: Path = _ENGINE_ROOT) -> str:
    """SHA-1 over the sorted relative paths and bytes of every source file under ``root``.

    Byte caches are left out; anything else (Python files, data files the package reads)
    counts, so an uncommitted edit changes the hash just as a commit does.
    """
    h = hashlib.sha1()
    files = sorted(p for p in root.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"))
    for p in files:
        rel = p.relative_to(root).as_posix().encode()
        data = p.read_bytes()
        h.update(len(rel).to_bytes(4, "big") + rel + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


@functools.cache
def code_version() -> str:
    """``<package version>+<first 12 hex digits of source_hash()>``, computed once per process."""
    from engine import __version__

    return f"{__version__}+{source_hash()[:12]}"


@functools.cache
def git_commit() -> str | None:
    """The commit the sources were checked out at (``-dirty`` if edited), or ``None`` outside git.

    Stored beside each run as provenance only; it is never part of a key, because a dirty tree
    at one commit can hold any code.
    """
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=_ENGINE_ROOT, capture_output=True,
                              text=True, timeout=10, check=False)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=_ENGINE_ROOT, capture_output=True,
                               text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def run_key(kind: str, instance: str, config: str, repetition: int, settings: dict[str, Any],
            params: dict[str, Any], version: str) -> str:
    """The store key of one run: everything that decides its result, code version included."""
    blob = json.dumps([kind, instance, config, repetition, settings, params, version], sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Config:
    name: str
    settings: Settings
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One run: picklable and JSON-safe, so any executor can ship it."""

    key: str
    experiment: str
    kind: str
    instance: str
    config: str
    repetition: int
    settings: dict[str, Any]
    params: dict[str, Any]
    timeout: float
    code_version: str = ""
    git_commit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class Experiment:
    name: str
    kind: str
    path: Path
    instances: tuple[str, ...]
    configs: tuple[Config, ...]
    repetitions: int = 1
    run_timeout: float = 600.0
    baseline: str | None = None
    description: str = ""

    @property
    def db_path(self) -> Path:
        return self.path.with_suffix(".sqlite")

    def config(self, name: str) -> Config:
        for c in self.configs:
            if c.name == name:
                return c
        raise ConfigError(f"{self.path}: no configuration named {name!r}; have {', '.join(c.name for c in self.configs)}")

    def runs(self) -> list[RunSpec]:
        version, commit = code_version(), git_commit()
        out = []
        for inst in self.instances:
            for cfg in self.configs:
                for r in range(self.repetitions):
                    s = cfg.settings.with_(seed=cfg.settings.seed + r).to_dict()
                    key = run_key(self.kind, inst, cfg.name, r, s, cfg.params, version)
                    out.append(RunSpec(key, self.name, self.kind, inst, cfg.name, r, s, dict(cfg.params),
                                       self.run_timeout, version, commit))
        return out


def _expand(root: Path, patterns: list[str], kind: str, where: str) -> list[str]:
    found: list[str] = []
    for pat in patterns:
        if kind == "stocking_random":
            parse_random_spec(pat, where)
            found.append(pat)
            continue
        full = pat if Path(pat).is_absolute() else str(root / pat)
        hits = sorted(glob.glob(full))
        if not hits:
            raise ConfigError(f"{where}: no instance matches {pat!r} (looked for {full})")
        for h in hits:
            hp = Path(h)
            if kind == "vrptw" and hp.is_dir():
                raise ConfigError(f"{where}: {h} is a directory; vrptw experiments take Solomon or VRPLIB files")
            if kind != "vrptw" and not (hp / "instance.toml").is_file():
                raise ConfigError(f"{where}: {h} is not an instance directory (no instance.toml)")
            found.append(str(hp.resolve()))
    return list(dict.fromkeys(found))


def parse_random_spec(spec: str, where: str = "experiment") -> dict[str, int]:
    """``random:S=1000,W=10,Z=30,K=30,seed=1`` -> dict; a clear error otherwise."""
    if not spec.startswith("random:"):
        raise ConfigError(f"{where}: stocking_random instances look like 'random:S=1000,W=10,Z=30,K=30,seed=1', got {spec!r}")
    out: dict[str, int] = {}
    for part in spec.removeprefix("random:").split(","):
        k, _, v = part.partition("=")
        if k not in ("S", "W", "Z", "K", "seed") or not v.isdigit():
            raise ConfigError(f"{where}: bad part {part!r} in {spec!r}; expected S, W, Z, K, seed = whole numbers")
        out[k] = int(v)
    missing = {"S", "W", "Z", "K"} - set(out)
    if missing:
        raise ConfigError(f"{where}: {spec!r} lacks {', '.join(sorted(missing))}")
    out.setdefault("seed", 0)
    return out


def _registry(kind: str) -> Any:
    if kind == "vrptw" or kind == "dispatch":
        from engine.dispatch import DISPATCH
        return DISPATCH
    if kind in ("stocking", "stocking_random"):
        from engine.stocking import STOCKING
        return STOCKING
    return None


def load_experiment(path: str | Path) -> Experiment:
    """Read and check an experiment file; raises ConfigError naming the file and the key."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"experiment file {p} does not exist")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    where = str(p)
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; expected some of {', '.join(sorted(_TOP))}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    name = str(data.get("name") or p.stem)
    reps = data.get("repetitions", 1)
    if not isinstance(reps, int) or reps < 1:
        raise ConfigError(f"{where}: repetitions must be a whole number >= 1, got {reps!r}")
    timeout = data.get("run_timeout", 600)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError(f"{where}: run_timeout must be a positive number of seconds, got {timeout!r}")
    inst = data.get("instances")
    if not isinstance(inst, dict) or not isinstance(inst.get("paths"), list) or not inst["paths"]:
        raise ConfigError(f"{where}: expected [instances] with a non-empty list 'paths'")
    instances = _expand(p.parent, [str(x) for x in inst["paths"]], kind, f"{where} [instances]")

    raw_configs = data.get("configs")
    if not isinstance(raw_configs, list) or not raw_configs:
        raise ConfigError(f"{where}: expected at least one [[configs]] table")
    registry = _registry(kind)
    configs: list[Config] = []
    for i, c in enumerate(raw_configs):
        cw = f"{where} configs[{i}]"
        if not isinstance(c, dict):
            raise ConfigError(f"{cw}: expected a table")
        bad = sorted(set(c) - _CONFIG)
        if bad:
            raise ConfigError(f"{cw}: unknown key(s) {', '.join(bad)}; expected some of {', '.join(sorted(_CONFIG))}")
        cname = str(c.get("name") or f"config{i}")
        params = c.get("params", {})
        if not isinstance(params, dict):
            raise ConfigError(f"{cw}: params must be a table")
        badp = sorted(set(params) - _PARAMS[kind])
        if badp:
            raise ConfigError(f"{cw}: unknown param(s) {', '.join(badp)} for kind {kind}; "
                              f"expected some of {', '.join(sorted(_PARAMS[kind])) or '(none)'}")
        settings = Settings.from_dict({k: v for k, v in c.items() if k not in ("name", "params")}, where=cw)
        if registry is not None:
            registry.check(settings)
        configs.append(Config(cname, settings, dict(params)))
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: configuration names must be unique, got {names}")
    baseline = data.get("baseline")
    if baseline is not None and baseline not in names:
        raise ConfigError(f"{where}: baseline {baseline!r} is not a configuration name ({', '.join(names)})")
    return Experiment(name=name, kind=kind, path=p.resolve(), instances=tuple(instances), configs=tuple(configs),
                      repetitions=reps, run_timeout=float(timeout), baseline=baseline,
                      description=str(data.get("description", "")))
