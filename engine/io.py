"""Atomic output: nothing is ever written half-way.

Files are written to a temporary sibling and renamed into place; a whole output directory
is assembled in a temporary sibling directory and swapped in at the end, so a crash or an
error leaves either the old output or the complete new one. The output-location rule (what
may be replaced at all) lives here too, below.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from engine.errors import OutputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _move_into_place(tmp: Path, target: Path) -> None:
    # mkstemp files are private (0600); give the result the permissions a normal file gets
    tmp.chmod(0o666 & ~_umask())
    os.replace(tmp, target)


def atomic_write_text(path: str | Path, text: str) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        _move_into_place(Path(tmp), target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def replace_marked_section(path: str | Path, begin: str, end: str, section: str) -> Path:
    """Replace the text from the ``begin`` marker to the ``end`` marker (and the newline after it)
    with ``section`` (which carries both markers), or append it if the file has none; atomically.
    The benchmark scripts keep their own sections of a RESULTS.md up to date this way."""
    target = Path(path)
    text = target.read_text(encoding="utf-8")
    if begin in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end) + 1:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    return atomic_write_text(target, text)


def to_json_text(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n"


def _json_default(obj: Any) -> Any:
    import datetime as _dt

    import numpy as np

    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (_dt.date, _dt.datetime, pd.Timestamp)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def atomic_write_json(path: str | Path, data: Any) -> Path:
    return atomic_write_text(path, to_json_text(data))


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write a table by its suffix (.csv, .csv.gz, .parquet) deterministically."""
    name = path.name
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    elif name.endswith(".csv.gz"):
        frame.to_csv(path, index=False, compression={"method": "gzip", "mtime": 0}, lineterminator="\n")
    else:
        frame.to_csv(path, index=False, lineterminator="\n")


def atomic_write_frame(path: str | Path, frame: pd.DataFrame) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.name, dir=target.parent)
    os.close(fd)
    try:
        write_frame(frame, Path(tmp))
        _move_into_place(Path(tmp), target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


# --- output locations -------------------------------------------------------------------------
#
# The one rule for every path a command writes to (``--out``, ``--html``, ``generate DIR``):
#   * a directory output carries a marker file, MARKER, saying nearstock wrote it;
#   * a missing path or an empty directory is written without question;
#   * a non-empty directory without the marker, a file where a directory is wanted, a directory
#     where a file is wanted, and a symbolic link are always refused;
#   * an earlier nearstock output directory, or an existing file, is replaced only with ``force``.
# Checks run before any work (``check_output_dir`` / ``check_output_file``, so a command can
# refuse before a long solve) and again just before the result is moved into place.

MARKER = ".nearstock-output"
_MARKER_ID = "nearstock-output"


@dataclass(frozen=True, slots=True)
class Replaced:
    """What a write with ``force`` is about to replace (for the command to tell the user)."""

    path: Path
    marker: dict[str, Any] | None = None  # the earlier output's marker; None for a plain file

    def details(self) -> str:
        m = self.marker or {}
        bits = [str(m.get("kind", "output"))]
        if m.get("created"):
            bits.append(f"created {m['created']}")
        if m.get("command"):
            bits.append(f"by `{m['command']}`")
        return ", ".join(bits)

    def describe(self) -> str:
        if self.marker is None:
            return f"file {self.path}"
        return f"earlier nearstock output {self.path} ({self.details()})"


def command_line() -> str:
    """The command line of this process, as the marker records it."""
    argv = list(sys.argv) or ["python"]
    if Path(argv[0]).name in ("nearstock", "__main__.py"):
        argv[0] = "nearstock"
    return shlex.join(argv)


def _version() -> str:
    try:
        return importlib.metadata.version("nearstock")
    except importlib.metadata.PackageNotFoundError:
        from engine import __version__

        return __version__


def marker_data(kind: str, command: str | None = None) -> dict[str, Any]:
    return {
        "marker": _MARKER_ID,
        "kind": kind,
        "command": command_line() if command is None else command,
        "nearstock_version": _version(),
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    }


def read_marker(path: str | Path) -> dict[str, Any] | None:
    """The marker of an output directory, or None when ``path`` is not a nearstock output.

    Only a regular file holding a JSON object that names itself a nearstock marker counts; a
    stray file that merely has the name does not make a folder replaceable.
    """
    marker = Path(path) / MARKER
    if marker.is_symlink() or not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("marker") != _MARKER_ID:
        return None
    return data


def check_output_dir(path: str | Path, *, force: bool = False) -> Replaced | None:
    """Raise :class:`OutputError` unless ``path`` may receive a new output directory.

    Returns what will be replaced (an earlier nearstock output, only with ``force``), else None.
    """
    target = Path(path)
    if target.is_symlink():
        raise OutputError(f"output directory {target} is a symbolic link; nearstock does not write "
                          f"through links. Give the real path or a new directory.")
    if not target.exists():
        return None
    if not target.is_dir():
        raise OutputError(f"output directory {target} is an existing file, not a directory; nearstock "
                          f"will not replace it. Choose a new or empty directory.")
    try:
        empty = next(target.iterdir(), None) is None
    except OSError as exc:
        raise OutputError(f"output directory {target} cannot be read: {exc.strerror}") from None
    if empty:
        return None
    marker = read_marker(target)
    if marker is None:
        raise OutputError(f"output directory {target} already exists and holds files nearstock did not "
                          f"write (there is no {MARKER} marker in it); nearstock never replaces such a "
                          f"folder. Choose a new or empty directory.")
    replaced = Replaced(target, marker)
    if not force:
        raise OutputError(f"output directory {target} holds an earlier nearstock output "
                          f"({replaced.details()}); add --force to replace it, or choose another "
                          f"directory.")
    return replaced


def check_output_file(path: str | Path, *, force: bool = False) -> Replaced | None:
    """Raise :class:`OutputError` unless ``path`` may receive a new output file.

    A directory is never replaced by a file; an existing file (or link) only with ``force``.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"output file {target} is an existing directory; nearstock writes one file "
                          f"here. Give a file path.")
    if target.exists() or target.is_symlink():
        if not force:
            raise OutputError(f"output file {target} already exists; add --force to replace it, or "
                              f"choose another file name.")
        return Replaced(target)
    return None


def _make_parent(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder {target.parent} for {target}: "
                          f"{exc.strerror or exc}") from None


@contextmanager
def atomic_dir(path: str | Path, *, force: bool = False, kind: str = "output",
               command: str | None = None) -> Iterator[Path]:
    """Yield a fresh temporary directory; on success it becomes ``path`` as a whole.

    The rule of :func:`check_output_dir` applies (before the work and again before the swap);
    the marker (``kind``, command line, version, time) is added last. On any error the
    temporary directory is removed and ``path`` is left as it was.

    >>> with atomic_dir("runs/demo", kind="run") as out:
    ...     (out / "plan.csv").write_text("...")
    """
    target = Path(path)
    check_output_dir(target, force=force)
    _make_parent(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the result should look like a normal dir
    try:
        yield tmp
        (tmp / MARKER).write_text(to_json_text(marker_data(kind, command)), encoding="utf-8")
        check_output_dir(target, force=force)  # the target may have changed while we worked
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_in(tmp: Path, target: Path) -> None:
    if not target.exists():
        os.replace(tmp, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.replace(target, old / target.name)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old / target.name, target)  # put the earlier output back
        old.rmdir()
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_file(path: str | Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    The rule of :func:`check_output_file` applies (before the work and again before the rename).
    """
    target = Path(path)
    check_output_file(target, force=force)
    _make_parent(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.name, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        check_output_file(target, force=force)
        _move_into_place(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_output_text(path: str | Path, text: str, *, force: bool = False) -> Path:
    """Write a user-facing output file under the output rule (see :func:`check_output_file`)."""
    with atomic_file(path, force=force) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")
    return Path(path)


def write_output_frame(path: str | Path, frame: pd.DataFrame, *, force: bool = False) -> Path:
    """Write a user-facing table (.csv, .csv.gz, .parquet) under the output rule."""
    with atomic_file(path, force=force) as tmp:
        write_frame(frame, tmp)
    return Path(path)
