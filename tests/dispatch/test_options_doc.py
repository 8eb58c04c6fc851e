"""docs/dispatch-options.md documents exactly the options each dispatch back-end accepts."""

from __future__ import annotations

import re
from pathlib import Path

from engine.dispatch.backend_ortools import OPTIONS as ORTOOLS
from engine.dispatch.backend_pyvrp import OPTIONS as PYVRP
from engine.dispatch.day import DAY_OPTIONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "dispatch-options.md"


def _section(title: str) -> set[str]:
    text = DOC.read_text()
    body = text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", body, flags=re.M))


def test_documented_options_match_the_code() -> None:
    assert _section("`pyvrp`") == PYVRP
    assert _section("`ortools`") == ORTOOLS
    assert _section("Day planning") == DAY_OPTIONS
