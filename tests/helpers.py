"""Shared test helpers: tiny generated instances and paths to ../shared data."""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

import pandas as pd

from engine.instance import Instance, load_instance
from engine.instance.generate import generate_instance

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TINY_KNOBS = dict(skus=8, zones=4, warehouses=2, fleet=3, crowd=4, days=60, daily_units=60.0)


@cache
def _tiny_source(tmp_root: str) -> Path:
    path = Path(tmp_root) / "tiny"
    generate_instance(path, preset="small", seed=11, **TINY_KNOBS)
    return path


def tiny_copy(tmp_path: Path, name: str = "tiny") -> Path:
    """A fresh copy of the tiny instance in ``tmp_path`` (generated once per session)."""
    # in this session's base temp directory: /tmp/pytest-of-<user> is shared by every session
    src = _tiny_source(str(tmp_path.parent / "nearstock-tiny-src"))
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


def tiny_instance(tmp_path: Path) -> Instance:
    return load_instance(tiny_copy(tmp_path))


def edit_csv(path: Path, edit) -> None:
    """Read a CSV as text, let ``edit(frame)`` change it, write it back as text."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = edit(frame)
    frame.to_csv(path, index=False)


def set_cell(path: Path, line: int, column: str, value: str) -> None:
    """Set the cell on file line ``line`` (header = line 1) of ``column``."""
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[line - 2, column] = value
        return frame
    edit_csv(path, edit)
