"""Cells in, Python statements out: per-cell overrides, magics, and parsing."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ._errors import ExportError

SKIP_TAG = "kernel_ext:skip"
EXPORT_TAG = "kernel_ext:export"
FAILING_TAG = "raises-exception"
_OVERRIDE_COMMENT = re.compile(r"^\s*#\s*kernel_ext:\s*(skip|export)\s*$", re.IGNORECASE)
_PARSE_FLAGS = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT

Override = Literal["skip", "export"] | None


@dataclass(frozen=True)
class Cell:
    """One executed cell. `label` names it in messages, e.g. "cell 4" or "In [12]"."""

    source: str
    tags: tuple[str, ...] = ()
    label: str = "cell"
    cell_id: str | None = None
    failed: bool = False


@dataclass(frozen=True)
class ParsedCell:
    """A cell after overrides and IPython syntax: `module` is None when the cell is skipped."""

    cell: Cell
    number: int  # position in execution order
    code: str
    module: ast.Module | None
    override: Override
    skip_reason: str | None = None

    @property
    def first_line(self) -> str:
        return first_line(self.cell.source)

    @property
    def name(self) -> str:
        return f"{self.cell.label} (`{self.first_line}`)"


def first_line(source: str) -> str:
    for line in source.splitlines():
        text = line.strip()
        if text and not _OVERRIDE_COMMENT.match(text):
            return text if len(text) <= 60 else text[:57] + "..."
    return ""


def as_cells(items: Iterable[Cell | tuple[str, Sequence[str]] | str]) -> list[Cell]:
    """Accept Cell objects, (source, tags) pairs, or bare sources, in execution order."""
    cells = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, Cell):
            cells.append(item)
        elif isinstance(item, str):
            cells.append(Cell(item, label=f"cell {number}"))
        else:
            source, tags = item
            cells.append(Cell(source, tuple(tags), label=f"cell {number}"))
    return cells


def read_notebook(path: Path) -> list[Cell]:
    """The code cells of an .ipynb file, labelled by their position (counting from 1).

    Plain JSON: importing nbformat costs seconds (its schema validator compiles grammars).
    """
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportError(f"{path}: no such notebook") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ExportError(f"{path}: not a readable notebook ({type(exc).__name__})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ExportError(f"{path}: not a Jupyter notebook (nbformat 4) file")
    cells = []
    for position, cell in enumerate(notebook["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        metadata = cell.get("metadata") or {}
        cells.append(
            Cell(
                source="".join(source) if isinstance(source, list) else str(source),
                tags=tuple(metadata.get("tags", ())),
                label=f"cell {position}",
                cell_id=cell.get("id"),
            )
        )
    return cells


def override_of(cell: Cell) -> Override:
    """A `kernel_ext:skip|export` tag or first-line comment; skip wins when both are given."""
    found: set[str] = set()
    if SKIP_TAG in cell.tags:
        found.add("skip")
    if EXPORT_TAG in cell.tags:
        found.add("export")
    for line in cell.source.splitlines():
        if line.strip():
            match = _OVERRIDE_COMMENT.match(line)
            if match:
                found.add(match.group(1).lower())
            break
    if "skip" in found:
        return "skip"
    return "export" if "export" in found else None


def parse_cells(cells: Sequence[Cell]) -> list[ParsedCell]:
    return [parse_cell(cell, number) for number, cell in enumerate(cells)]


def parse_cell(cell: Cell, number: int) -> ParsedCell:
    override = override_of(cell)

    def skipped(reason: str) -> ParsedCell:
        return ParsedCell(cell, number, "", None, override, reason)

    if override == "skip":
        return skipped("marked kernel_ext: skip")
    if override != "export" and cell.failed:
        return skipped("it raised when it ran")
    if override != "export" and FAILING_TAG in cell.tags:
        return skipped("tagged raises-exception: it is meant to fail")
    source = cell.source
    head = source.lstrip()
    if head.startswith("%%"):
        magic = head.split(None, 1)[0]
        if override != "export":
            return skipped(f"a {magic} cell magic")
        source = head.split("\n", 1)[1] if "\n" in head else ""
    code = to_python(source)
    if not code.strip():
        return skipped("no Python code")
    try:
        module = compile(code, cell.label, "exec", _PARSE_FLAGS, dont_inherit=True)
        # The full compiler also refuses `return` or `nonlocal` at the top level.
        compile(module, cell.label, "exec", ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    except SyntaxError as exc:
        line = (exc.text or "").strip()
        where = f"line {exc.lineno}" + (f" (`{line}`)" if line else "")
        raise ExportError(
            f"{cell.label} (`{first_line(cell.source)}`) has a syntax error at {where}: {exc.msg}. "
            "Fix it, or mark the cell `# kernel_ext: skip`."
        ) from None
    return ParsedCell(cell, number, code, module, override)


def to_python(source: str) -> str:
    """IPython syntax (`%magic`, `!shell`, `x?`) as plain Python: `get_ipython()...` calls.

    Line numbers are preserved, so statement source segments map back to the cell.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # an unterminated string etc.: let the parser report it
        return source
