"""From executed cells to the statements the exported app needs, in an order that runs.

1. Parse cells; drop skipped ones and IPython-only statements.
2. Drop probes (asserts, requests to the live server, displays) and what only they use; in a
   cell that tries the live app, also whatever is not a definition (`release.set()`).
3. Collapse redefinitions: the latest version of each route, model or function wins, at the
   place of the first one.
4. Keep what `app` needs: every definition it reads, every statement that changes an object it
   reads (`@app.get`, `app.include_router(...)`, `db["k"] = v`), and top-level calls of
   notebook functions that return nothing (`init_db()`).
5. Order: by place, but never before what a statement reads while it runs.
"""

from __future__ import annotations

import ast
import builtins
import heapq
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._cells import Cell, ParsedCell, parse_cells
from ._collapse import definition_name, registration_keys, supersede
from ._errors import ExportError
from ._names import Names, analyse
from ._probes import (
    IPYTHON_NAMES,
    is_procedure,
    mentions_env_file,
    probe_names_of_import,
    probe_reason,
    tries_the_app,
    writes_env_file,
)

Version = Any  # the statement index that bound a name, or ("import", name, origin)
_MODULE_NAMES = frozenset(
    {
        "__name__",
        "__file__",
        "__doc__",
        "__spec__",
        "__package__",
        "__loader__",
        "__builtins__",
        "__annotations__",
        "__dict__",
    }
)
_BUILTINS = frozenset(dir(builtins))


@dataclass(eq=False)
class Stmt:
    cell: ParsedCell
    node: ast.stmt
    index: int
    position: tuple[int, int]
    names: Names
    forced: bool
    probe: str | None = None
    replaced_by: int | None = None
    root: bool = False
    versions: dict[str, Version] = field(default_factory=dict)  # what each bound name becomes
    uses: dict[str, Version | None] = field(default_factory=dict)  # what each read name is
    eager_deps: set[Version] = field(default_factory=set)
    lazy_deps: set[Version] = field(default_factory=set)
    hoisted: bool = False  # an import that can move to the top of its module

    @property
    def is_import(self) -> bool:
        return isinstance(self.node, ast.Import | ast.ImportFrom)


@dataclass(frozen=True)
class CellDecision:
    label: str
    first_line: str
    exported: bool
    reason: str


@dataclass
class Plan:
    statements: list[Stmt]  # kept, in run order
    needed: set[Version]
    binders: dict[Version, list[Stmt]]
    cells: list[CellDecision]
    warnings: list[str]
    app_name: str
    has_star_import: bool = False

    def alias_needed(self, stmt: Stmt, alias: ast.alias) -> bool:
        node = stmt.node
        return isinstance(node, ast.Import | ast.ImportFrom) and import_version(node, alias) in self.needed


def import_version(node: ast.Import | ast.ImportFrom, alias: ast.alias) -> Version:
    if isinstance(node, ast.Import):
        bound = alias.asname or alias.name.split(".")[0]
        origin = alias.name if alias.asname else alias.name.split(".")[0]
    else:
        bound = alias.asname or alias.name
        origin = f"{'.' * node.level}{node.module or ''}:{alias.name}"
    return ("import", bound, origin)


def make_plan(cells: Sequence[Cell], app_name: str = "app") -> Plan:
    parsed = _latest_runs(parse_cells(cells))
    statements = _statements(parsed)
    _mark_probes(statements)
    candidates = [s for s in statements if s.probe is None]
    _collapse(candidates)
    survivors = sorted((s for s in candidates if s.replaced_by is None), key=lambda s: s.position)
    binders, final = _versions(survivors)
    app_version = final.get(app_name)
    if app_version is None:
        raise ExportError(_no_app_message(app_name, statements, parsed))
    needed, kept = _slice(survivors, binders, app_version)
    warnings = _check_names(kept, statements, parsed, app_name)
    _mark_hoisted(kept, needed)
    ordered = _order(kept, binders)
    return Plan(
        statements=ordered,
        needed=needed,
        binders=binders,
        cells=_decisions(parsed, statements, set(map(id, kept))),
        warnings=warnings,
        app_name=app_name,
        has_star_import=_has_star(kept),
    )


# --- 1. cells and statements ------------------------------------------------------------------


def _latest_runs(parsed: list[ParsedCell]) -> list[ParsedCell]:
    """A cell run again (same cell id) counts once: its latest successful run, at its first place."""
    first: dict[str, int] = {}
    latest: dict[str, int] = {}
    for index, cell in enumerate(parsed):
        cell_id = cell.cell.cell_id
        if cell_id is None or cell.module is None:
            continue
        first.setdefault(cell_id, cell.number)
        latest[cell_id] = index
    result = []
    for index, cell in enumerate(parsed):
        cell_id = cell.cell.cell_id
        if cell_id is not None and cell_id in latest and latest[cell_id] != index:
            if cell.module is not None:
                cell = ParsedCell(
                    cell.cell,
                    cell.number,
                    "",
                    None,
                    cell.override,
                    "run again later: the latest run is exported",
                )
        elif cell_id is not None and cell_id in first:
            cell = ParsedCell(cell.cell, first[cell_id], cell.code, cell.module, cell.override)
        result.append(cell)
    return result


def _statements(parsed: list[ParsedCell]) -> list[Stmt]:
    statements: list[Stmt] = []
    for cell in sorted(parsed, key=lambda c: c.number):
        if cell.module is None:
            continue
        for offset, node in enumerate(cell.module.body):
            statements.append(
                Stmt(
                    cell,
                    node,
                    len(statements),
                    (cell.number, offset),
                    analyse(node),
                    forced=cell.override == "export",
                )
            )
    return statements


# --- 2. probes ---------------------------------------------------------------------------------


def _mark_probes(statements: list[Stmt]) -> None:
    """Probes, statement by statement; then the rest of each cell that tries the live app, except
    definitions (imports, functions, classes, `name = value`, routes and other registrations on
    an app or router) that the app may need."""
    trying = _mark_probe_statements(statements)
    for stmt in statements:
        if id(stmt.cell) in trying and stmt.probe is None and not _defines(stmt):
            stmt.probe = f"the cell also {trying[id(stmt.cell)]}"


def _defines(stmt: Stmt) -> bool:
    node = stmt.node
    if registration_keys(node, lambda name: None):
        return True
    if stmt.names.mutates:
        return False
    if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return True
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return all(isinstance(t, ast.Name) for t in targets)
    return False


def _mark_probe_statements(statements: list[Stmt]) -> dict[int, str]:
    """Mark each probe statement; return the cells (by id) that try the app, with what they do."""
    trying: dict[int, str] = {}
    tainted: set[str] = set()
    procedures: dict[str, bool] = {}
    env_paths: set[str] = set()
    for stmt in statements:
        tries = None if stmt.forced else tries_the_app(stmt.node, stmt.names, tainted)
        if tries is not None:
            trying.setdefault(id(stmt.cell), tries)
        reason = None if stmt.forced else probe_reason(stmt.node, stmt.names, tainted, procedures)
        if reason is None and not stmt.forced and writes_env_file(stmt.node, env_paths):
            reason = "it writes a .env file (the deployment provides configuration)"
        if isinstance(stmt.node, ast.Assign) and mentions_env_file(stmt.node.value):
            env_paths |= stmt.names.binds
        if reason is not None:
            stmt.probe = reason
            tainted |= stmt.names.binds
            for name in stmt.names.binds:
                procedures.pop(name, None)
            continue
        if isinstance(stmt.node, ast.Import | ast.ImportFrom):
            imported = probe_names_of_import(stmt.node)
            tainted = (tainted - stmt.names.binds) | imported
        else:
            tainted -= stmt.names.binds
        for name in stmt.names.binds:
            procedures.pop(name, None)
        if isinstance(stmt.node, ast.FunctionDef | ast.AsyncFunctionDef):
            procedures[stmt.node.name] = is_procedure(stmt.node)
        if isinstance(stmt.node, ast.Expr) and isinstance(stmt.node.value, ast.Call):
            func = stmt.node.value.func
            if isinstance(func, ast.Name) and procedures.get(func.id):
                stmt.root = True
        if stmt.forced:
            stmt.root = True
    return trying


# --- 3. collapse -------------------------------------------------------------------------------


def _collapse(candidates: list[Stmt]) -> None:
    live: dict[str, Version] = {}
    keys = []
    names = []
    for stmt in candidates:
        stmt_keys = registration_keys(stmt.node, lambda name: live.get(name))
        keys.append(stmt_keys)
        names.append(None if stmt_keys or stmt.forced else definition_name(stmt.node))
        for name in stmt.names.binds:
            live[name] = stmt.index
    replaced = supersede(keys, names)
    for stmt, by in zip(candidates, replaced, strict=True):
        if by is not None:
            stmt.replaced_by = candidates[by].index
    # The survivor takes the place of the first definition it replaces.
    by_index = {s.index: s for s in candidates}
    for stmt in candidates:
        if stmt.replaced_by is not None:
            survivor = by_index[stmt.replaced_by]
            survivor.position = min(survivor.position, stmt.position)


# --- 4. versions and the slice -----------------------------------------------------------------


def _versions(survivors: list[Stmt]) -> tuple[dict[Version, list[Stmt]], dict[str, Version]]:
    live: dict[str, Version] = {}
    first: dict[str, Version] = {}
    binders: dict[Version, list[Stmt]] = defaultdict(list)
    pending: list[tuple[Stmt, str]] = []
    for stmt in survivors:
        for name in stmt.names.eager | stmt.names.mutates:
            stmt.uses[name] = live.get(name)
            if name in live:
                stmt.eager_deps.add(live[name])
            else:
                pending.append((stmt, name))
        if stmt.names.conditional:  # it may leave the previous value in place
            for name in stmt.names.binds:
                if name in live:
                    stmt.eager_deps.add(live[name])
        for name in stmt.names.binds:
            version = _bound_version(stmt, name)
            stmt.versions[name] = version
            binders[version].append(stmt)
            live[name] = version
            first.setdefault(name, version)
    for stmt, name in pending:  # read before any binding: a survivor moved up past its inputs
        if name in first:
            stmt.uses[name] = first[name]
            stmt.eager_deps.add(first[name])
    for stmt in survivors:
        for name in stmt.names.lazy:
            if name in live:
                stmt.lazy_deps.add(live[name])
            stmt.uses.setdefault(name, live.get(name))
    return binders, live


def _bound_version(stmt: Stmt, name: str) -> Version:
    if isinstance(stmt.node, ast.Import | ast.ImportFrom):
        for alias in stmt.node.names:
            version = import_version(stmt.node, alias)
            if version[1] == name:
                return version
    return stmt.index


def _slice(
    survivors: list[Stmt], binders: dict[Version, list[Stmt]], app_version: Version
) -> tuple[set[Version], list[Stmt]]:
    mutators: dict[Version, list[Stmt]] = defaultdict(list)
    for stmt in survivors:
        for name in stmt.names.mutates:
            version = stmt.uses.get(name)
            if version is not None:
                mutators[version].append(stmt)
    needed: set[Version] = set()
    kept: dict[int, Stmt] = {}
    work: list[Stmt] = [s for s in survivors if s.root]
    todo_versions: list[Version] = [app_version]
    while work or todo_versions:
        while todo_versions:
            version = todo_versions.pop()
            if version in needed:
                continue
            needed.add(version)
            binder_list = binders.get(version, [])
            work += binder_list[:1] if _is_import_version(version) else binder_list
            work += mutators.get(version, [])
        while work:
            stmt = work.pop()
            if stmt.index in kept:
                continue
            kept[stmt.index] = stmt
            todo_versions += [v for v in stmt.uses.values() if v is not None]
            todo_versions += list(stmt.eager_deps | stmt.lazy_deps)
    return needed, [s for s in survivors if s.index in kept]


def _mark_hoisted(kept: list[Stmt], needed: set[Version]) -> None:
    """Imports move to the top unless their name is also bound otherwise (then order matters)."""
    versions_of: dict[str, set[Version]] = defaultdict(set)
    for stmt in kept:
        for name, version in stmt.versions.items():
            if version in needed or not stmt.is_import:
                versions_of[name].add(version)
    for stmt in kept:
        if stmt.is_import:
            stmt.hoisted = all(
                len(versions_of[name]) == 1 for name, version in stmt.versions.items() if version in needed
            )


def _is_import_version(version: Version) -> bool:
    return isinstance(version, tuple) and version[0] == "import"


# --- checks ------------------------------------------------------------------------------------


def _check_names(
    kept: list[Stmt], statements: list[Stmt], parsed: list[ParsedCell], app_name: str
) -> list[str]:
    star = _has_star(kept)
    dropped = _dropped_bindings(statements, parsed)
    warnings: list[str] = []
    for stmt in kept:
        for name, version in sorted(stmt.uses.items()):
            if version is not None or name in _BUILTINS or name in _MODULE_NAMES:
                continue
            eager = name in stmt.names.eager or name in stmt.names.mutates
            where = stmt.cell.name
            if name in IPYTHON_NAMES and name not in dropped:
                raise ExportError(
                    f"{where} uses `{name}`, which exists only inside IPython; "
                    "the exported app runs without it. Move that line to a separate cell."
                )
            if name in dropped:
                raise ExportError(
                    f"{where} uses `{name}`, which is defined only in {dropped[name]}. "
                    "Mark that cell `# kernel_ext: export`, or move the definition into an "
                    "exported cell."
                )
            if star:
                continue
            if eager:
                raise ExportError(f"{where} uses `{name}`, which no cell defines.")
            warnings.append(f"{where} uses `{name}`, which no cell defines (a NameError when run).")
    return warnings


def _dropped_bindings(statements: list[Stmt], parsed: list[ParsedCell]) -> dict[str, str]:
    found: dict[str, str] = {}
    for stmt in statements:
        if stmt.probe is not None:
            for name in stmt.names.binds:
                found.setdefault(name, f"{stmt.cell.name}, which is a probe ({stmt.probe})")
    for cell in parsed:
        if cell.module is not None or cell.skip_reason is None:
            continue
        for name in _names_bound_by(cell.cell.source):
            found.setdefault(name, f"{cell.name}, which is skipped ({cell.skip_reason})")
    return found


def _names_bound_by(source: str) -> set[str]:
    from ._cells import to_python

    code = to_python(source)
    try:
        module = compile(
            code, "<cell>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
        )
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in module.body:
        try:
            names |= analyse(node).binds
        except SyntaxError:
            continue
    return names


def _has_star(kept: list[Stmt]) -> bool:
    return any(isinstance(s.node, ast.ImportFrom) and any(a.name == "*" for a in s.node.names) for s in kept)


def _no_app_message(app_name: str, statements: list[Stmt], parsed: list[ParsedCell]) -> str:
    dropped = _dropped_bindings(statements, parsed)
    if app_name in dropped:
        return f"`{app_name}` is defined only in {dropped[app_name]}; mark that cell `# kernel_ext: export`."
    return f"no cell defines `{app_name}`: there is no app to export."


# --- 5. order ----------------------------------------------------------------------------------


def _order(kept: list[Stmt], binders: dict[Version, list[Stmt]]) -> list[Stmt]:
    """Stable topological order: by place, after what each statement reads while it runs."""
    by_index = {s.index: s for s in kept}
    after: dict[int, set[int]] = {s.index: set() for s in kept}
    for stmt in kept:
        for version in stmt.eager_deps:
            for binder in binders.get(version, []):
                if binder.index in by_index and binder is not stmt and not binder.hoisted:
                    after[stmt.index].add(binder.index)
    # A statement that reads one version of a name runs before the next binding of that name.
    bound_at: dict[str, list[Stmt]] = defaultdict(list)
    for stmt in kept:
        for name in stmt.names.binds:
            bound_at[name].append(stmt)
    for stmt in kept:
        for name, version in stmt.uses.items():
            if version is None or name not in stmt.names.eager | stmt.names.mutates:
                continue
            for other in bound_at.get(name, []):
                if (
                    other is not stmt
                    and other.versions.get(name) != version
                    and other.position > stmt.position
                    and not other.is_import
                ):
                    after[other.index].add(stmt.index)
    waiting = {i: len(deps) for i, deps in after.items()}
    users: dict[int, list[int]] = defaultdict(list)
    for i, deps in after.items():
        for d in deps:
            users[d].append(i)
    ready = [(by_index[i].position, i) for i, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    ordered: list[Stmt] = []
    while ready:
        _, i = heapq.heappop(ready)
        ordered.append(by_index[i])
        for user in users[i]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, (by_index[user].position, user))
    if len(ordered) != len(kept):
        stuck = sorted((by_index[i] for i, n in waiting.items() if n > 0), key=lambda s: s.position)
        names = ", ".join(s.cell.name for s in stuck[:3])
        raise ExportError(f"can't find an order in which these cells run: {names}.")
    return ordered


# --- report ------------------------------------------------------------------------------------


def _decisions(parsed: list[ParsedCell], statements: list[Stmt], kept: set[int]) -> list[CellDecision]:
    by_cell: dict[int, list[Stmt]] = defaultdict(list)
    rebound: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for stmt in statements:
        by_cell[id(stmt.cell)].append(stmt)
        if id(stmt) in kept:
            for name in stmt.names.binds:
                rebound[name].append(stmt.position)
    decisions = []
    for cell in parsed:
        stmts = by_cell.get(id(cell), [])
        exported = any(id(s) in kept for s in stmts)
        if exported:
            reason = "exported"
        elif cell.skip_reason is not None:
            reason = cell.skip_reason
        else:
            reason = _why_dropped(stmts, rebound)
        decisions.append(CellDecision(cell.cell.label, cell.first_line, exported, reason))
    return decisions


def _why_dropped(stmts: list[Stmt], rebound: dict[str, list[tuple[int, int]]]) -> str:
    probes = [s.probe for s in stmts if s.probe]
    if probes:
        return f"a probe: {probes[0]}"

    def replaced(stmt: Stmt) -> bool:
        names = stmt.names.mutates or stmt.names.binds
        later = all(any(p > stmt.position for p in rebound.get(n, ())) for n in names)
        return stmt.replaced_by is not None or (bool(names) and later)

    code = [s for s in stmts if not s.is_import]
    if code and all(replaced(s) for s in code):
        return "replaced by a later definition"
    return "nothing in it is used by the app"
