"""docs/instance-format.md must match the schema the code enforces."""

from __future__ import annotations

import ast
import re

from engine.instance.schema import schema_markdown
from tests.helpers import REPO


def test_format_doc_matches_schema() -> None:
    doc = (REPO / "docs" / "instance-format.md").read_text()
    start = doc.index("<!-- generated from engine/instance/schema.py: schema_markdown() -->")
    end = doc.index("<!-- end generated -->")
    block = doc[start:end].split("\n", 1)[1].strip()
    assert block == schema_markdown().strip(), "regenerate the tables section from schema_markdown()"


def _codes_in_source() -> set[str]:
    """Issue codes the loader can emit, read from its calls (``log.add``, ``r.bad``, ``Issue``...)."""
    codes: set[str] = set()
    for path in sorted((REPO / "engine" / "instance").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                pos = {"add": 3, "add_rows": 3, "Issue": 3, "bad": 2}.get(name)
                if pos is None:
                    continue
                if len(node.args) > pos:
                    arg = node.args[pos]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        codes.add(arg.value)
                elif name == "bad":
                    codes.add("bad_value")  # the default code of _Reader.bad
            elif isinstance(node, ast.FunctionDef) and node.name == "table_path_problem":
                for ret in ast.walk(node):
                    if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Tuple):
                        first = ret.value.elts[0]
                        assert isinstance(first, ast.Constant)
                        codes.add(first.value)
    return codes


def test_every_issue_code_is_documented() -> None:
    doc = (REPO / "docs" / "instance-format.md").read_text()
    section = doc[doc.index("## Issue codes"):]
    documented = set(re.findall(r"`([a-z_]+)`", section.split("\n|---|---|\n", 1)[1]))
    codes = _codes_in_source()
    assert len(codes) > 30
    assert codes - documented == set(), "document these codes in docs/instance-format.md"
