"""Shared vocabulary of the optimisation stages: settings, solve status, statistics, registry.

Every optimisation stage (stocking, dispatch) and the forecaster use one :class:`Settings`
object and report one :class:`SolveStats`, so that the same problem solved with different
back-ends or settings gives comparable numbers.
"""

from __future__ import annotations

import difflib
import math
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, TypeVar

from engine.errors import BackendError, ConfigError


class SolveStatus(StrEnum):
    """Outcome of a solve, mapped from each back-end's own codes."""

    OPTIMAL = "optimal"  # proven optimal within the gap tolerance
    FEASIBLE = "feasible"  # a solution, optimality not proven (heuristic back-ends)
    TIME_LIMIT = "time_limit"  # stopped by the time limit with a solution
    INFEASIBLE = "infeasible"  # proven infeasible
    NO_SOLUTION = "no_solution"  # stopped (time limit or otherwise) without any solution
    ERROR = "error"  # the back-end failed

    @property
    def has_solution(self) -> bool:
        return self in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE, SolveStatus.TIME_LIMIT)


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|bound - objective| / max(|objective|, |bound|); ``None`` when either is unknown.

    Dividing by the larger magnitude keeps the gap in [0, 1] when objective and bound have the
    same sign (a zero incumbent against a positive bound is a 100% gap, not a huge number); for
    the small gaps that matter it equals the usual |bound - objective| / |objective| to first order.
    """
    if objective is None or bound is None:
        return None
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return None
    scale = max(abs(objective), abs(bound))
    return 0.0 if scale < 1e-12 else abs(bound - objective) / scale


@dataclass(frozen=True, slots=True)
class SolveStats:
    """Solve statistics every optimisation result carries.

    ``objective`` and ``bound`` are in the stage's own objective sense (documented by the
    stage). ``gap`` is the relative gap between them, ``None`` when no bound is known
    (heuristics report ``bound=None`` rather than a made-up one). ``backend`` names whoever
    produced the returned solution: when a fallback stood in, it is the fallback's name, and
    ``requested_backend`` / ``fallback_reason`` say what was asked for and why it was not used.
    """

    backend: str
    status: SolveStatus
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    message: str = ""
    requested_backend: str | None = None
    fallback_reason: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", SolveStatus(self.status))
        if self.gap is None and self.objective is not None and self.bound is not None:
            object.__setattr__(self, "gap", relative_gap(self.objective, self.bound))

    @property
    def wall_seconds(self) -> float:
        return self.build_seconds + self.solve_seconds

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = str(self.status)
        d["wall_seconds"] = self.wall_seconds
        return d


_SETTINGS_KEYS = ("backend", "time_limit", "seed", "threads", "mip_gap", "options")


@dataclass(frozen=True, slots=True)
class Settings:
    """Solver settings shared by every stage.

    ``backend`` is a name from the stage's registry ("" = the stage default); ``options`` are
    back-end specific and checked by the back-end, which rejects unknown names.
    """

    backend: str = ""
    time_limit: float = 10.0  # seconds of solver time
    seed: int = 0
    threads: int = 1
    mip_gap: float = 1e-4  # relative gap at which a MIP solve may stop as optimal
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (self.time_limit > 0 and math.isfinite(self.time_limit)):
            raise ConfigError(f"time_limit must be a positive number of seconds, got {self.time_limit!r}")
        if self.threads < 1:
            raise ConfigError(f"threads must be >= 1, got {self.threads!r}")
        if not (0 <= self.mip_gap < 1):
            raise ConfigError(f"mip_gap must be in [0, 1), got {self.mip_gap!r}")
        # a private plain-dict copy: picklable (Dask ships settings to workers), never shared
        object.__setattr__(self, "options", dict(self.options))

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (``options`` given here replace the old ones)."""
        return replace(self, **changes)

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    def check_options(self, allowed: Mapping[str, Any] | Iterable[str], *, where: str) -> None:
        """Raise :class:`ConfigError` naming any option the back-end does not know.

        Each unknown name comes with the known names closest to it (a typo such as
        ``recombne`` reads "did you mean recombine?").
        """
        known = sorted(set(allowed))
        unknown = sorted(set(self.options) - set(known))
        if not unknown:
            return
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.6)
            hints.append(f"{name!r} (did you mean {' or '.join(close)}?)" if close else repr(name))
        raise ConfigError(
            f"{where}: unknown option(s) {', '.join(hints)}; known: {', '.join(known) or '(none)'}"
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "settings") -> Settings:
        unknown = sorted(set(data) - set(_SETTINGS_KEYS))
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(unknown)}; expected some of {', '.join(_SETTINGS_KEYS)}"
            )
        kw: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(cls)}
        for key, value in data.items():
            try:
                if key == "options":
                    if not isinstance(value, Mapping):
                        raise TypeError
                    kw[key] = dict(value)
                elif key == "backend":
                    kw[key] = str(value)
                elif key in ("seed", "threads"):
                    if isinstance(value, bool) or int(value) != value:
                        raise TypeError
                    kw[key] = int(value)
                else:
                    kw[key] = float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{where}: {key} must be {types[key]}, got {value!r}") from None
        return cls(**kw)

    @classmethod
    def from_toml(cls, path: str | Path, table: str | None = None) -> Settings:
        p = Path(path)
        try:
            data: Mapping[str, Any] = tomllib.loads(p.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{p}: cannot read settings: {exc}") from exc
        if table:
            data = data.get(table, {})
        return cls.from_dict(data, where=str(p))

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in _SETTINGS_KEYS}
        d["options"] = dict(self.options)
        return d


F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class BackendInfo(Generic[F]):
    name: str
    func: F
    description: str
    is_available: Callable[[], bool]
    options: frozenset[str] | None = None  # option names the back-end accepts; None = not declared


class Registry(Generic[F]):
    """Name -> back-end function for one stage.

    >>> STOCKING = Registry("stocking")
    >>> @STOCKING.register("highs", description="HiGHS MIP")
    ... def solve_highs(problem, settings): ...
    """

    def __init__(self, stage: str, default: str = "") -> None:
        self.stage = stage
        self.default = default
        self._entries: dict[str, BackendInfo[F]] = {}

    def register(
        self,
        name: str,
        *,
        description: str = "",
        available: Callable[[], bool] | None = None,
        options: set[str] | frozenset[str] | None = None,
    ) -> Callable[[F], F]:
        def deco(func: F) -> F:
            if name in self._entries:
                raise ValueError(f"{self.stage} back-end {name!r} registered twice")
            self._entries[name] = BackendInfo(name, func, description, available or (lambda: True),
                                              None if options is None else frozenset(options))
            return func

        return deco

    def declare_options(self, name: str, options: set[str] | frozenset[str]) -> None:
        """Declare the option names of an already registered back-end (for up-front checks)."""
        entry = self._entries[name]
        self._entries[name] = BackendInfo(entry.name, entry.func, entry.description, entry.is_available,
                                          frozenset(options))

    def check(self, settings: Settings, *, extra: Iterable[str] = ()) -> BackendInfo[F]:
        """Fail before any work: unknown or unavailable back-end, or undeclared option names.

        ``extra`` are option names the calling stage itself consumes (e.g. day planning's
        ``wave_time_per_order``) and accepts besides the back-end's own. A back-end that
        declared no option names (``options=None``) is not checked here. Returns the entry.
        """
        entry = self.info(settings.backend)
        if entry.options is not None:
            settings.check_options(entry.options | frozenset(extra),
                                   where=f"{self.stage} back-end {entry.name!r}")
        return entry

    def names(self) -> list[str]:
        return sorted(self._entries)

    def available(self) -> list[str]:
        return [n for n in self.names() if self._entries[n].is_available()]

    def info(self, name: str) -> BackendInfo[F]:
        name = name or self.default
        if name not in self._entries:
            raise BackendError(
                f"unknown {self.stage} back-end {name!r}; choose one of: {', '.join(self.names())}"
            )
        entry = self._entries[name]
        if not entry.is_available():
            raise BackendError(f"{self.stage} back-end {name!r} is not installed on this machine")
        return entry

    def get(self, name: str) -> F:
        return self.info(name).func

    def __contains__(self, name: object) -> bool:
        return name in self._entries


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """``with stopwatch() as elapsed: ...; elapsed()`` gives seconds since entry."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())
