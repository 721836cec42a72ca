"""Export a notebook's app as a deployable package: `app/`, requirements, Dockerfile, README.

    export_notebook("api.ipynb", "out/")                   # python -m kernel_ext export
    export_cells([(source, tags), ...], "out/")            # cells in execution order
    export_session(session, "out/")                        # %api export, from the kernel's history

The rules (what is exported, what is not, overrides) are in docs/export.md.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _templates
from ._cells import Cell, read_notebook
from ._errors import ExportError
from ._layout import layout
from ._plan import CellDecision, Plan, Stmt, import_version, make_plan
from ._requirements import requirements
from ._secrets import MovedSecret, protect

__all__ = [
    "Cell",
    "CellDecision",
    "ExportError",
    "ExportResult",
    "export_cells",
    "export_notebook",
    "export_session",
]


@dataclass(frozen=True)
class ExportResult:
    out_dir: Path
    files: tuple[str, ...]
    cells: tuple[CellDecision, ...]
    requirements: tuple[str, ...]
    env: tuple[str, ...]
    secrets: tuple[MovedSecret, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def exported(self) -> int:
        return sum(c.exported for c in self.cells)

    def summary(self) -> str:
        lines = [f"Exported {self.exported} of {len(self.cells)} code cells to {self.out_dir}/"]
        lines += [f"  {path}" for path in self.files]
        for secret in self.secrets:
            lines.append(f"  {secret.env}: a literal in {secret.cell}, now read from the environment")
        lines += [f"warning: {w}" for w in self.warnings]
        lines.append(
            f"Run it: cd {self.out_dir} && pip install -r requirements.txt && {_templates.GUNICORN_CMD}"
        )
        return "\n".join(lines)

    def skipped(self) -> list[str]:
        return [f"{c.label} (`{c.first_line}`): {c.reason}" for c in self.cells if not c.exported]

    def __str__(self) -> str:
        return self.summary()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.summary())


CellLike = Cell | tuple[str, Sequence[str]] | str


def export_notebook(
    notebook_path: str | Path, out_dir: str | Path, force: bool = False, app_name: str = "app"
) -> ExportResult:
    """Export the app an .ipynb file builds (its code cells in order) into `out_dir`."""
    path = Path(notebook_path)
    return _export(read_notebook(path), Path(out_dir), force, path.name, app_name)


def export_cells(
    cells: Iterable[CellLike], out_dir: str | Path, force: bool = False, app_name: str = "app"
) -> ExportResult:
    """Export from cells in execution order: `Cell`s, `(source, tags)` pairs or sources."""
    from ._cells import as_cells

    return _export(as_cells(cells), Path(out_dir), force, "", app_name)


def export_session(session: Any, out_dir: str | Path, force: bool = False) -> ExportResult:
    """`%api export DIR`: the cells this kernel has run, with what the session recorded of each
    run (cell id, whether it raised)."""
    return _export(history_cells(session), Path(out_dir), force, "", session.app_name)


# --- the kernel's history ----------------------------------------------------------------------


def history_cells(session: Any) -> list[Cell]:
    sources = session.shell.history_manager.input_hist_raw
    cells = []
    for count, source in enumerate(sources):
        if count == 0:
            continue
        cell_id, succeeded = session.cell_runs.get(count, (None, True))
        cells.append(Cell(source, label=f"In [{count}]", cell_id=cell_id, failed=not succeeded))
    return cells


# --- the export --------------------------------------------------------------------------------


def _export(cells: list[Cell], out_dir: Path, force: bool, source_name: str, app_name: str) -> ExportResult:
    _check_target(out_dir, force)
    plan = make_plan(cells, app_name)
    rewritten: dict[int, ast.stmt] = {}
    moved: list[MovedSecret] = []
    for stmt in plan.statements:
        if not stmt.is_import:
            new, secrets = protect(stmt.node, stmt.cell.name)
            if new is not None:
                rewritten[stmt.index] = new
            moved += secrets
    moved = _unique(moved)
    needs_os = {index for index, _ in rewritten.items()}

    def render(stmt: Stmt) -> str:
        if stmt.index in rewritten:
            return ast.unparse(rewritten[stmt.index])
        return source_of(stmt)

    package = layout(plan, render, needs_os)
    modules, names = _imports(plan)
    pins = requirements(modules, names)
    env = _env_names(plan, rewritten, moved)
    files = dict(package)
    files["requirements.txt"] = "\n".join(pins) + "\n"
    files["Dockerfile"] = _templates.DOCKERFILE
    files[".dockerignore"] = _templates.DOCKERIGNORE
    files["gunicorn.conf.py"] = _templates.gunicorn_conf(
        any(p.lower().startswith(("sqlalchemy", "sqlmodel")) for p in pins)
    )
    if env:
        files[".env.example"] = _templates.env_example(env)
    listing = sorted([*files, "README.md"])
    exported = sum(c.exported for c in plan.cells)
    files["README.md"] = _templates.readme(
        source_name, listing, env, [(s.env, s.cell) for s in moved], exported, len(plan.cells)
    )
    _write(out_dir, files, force)
    return ExportResult(
        out_dir=out_dir,
        files=tuple(sorted(files)),
        cells=tuple(plan.cells),
        requirements=tuple(pins),
        env=tuple(env),
        secrets=tuple(moved),
        warnings=tuple(plan.warnings),
    )


def _unique(moved: list[MovedSecret]) -> list[MovedSecret]:
    seen: dict[str, MovedSecret] = {}
    for secret in moved:
        other = seen.setdefault(secret.env, secret)
        if other.value != secret.value:
            raise ExportError(
                f"{secret.cell} and {other.cell} hold different secrets that would both be read "
                f"from {secret.env}; give them distinct names read from the environment."
            )
    return list(seen.values())


def source_of(stmt: Stmt) -> str:
    """The statement as written in its cell, with the comment lines right above it."""
    node = stmt.node
    lines = stmt.cell.code.splitlines()
    decorators = getattr(node, "decorator_list", [])
    start = min([d.lineno for d in decorators] + [node.lineno])
    end = node.end_lineno or node.lineno
    siblings = [n for n in stmt.cell.module.body if n is not node]  # type: ignore[union-attr]
    shares_line = node.col_offset != 0 or any(
        (n.end_lineno or n.lineno) >= start and n.lineno <= end for n in siblings
    )
    if shares_line:
        return ast.unparse(node)
    first = start - 1
    while first > 0 and lines[first - 1].lstrip().startswith("#"):
        if "kernel_ext:" in lines[first - 1].replace(" ", ""):
            break
        first -= 1
    return "\n".join(lines[first:end])


def _imports(plan: Plan) -> tuple[set[str], set[str]]:
    modules: set[str] = set()
    names: set[str] = set()
    for stmt in plan.statements:
        node = stmt.node
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        for alias in node.names:
            if alias.name != "*" and import_version(node, alias) not in plan.needed:
                continue
            if isinstance(node, ast.Import):
                modules.add(alias.name.split(".")[0])
            elif node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
                names.add(alias.name)
    return modules, names


def _env_names(plan: Plan, rewritten: dict[int, ast.stmt], moved: list[MovedSecret]) -> list[str]:
    found: list[str] = []
    for stmt in plan.statements:
        node = rewritten.get(stmt.index, stmt.node)
        for child in ast.walk(node):
            found += _env_reads(child)
            if isinstance(child, ast.ClassDef) and any(
                ast.unparse(b).split(".")[-1] == "BaseSettings" for b in child.bases
            ):
                found += [
                    item.target.id.upper()
                    for item in child.body
                    if isinstance(item, ast.AnnAssign)
                    and isinstance(item.target, ast.Name)
                    and item.target.id != "model_config"
                ]
    found += [s.env for s in moved]
    return list(dict.fromkeys(found))


def _env_reads(node: ast.AST) -> list[str]:
    key: ast.expr | None = None
    if isinstance(node, ast.Call) and node.args:
        func = ast.unparse(node.func)
        if func in ("os.getenv", "getenv", "os.environ.get", "environ.get"):
            key = node.args[0]
    elif isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("os.environ", "environ"):
        key = node.slice
    if isinstance(key, ast.Constant) and isinstance(key.value, str):
        return [key.value]
    return []


def _check_target(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir} exists and is not a directory.")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise ExportError(f"{out_dir} is not empty; pass --force (force=True) to overwrite it.")


def _write(out_dir: Path, files: dict[str, str], force: bool) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if force and (out_dir / "app").is_dir():
            shutil.rmtree(out_dir / "app")  # no stale modules from an earlier export
        for relative, text in files.items():
            path = out_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ExportError(f"can't write to {out_dir}: {exc.strerror or exc}") from None
