"""Directories the app serves files from (`StaticFiles`, `Jinja2Templates`): copied along.

`StaticFiles(directory="static")` and `Jinja2Templates(directory="templates")` resolve against
the working directory, which is the package root (next to `app/`) under gunicorn and in the
image. So a directory that exists relative to the notebook is copied to the same relative
place; one that does not exist makes the export fail, naming the cell.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ._errors import ExportError
from ._plan import Plan

_USERS = {"StaticFiles": "serves files", "Jinja2Templates": "loads templates"}


@dataclass(frozen=True)
class Directory:
    relative: str  # as the code names it, e.g. "static"
    source: Path  # where it is next to the notebook


def referenced_directories(plan: Plan, base: Path) -> tuple[list[Directory], list[str]]:
    """(directories to copy, warnings) for the exported code's StaticFiles and templates."""
    found: dict[str, Directory] = {}
    warnings: list[str] = []
    for stmt in plan.statements:
        for node in ast.walk(stmt.node):
            user = _user(node)
            if user is None:
                continue
            assert isinstance(node, ast.Call)
            for expr in _directory_args(node):
                text = _literal_path(expr)
                where = stmt.cell.name
                if text is None:
                    warnings.append(
                        f"{where}: the export can't tell which directory {user}(directory="
                        f"{ast.unparse(expr)}) serves; copy it next to app/ yourself."
                    )
                    continue
                directory = _check(text, base, where, user, _checks_dir(node))
                if directory is not None:
                    found.setdefault(directory.relative, directory)
    return list(found.values()), warnings


def _user(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        name = ast.unparse(node.func).split(".")[-1]
        return name if name in _USERS else None
    return None


def _directory_args(call: ast.Call) -> list[ast.expr]:
    value = next((k.value for k in call.keywords if k.arg == "directory"), None)
    if value is None and call.args:
        value = call.args[0]
    if value is None or (isinstance(value, ast.Constant) and value.value is None):
        return []
    if isinstance(value, ast.List | ast.Tuple):  # Jinja2Templates(directory=[...])
        return list(value.elts)
    return [value]


def _checks_dir(call: ast.Call) -> bool:
    flag = next((k.value for k in call.keywords if k.arg == "check_dir"), None)
    return not (isinstance(flag, ast.Constant) and flag.value is False)


def _literal_path(expr: ast.expr) -> str | None:
    """`"static"`, `Path("static")`, `pathlib.Path("a") / "b"` as text; None otherwise."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value
    if isinstance(expr, ast.Call) and ast.unparse(expr.func) in ("Path", "pathlib.Path", "PurePath"):
        parts = [_literal_path(a) for a in expr.args]
        texts = [part for part in parts if part is not None]
        return str(PurePosixPath(*texts)) if texts and len(texts) == len(parts) else None
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Div):
        left, right = _literal_path(expr.left), _literal_path(expr.right)
        return str(PurePosixPath(left, right)) if left is not None and right is not None else None
    return None


def _check(text: str, base: Path, where: str, user: str, must_exist: bool) -> Directory | None:
    path = PurePosixPath(text)
    if path.is_absolute():
        raise ExportError(
            f"{where}: {user} {_USERS[user]} from the absolute directory {text}, which a deployment won't "
            "have; use a directory relative to the notebook (it is copied into the export)."
        )
    relative = PurePosixPath(*[p for p in path.parts if p != "."])
    if ".." in relative.parts or not relative.parts:
        raise ExportError(
            f"{where}: {user} {_USERS[user]} from {text}, outside the notebook's directory; "
            "move it next to the notebook (it is copied into the export)."
        )
    source = base / Path(*relative.parts)
    if source.is_dir():
        return Directory(str(relative), source)
    if not must_exist:
        return None
    raise ExportError(
        f"{where}: {user} {_USERS[user]} from the directory {text!r}, which does not exist next to the "
        f"notebook ({source}); the exported app would fail at import. Create it, or fix the path."
    )
