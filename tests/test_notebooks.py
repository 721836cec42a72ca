"""The notebooks as documents: a cell that only asserts is collapsed, so the story reads top to bottom."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def only_asserts(source: str) -> bool:
    if source.lstrip().startswith("%"):
        return False  # a magic cell
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False  # IPython syntax that Python does not parse: a magic line
    return bool(body) and all(isinstance(statement, ast.Assert) for statement in body)


def test_only_asserts_tells_checks_from_steps() -> None:
    assert only_asserts("assert r.status_code == 200\n# why\nassert r.json() == {}")
    assert not only_asserts("r = client.get('/')\nassert r.status_code == 200")
    assert not only_asserts("%api status")
    assert not only_asserts("")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_cells_that_only_assert_are_collapsed(path: Path) -> None:
    shown = [
        cell.get("id")
        for cell in json.loads(path.read_text())["cells"]
        if cell["cell_type"] == "code"
        and only_asserts("".join(cell["source"]))
        and not cell["metadata"].get("jupyter", {}).get("source_hidden")
    ]
    assert shown == [], f'set "jupyter": {{"source_hidden": true}} in the metadata of cells {shown}'
