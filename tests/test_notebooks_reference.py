"""Checks on the reference notebooks that nbmake can't make: what a cell's own output contains."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
REQUEST_OUTPUT = ("Reading item", "looking up order", "order 0 requested", "there is no order 0")


def _execute(name: str, tmp_path: Path) -> Any:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    return notebook


def _visible_text(cell: Any) -> str:
    """Everything a cell shows as text: streams, tracebacks and plain-text results."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] == "error":
            parts.extend(output["traceback"])
        else:
            parts.append(json.dumps(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def logging_notebook(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return _execute("26_logging.ipynb", tmp_path_factory.mktemp("logging"))


def test_endpoint_logging_and_prints_stay_out_of_every_cell(logging_notebook: Any) -> None:
    # The notebook itself asserts that these lines are in the request log.
    for cell in logging_notebook.cells:
        if cell.cell_type == "code":
            shown = _visible_text(cell)
            assert not [text for text in REQUEST_OUTPUT if text in shown], (cell.source, shown)


def test_the_probing_cell_shows_nothing(logging_notebook: Any) -> None:
    probe = next(c for c in logging_notebook.cells if c.source.startswith('r = client.get("/items/3")'))
    assert probe.outputs == []


def test_cell_code_logging_still_shows_in_the_cell(logging_notebook: Any) -> None:
    # Proves the check above looks at real outputs: logging from a cell does reach the cell.
    cell = next(
        c for c in logging_notebook.cells if c.source.startswith('logger.warning("a warning from cell')
    )
    assert "a warning from cell code" in _visible_text(cell)
