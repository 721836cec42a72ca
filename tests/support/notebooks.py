"""Notebooks for tests: the project's own, their cells, and new ones written from cell sources."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def write_notebook(path: Path, cells: list[str | tuple[str, list[str]]]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# A notebook"))
    for item in cells:
        source, tags = (item, []) if isinstance(item, str) else item
        cell = nbformat.v4.new_code_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.write(nb, str(path))
    return path


# Cells that clean up after a notebook (closing clients, dropping tables; or tagged `teardown`).
TEARDOWN = re.compile(
    r"\.close\(\)|drop_all|\.dispose\(\)|\.cleanup\(\)|rmtree|\.unlink\(|%api stop|%unload_ext"
)


def serving_cells(notebook: Path) -> list[tuple[str, bool]]:
    """(source, may_raise) for each code cell, without the trailing clean-up cells (and the
    coverage check the reference notebooks end with, which changes nothing)."""
    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    while cells and (_is_teardown(cells[-1]) or _is_coverage_check(cells[-1])):
        cells.pop()
    return [
        ("".join(c["source"]), "raises-exception" in c.get("metadata", {}).get("tags", [])) for c in cells
    ]


def _is_coverage_check(cell: dict[str, Any]) -> bool:
    lines = [line.strip() for line in "".join(cell["source"]).splitlines() if line.strip()]
    return bool(lines) and all(
        line.startswith(("%api coverage", "#")) or "kernel_ext.coverage(" in line for line in lines
    )


def _is_teardown(cell: dict[str, Any]) -> bool:
    source = "".join(cell["source"])
    tags = cell.get("metadata", {}).get("tags", [])
    return "teardown" in tags or ("@app" not in source and bool(TEARDOWN.search(source)))
