"""What the fresh run executes: each live cell, minus what only probes the live server.

A fresh run has no server, so statements that talk to it (`httpx.get(kernel_ext.base_url())`,
the explorer, `%api ...`, `%%http`) would only fail; they are left out, together with what they
bound. The classification is export's (kernel_ext/_export/_probes.py), applied statement by
statement: everything else runs again, side effects included. Asserts are left out too: they
never build the app, and one that held only for the live state would stop its cell early.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .._export._cells import Cell, override_of, to_python
from .._export._names import Names, analyse
from .._export._probes import _calls_local_server, probe_names_of_import
from .._reload._notebook import CellRun

_FLAGS = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
_LINE_MAGIC = re.compile(r"^get_ipython\(\)\.run_line_magic\((['\"])(\w+)\1,\s*(['\"])(.*)\3\)$", re.DOTALL)
_OWN_EXTENSION = ("load_ext", "reload_ext", "unload_ext")
_INSTALLERS = ("pip", "conda", "mamba", "micromamba", "uv")
# Cell magics whose whole point is a request to the live server.
_PROBE_CELL_MAGICS = ("%%http",)
# Notebook names that only exist to show or inspect, never to build the app.
_DISPLAY_NAMES = frozenset({"display", "In", "Out", "_ih", "_oh"})


@dataclass(frozen=True)
class FreshCell:
    """One live cell as the fresh run executes it. `code` is empty when the cell is skipped."""

    index: int  # position in session.cells.current()
    label: str  # "In [7]": what the user sees beside the cell
    cell_id: str | None
    code: str
    skipped: str | None = None
    dropped: tuple[str, ...] = ()  # "line 3: it calls the live server"


def prepare(runs: Sequence[CellRun]) -> list[FreshCell]:
    tainted: set[str] = set()
    return [_prepare(index, run, tainted) for index, run in enumerate(runs)]


def _prepare(index: int, run: CellRun, tainted: set[str]) -> FreshCell:
    def skipped(reason: str) -> FreshCell:
        return FreshCell(index, run.label, run.cell_id, "", reason)

    if override_of(Cell(run.source)) == "skip":
        return skipped("marked # kernel_ext: skip")
    head = run.source.lstrip()
    if head.startswith("%%"):
        magic = head.split(None, 1)[0]
        if magic in _PROBE_CELL_MAGICS:
            return skipped(f"a {magic} cell: it sends requests to the live server")
        return FreshCell(index, run.label, run.cell_id, run.source)  # %%writefile, %%time...
    code = to_python(run.source)
    try:
        module = compile(code, run.label, "exec", _FLAGS, dont_inherit=True)
    except SyntaxError:  # the fresh run reports the same error, as the live run did
        return FreshCell(index, run.label, run.cell_id, run.source)
    drops: list[tuple[ast.stmt, str]] = []
    for stmt in module.body:
        reason = _probe(stmt, code, tainted)
        if reason is not None:
            drops.append((stmt, reason))
    if not drops:
        return FreshCell(index, run.label, run.cell_id, run.source)
    notes = tuple(f"line {stmt.lineno}: {reason}" for stmt, reason in drops)
    return FreshCell(index, run.label, run.cell_id, _without(code, [s for s, _ in drops]), dropped=notes)


def _probe(stmt: ast.stmt, code: str, tainted: set[str]) -> str | None:
    """Why `stmt` is left out of the fresh run, or None; keeps `tainted` (names bound by probes)."""
    names = analyse(stmt)
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        tainted -= names.binds
        tainted |= probe_names_of_import(stmt)  # `import kernel_ext` runs; what uses it won't
        return None
    reason = _reason(stmt, code, names, tainted)
    if reason is None:
        tainted -= names.binds
    else:
        tainted |= names.binds
    return reason


def _reason(stmt: ast.stmt, code: str, names: Names, tainted: set[str]) -> str | None:
    magic = _line_magic(stmt)
    if magic is not None:
        name, args = magic
        if name == "api":
            return f"%api {args}".strip() + " needs the live server"
        if name in _OWN_EXTENSION and args.strip() == "kernel_ext":
            return "the fresh run loads kernel_ext itself (without a server)"
        if name in _INSTALLERS:
            return f"%{name} installs packages (the same interpreter has them)"
        return None
    if isinstance(stmt, ast.Assert):
        return "an assert"
    registers = bool(names.mutates) and isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
    reads = names.eager if registers else names.uses
    used = sorted(reads & (tainted | _DISPLAY_NAMES))
    if used:
        return f"it uses {used[0]}, which probes the live app"
    if _calls_local_server(stmt):
        return "it calls the live server"
    return None


def _line_magic(stmt: ast.stmt) -> tuple[str, str] | None:
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return None
    match = _LINE_MAGIC.match(ast.unparse(stmt.value))
    return (match.group(2), match.group(4)) if match else None


def _without(code: str, drops: list[ast.stmt]) -> str:
    """`code` with each dropped statement replaced by `pass`: line numbers stay as they were."""
    data = code.encode()  # ast offsets count UTF-8 bytes
    starts = [0]
    for line in data.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def offset(line: int, col: int) -> int:
        return starts[line - 1] + col

    for stmt in sorted(drops, key=lambda s: (s.lineno, s.col_offset), reverse=True):
        first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", ()))])
        start = offset(stmt.lineno, stmt.col_offset) if first == stmt.lineno else offset(first, 0)
        assert stmt.end_lineno is not None and stmt.end_col_offset is not None
        end = offset(stmt.end_lineno, stmt.end_col_offset)
        lines = data[start:end].count(b"\n")
        data = data[:start] + b"pass" + b"\n" * lines + data[end:]
    return data.decode()
