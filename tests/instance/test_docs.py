"""docs/instance-format.md must match the schema the code enforces."""

from __future__ import annotations

from engine.instance.schema import schema_markdown
from tests.helpers import REPO


def test_format_doc_matches_schema() -> None:
    doc = (REPO / "docs" / "instance-format.md").read_text()
    start = doc.index("<!-- generated from engine/instance/schema.py: schema_markdown() -->")
    end = doc.index("<!-- end generated -->")
    block = doc[start:end].split("\n", 1)[1].strip()
    assert block == schema_markdown().strip(), "regenerate the tables section from schema_markdown()"
