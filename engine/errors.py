"""Exceptions raised by nearstock.

Every error a user can cause derives from :class:`EngineError`; the CLI catches only that
family and prints its message (``--debug`` shows the traceback). Programming errors stay
ordinary Python exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass


class EngineError(Exception):
    """Base class of every error caused by input, configuration or an unsolvable model."""


class ConfigError(EngineError):
    """A settings object, option name or value is not what was expected."""


class OutputError(EngineError):
    """An output path cannot be written without destroying something nearstock did not make
    (or an earlier output that was not meant to be replaced)."""


class BackendError(EngineError):
    """A solver back-end is unknown, not installed, or failed."""


class InfeasibleError(EngineError):
    """A model has no feasible solution.

    ``family`` names the constraint family found responsible (e.g. ``"capacity"``).
    """

    def __init__(self, message: str, *, family: str | None = None) -> None:
        super().__init__(message)
        self.family = family


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in an input: where it is and what was expected."""

    file: str
    row: int | None  # line number in the file (header = line 1); None for file-level issues
    column: str | None
    code: str  # stable machine-readable code, e.g. "not_a_number"
    message: str

    def location(self) -> str:
        parts = [self.file]
        if self.row is not None:
            parts.append(f"line {self.row}")
        if self.column is not None:
            parts.append(f"column '{self.column}'")
        return ", ".join(parts)

    def __str__(self) -> str:
        return f"{self.location()}: {self.message} [{self.code}]"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class InstanceError(EngineError):
    """An instance directory failed validation; ``issues`` lists every problem found."""

    def __init__(self, path: str, issues: Sequence[Issue]) -> None:
        self.path = path
        self.issues = tuple(issues)
        head = f"instance {path!r} is invalid: {len(self.issues)} problem(s)"
        shown = "\n".join(f"  - {i}" for i in self.issues[:20])
        more = f"\n  ... and {len(self.issues) - 20} more" if len(self.issues) > 20 else ""
        super().__init__(f"{head}\n{shown}{more}")
