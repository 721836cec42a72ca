"""The export pipeline: plan the cells, protect secrets, lay out the package, write it."""

from __future__ import annotations

import ast
import json
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from . import _templates
from ._assets import Directory, referenced_directories
from ._cells import Cell, read_notebook
from ._errors import ExportError
from ._layout import layout
from ._plan import CellDecision, Plan, Stmt, import_version, make_plan
from ._requirements import requirements
from ._secrets import (
    REQUIRE_ENV,
    MovedSecret,
    credential_maps,
    generator_functions,
    protect,
    scrub_comments,
)
from ._state import per_worker_state


@dataclass(frozen=True)
class ExportResult:
    out_dir: Path
    files: tuple[str, ...]
    cells: tuple[CellDecision, ...]
    requirements: tuple[str, ...]
    env: tuple[str, ...]
    secrets: tuple[MovedSecret, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    state: tuple[str, ...] = ()  # what each worker would hold in its own memory
    workers: int = 2
    directories: tuple[str, ...] = ()  # copied next to app/ (static files, templates)
    websockets: bool = False  # the app serves WebSocket routes

    @property
    def exported(self) -> int:
        return sum(c.exported for c in self.cells)

    def summary(self) -> str:
        lines = [f"Exported {self.exported} of {len(self.cells)} code cells to {self.out_dir}/"]
        lines += [f"  {path}" for path in self.files]
        lines += [f"  {directory}/ (copied from the notebook's directory)" for directory in self.directories]
        for secret in self.secrets:
            if secret.generated:
                lines.append(
                    f"  {secret.env}: had a per-process generated default in {secret.cell}; "
                    "now required from the environment (see README.md)"
                )
            else:
                lines.append(f"  {secret.env}: a literal in {secret.cell}, now read from the environment")
        if self.state:
            lines.append(f"note: {_templates.state_warning(self._facts())}")
        lines += [f"warning: {w}" for w in self.warnings]
        lines.append(
            f"Run it: cd {self.out_dir} && pip install -r requirements.txt && "
            f"{_templates.gunicorn_cmd(self.workers)}"
        )
        return "\n".join(lines)

    def _facts(self) -> _templates.Facts:
        return _templates.Facts("", (), 0, 0, state=self.state, websockets=self.websockets)

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
    return _export(read_notebook(path), Path(out_dir), force, path.name, app_name, path.parent)


def export_cells(
    cells: Iterable[CellLike],
    out_dir: str | Path,
    force: bool = False,
    app_name: str = "app",
    base_dir: str | Path | None = None,
) -> ExportResult:
    """Export from cells in execution order: `Cell`s, `(source, tags)` pairs or sources.

    `base_dir`: where relative directories the app serves (static files, templates) are found;
    the current directory by default.
    """
    from ._cells import as_cells

    base = Path(base_dir) if base_dir is not None else Path.cwd()
    return _export(as_cells(cells), Path(out_dir), force, "", app_name, base)


def export_session(session: Any, out_dir: str | Path, force: bool = False) -> ExportResult:
    """`%api export DIR`: the cells this kernel has run, with what the session recorded of each
    run (cell id, whether it raised). Relative directories resolve against the kernel's cwd."""
    return _export(history_cells(session), Path(out_dir), force, "", session.app_name, Path.cwd())


# --- the kernel's history ----------------------------------------------------------------------


def history_cells(session: Any) -> list[Cell]:
    sources = session.shell.history_manager.input_hist_raw
    cells = []
    for count, source in enumerate(sources):
        if count == 0:
            continue
        cell_id, succeeded = session.cell_runs.get(count, (None, True))
        if cell_id is not None and cell_id in session.cells.deleted:
            continue  # deleted in the front end, or `%api forget`: not part of the notebook
        cells.append(Cell(source, label=f"In [{count}]", cell_id=cell_id, failed=not succeeded))
    return cells


# --- the export --------------------------------------------------------------------------------


def _export(
    cells: list[Cell], out_dir: Path, force: bool, source_name: str, app_name: str, base: Path
) -> ExportResult:
    _check_target(out_dir, force)
    plan = make_plan(cells, app_name)
    rewritten, constants, moved = _protect(plan)
    _drop_unused_generators(plan, rewritten)
    factories = _lazy_settings_factories([rewritten.get(s.index, s.node) for s in plan.statements])

    def render(stmt: Stmt) -> str:
        text = (
            ast.unparse(rewritten[stmt.index]) if stmt.index in rewritten else scrub_comments(source_of(stmt))
        )
        name = getattr(stmt.node, "name", None)
        if name in factories:
            text += f"\n\n\n{_SETTINGS_AT_STARTUP}\n{name}()"
        return text

    package = layout(plan, render, constants)
    directories, directory_warnings = referenced_directories(plan, base)
    modules, names = _imports(plan)
    pins = requirements(modules, names)
    env = _env_names(plan, rewritten, moved)
    code = [rewritten.get(s.index, s.node) for s in plan.statements]
    state = per_worker_state(code)
    workers = 1 if state else 2
    copied = [d.relative for d in directories]
    files = dict(package)
    files["requirements.txt"] = "\n".join(pins) + "\n"
    files["Dockerfile"] = _templates.dockerfile(workers, copied)
    files[".dockerignore"] = _templates.DOCKERIGNORE
    files["gunicorn.conf.py"] = _templates.gunicorn_conf(
        any(p.lower().startswith(("sqlalchemy", "sqlmodel")) for p in pins), workers
    )
    if env:
        files[".env.example"] = _templates.env_example(env)
    listing = sorted([*files, "README.md", *(f"{d}/" for d in copied)])
    facts = _templates.Facts(
        source=source_name,
        files=listing,
        exported=sum(c.exported for c in plan.cells),
        total=len(plan.cells),
        env=env,
        secrets=[(s.env, s.cell) for s in moved if not s.generated],
        generated=[(s.env, s.cell) for s in moved if s.generated],
        state=state,
        websockets=_has_websocket_routes(code),
        directories=copied,
    )
    files["README.md"] = _templates.readme(facts)
    _write(out_dir, files, force, directories)
    return ExportResult(
        out_dir=out_dir,
        files=tuple(sorted(files)),
        cells=tuple(plan.cells),
        requirements=tuple(pins),
        env=tuple(env),
        secrets=tuple(moved),
        warnings=tuple(plan.warnings + directory_warnings),
        state=tuple(state),
        workers=workers,
        directories=tuple(copied),
        websockets=facts.websockets,
    )


def _protect(plan: Plan) -> tuple[dict[int, ast.stmt], dict[int, list[str]], list[MovedSecret]]:
    """Secrets out of the kept statements: (rewritten statements, constants they read, moved)."""
    code = [s.node for s in plan.statements]
    maps = credential_maps(code)
    generators = generator_functions(code)
    taken = frozenset(name for s in plan.statements for name in s.names.binds)
    rewritten: dict[int, ast.stmt] = {}
    constants: dict[int, list[str]] = {}
    moved: list[MovedSecret] = []
    for stmt in plan.statements:
        if stmt.is_import:
            continue
        result = protect(stmt.node, stmt.cell.name, maps, taken, generators)
        if result.stmt is not None:
            rewritten[stmt.index] = result.stmt
        if result.constants:
            constants[stmt.index] = [c.line() for c in result.constants]
        moved += result.moved
    return rewritten, constants, _unique(moved)


_SETTINGS_AT_STARTUP = (
    "# Read the settings now: a missing one stops the app at startup, not at its first request."
)
_CACHES = frozenset({"lru_cache", "cache"})


def _lazy_settings_factories(code: Sequence[ast.stmt]) -> set[str]:
    """Cached functions that create settings with a required field (`@lru_cache def
    get_settings(): return Settings()`): the export calls each once at import."""
    required = {
        node.name
        for node in code
        if isinstance(node, ast.ClassDef)
        and any(ast.unparse(b).split(".")[-1] == "BaseSettings" for b in node.bases)
        and any(
            isinstance(item, ast.AnnAssign)
            and item.value is None
            and getattr(item.target, "id", "") != "model_config"
            for item in node.body
        )
    }
    factories = set()
    for node in code:
        if not isinstance(node, ast.FunctionDef) or node.args.args or node.args.kwonlyargs:
            continue
        cached = any(ast.unparse(d).split("(")[0].split(".")[-1] in _CACHES for d in node.decorator_list)
        returns = [n.value for n in ast.walk(node) if isinstance(n, ast.Return) and n.value is not None]
        if cached and any(
            isinstance(r, ast.Call) and isinstance(r.func, ast.Name) and r.func.id in required
            for r in returns
        ):
            factories.add(node.name)
    return factories


def _drop_unused_generators(plan: Plan, rewritten: dict[int, ast.stmt]) -> None:
    """A helper that only made a generated default the export removed is dead code: drop it.

    Only a plain function (no decorator) that other code read before the rewrite and no longer
    reads after it."""
    before = {s.index: s.node for s in plan.statements}
    after = {s.index: rewritten.get(s.index, s.node) for s in plan.statements}
    generators = generator_functions(before.values())

    def read_elsewhere(code: dict[int, ast.stmt], name: str, own: int) -> bool:
        return any(
            isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)
            for index, stmt in code.items()
            if index != own
            for node in ast.walk(stmt)
        )

    def dead(stmt: Stmt) -> bool:
        node = stmt.node
        return (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and not node.decorator_list
            and node.name in generators
            and read_elsewhere(before, node.name, stmt.index)
            and not read_elsewhere(after, node.name, stmt.index)
        )

    plan.statements = [s for s in plan.statements if not dead(s)]


def _has_websocket_routes(code: Sequence[ast.stmt]) -> bool:
    for stmt in code:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Attribute) and node.attr in (
                "websocket",
                "websocket_route",
                "add_api_websocket_route",
                "add_websocket_route",
            ):
                return True
    return False


def _unique(moved: list[MovedSecret]) -> list[MovedSecret]:
    seen: dict[str, MovedSecret] = {}
    for secret in moved:
        other = seen.setdefault(secret.env, secret)
        if other.value != secret.value and not (other.generated or secret.generated):
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
    module = stmt.cell.module
    assert module is not None  # statements come only from cells that parsed
    siblings = [n for n in module.body if n is not node]
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
    """Top-level modules and imported names the exported code needs, with the imports made
    inside function bodies (a route's `import jwt` runs on its first request)."""
    modules: set[str] = set()
    names: set[str] = set()
    for stmt in plan.statements:
        node = stmt.node
        if isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*" and import_version(node, alias) not in plan.needed:
                    continue
                _add_import(node, alias, modules, names)
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import | ast.ImportFrom):
                for alias in inner.names:
                    _add_import(inner, alias, modules, names)
    return modules, names


def _add_import(
    node: ast.Import | ast.ImportFrom, alias: ast.alias, modules: set[str], names: set[str]
) -> None:
    if isinstance(node, ast.Import):
        modules.add(alias.name.split(".")[0])
    elif node.level == 0 and node.module:
        modules.add(node.module.split(".")[0])
        names.add(alias.name)


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
        if func in ("os.getenv", "getenv", "os.environ.get", "environ.get", REQUIRE_ENV):
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


def _write(out_dir: Path, files: dict[str, str], force: bool, directories: Sequence[Directory]) -> None:
    """Write the files and copy the directories; with `force`, remove what an earlier export
    wrote and this one does not (the manifest says which). Nothing else is ever deleted."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        previous = _read_manifest(out_dir) if force else []
        written: list[str] = []
        for relative, text in files.items():
            path = out_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(relative)
        for directory in directories:
            written += _copy_directory(directory, out_dir)
        _remove_stale(out_dir, [p for p in previous if p not in set(written)])
        manifest = {"generator": "kernel_ext export", "files": sorted(written)}
        (out_dir / _templates.MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ExportError(f"can't write to {out_dir}: {exc.strerror or exc}") from None


_NOT_COPIED = ("__pycache__", ".ipynb_checkpoints", ".env", ".env.*", "*.pyc")


def _copy_directory(directory: Directory, out_dir: Path) -> list[str]:
    """Copy the files of `directory` (not .env files or caches); their paths in `out_dir`."""
    written = []
    for source in sorted(directory.source.rglob("*")):
        relative = source.relative_to(directory.source)
        if not source.is_file() or any(fnmatch(part, p) for part in relative.parts for p in _NOT_COPIED):
            continue
        target = out_dir / directory.relative / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        written.append(target.relative_to(out_dir).as_posix())
    return written


def _read_manifest(out_dir: Path) -> list[str]:
    """The files an earlier export wrote into `out_dir`, if it left a readable manifest."""
    try:
        data = json.loads((out_dir / _templates.MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    listed = data.get("files") if isinstance(data, dict) else None
    if not isinstance(listed, list):
        return []
    root = out_dir.resolve()
    safe = []
    for item in listed:
        if not isinstance(item, str) or not item or Path(item).is_absolute() or ".." in Path(item).parts:
            continue
        if (out_dir / item).resolve().is_relative_to(root):
            safe.append(item)
    return safe


def _remove_stale(out_dir: Path, stale: list[str]) -> None:
    for relative in stale:
        path = out_dir / relative
        if path.is_file() or path.is_symlink():
            path.unlink()
        parent = path.parent
        while parent != out_dir and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
