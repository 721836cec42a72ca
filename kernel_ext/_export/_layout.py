"""Kept statements -> the `app` package: main.py, config.py, database.py, models/,
dependencies.py and routers/, where the code makes that natural; one main.py otherwise.

Each statement gets a module by what it is (a settings class, an engine, a model, a
dependency, a router and its routes, the app). Helpers follow their first user down to the
lowest module that needs them, and anything that reads a higher module moves up to it, so
modules import only from lower ones. If the split would still need a cycle or a name bound
in two modules, everything goes into main.py in run order, which is always correct.
"""

from __future__ import annotations

import ast
import keyword
import re
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from ._plan import Plan, Stmt, Version, import_version
from ._secrets import REQUIRE_ENV
from ._templates import ENV_MODULE

_RANKS = {"config": 0, "database": 1, "models": 2, "dependencies": 3, "routers": 4, "main": 5}
_DOCS = {
    "config": "Settings, read from the environment.",
    "database": "The database engine, sessions and declarative base.",
    "models": "Models.",
    "dependencies": "Dependencies and security schemes shared by the routes.",
    "routers": "A router and its routes.",
    "main": "The FastAPI app.",
}
_DB_FACTORIES = frozenset(
    {
        "create_engine",
        "create_async_engine",
        "sessionmaker",
        "async_sessionmaker",
        "declarative_base",
        "scoped_session",
        "MetaData",
        "Database",
    }
)
_DB_BASES = frozenset({"DeclarativeBase", "DeclarativeBaseNoMeta", "AsyncAttrs"})
_MODEL_BASES = frozenset(
    {
        "pydantic.BaseModel",
        "pydantic.RootModel",
        "sqlmodel.SQLModel",
        "enum.Enum",
        "enum.IntEnum",
        "enum.StrEnum",
        "enum.Flag",
        "enum.IntFlag",
        "typing.TypedDict",
        "typing_extensions.TypedDict",
    }
)
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
Render = Callable[[Stmt], str]


@dataclass
class Unit:
    stmt: Stmt
    module: str | None = None
    anchored: bool = False


def layout(plan: Plan, render: Render, constants: dict[int, list[str]] | None = None) -> dict[str, str]:
    """Relative path -> source, for the files of the `app` package.

    `constants`: lines a statement needs above it at module level (`X = require_env("X")`),
    by statement index; each module defines them once, after its imports.
    """
    units = [Unit(s) for s in plan.statements if not s.hoisted]
    if not _assign(plan, units):
        for unit in units:
            unit.module = "main"
    return _render(plan, units, render, constants or {})


# --- which module -------------------------------------------------------------------------------


def _assign(plan: Plan, units: list[Unit]) -> bool:
    """Give each unit a module; False when the split is not clean (then: one main.py)."""
    by_stmt = {id(u.stmt): u for u in units}
    deps = {id(u): _deps(plan, u.stmt, by_stmt) for u in units}
    users: dict[int, list[Unit]] = defaultdict(list)
    for unit in units:
        for dep in deps[id(unit)]:
            users[id(dep)].append(unit)
    resolve = _Resolver(plan, by_stmt)
    names = _Namer()
    depended = _depended_on(units)
    for unit in units:
        unit.module = _anchor(unit.stmt, resolve, names, plan.app_name)
        if unit.module is None and _is_definition(unit.stmt) and unit.stmt.names.binds & depended:
            unit.module = "dependencies"
        unit.anchored = unit.module is not None
    # A statement that changes an object (`db["k"] = v`, `@router.get`) lives with it.
    owners = {id(u): _owner(plan, u.stmt, by_stmt) for u in units if not u.anchored}
    for _ in range(len(units) + 2):
        changed = False
        for unit in reversed(units):
            target = unit.module if unit.anchored else _preferred(unit, owners, users)
            floor = max((d.module for d in deps[id(unit)] if d.module is not None), key=_rank, default=None)
            if target is None or (floor is not None and _rank(floor) > _rank(target)):
                target = floor or "main"
            if target != unit.module:
                unit.module, changed = target, True
        if not changed:
            return _valid(plan, units, deps)
    return False


def _preferred(unit: Unit, owners: dict[int, Unit | None], users: dict[int, list[Unit]]) -> str:
    owner = owners.get(id(unit))
    if owner is not None and owner.module is not None:
        return owner.module
    return _lowest(users[id(unit)]) or "main"


def _depended_on(units: list[Unit]) -> set[str]:
    """Names passed to Depends(...) or Security(...) anywhere."""
    found: set[str] = set()
    for unit in units:
        for node in ast.walk(unit.stmt.node):
            if (
                isinstance(node, ast.Call)
                and ast.unparse(node.func).split(".")[-1] in ("Depends", "Security")
                and node.args
                and isinstance(node.args[0], ast.Name)
            ):
                found.add(node.args[0].id)
    return found


def _is_definition(stmt: Stmt) -> bool:
    node = stmt.node
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return not stmt.names.mutates  # not a route or handler
    return False


def _deps(plan: Plan, stmt: Stmt, by_stmt: dict[int, Unit]) -> list[Unit]:
    found: list[Unit] = []
    versions = set(stmt.uses.values()) | stmt.eager_deps | stmt.lazy_deps
    for version in versions:
        for binder in plan.binders.get(version, []):
            unit = by_stmt.get(id(binder))
            if unit is not None and binder is not stmt and unit not in found:
                found.append(unit)
    return found


def _owner(plan: Plan, stmt: Stmt, by_stmt: dict[int, Unit]) -> Unit | None:
    if isinstance(stmt.node, ast.Expr):
        return None
    for name in sorted(stmt.names.mutates):
        for binder in plan.binders.get(stmt.uses.get(name), []):
            unit = by_stmt.get(id(binder))
            if unit is not None:
                return unit
    return None


def _lowest(users: list[Unit]) -> str | None:
    modules = [u.module for u in users if u.module is not None]
    return min(modules, key=_rank) if modules else None


def _rank(module: str) -> int:
    return _RANKS[module.split(".")[0]]


def _valid(plan: Plan, units: list[Unit], deps: dict[int, list[Unit]]) -> bool:
    bound_in: dict[str, set[str]] = defaultdict(set)
    last_version: dict[tuple[str, str], Version] = {}
    for unit in units:
        assert unit.module is not None
        for name, version in unit.stmt.versions.items():
            bound_in[name].add(unit.module)
            last_version[(unit.module, name)] = version
    if any(len(modules) > 1 for modules in bound_in.values()):
        return False
    graph: dict[str, set[str]] = defaultdict(set)
    for unit in units:
        assert unit.module is not None
        for dep in deps[id(unit)]:
            if dep.module == unit.module:
                continue
            assert dep.module is not None
            for name, version in dep.stmt.versions.items():
                if unit.stmt.uses.get(name) == version and last_version[(dep.module, name)] != version:
                    return False
            graph[unit.module].add(dep.module)
    return not _has_cycle(graph)


def _has_cycle(graph: dict[str, set[str]]) -> bool:
    state: dict[str, int] = {}

    def visit(node: str) -> bool:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1 or (nxt not in state and visit(nxt)):
                return True
        state[node] = 2
        return False

    return any(node not in state and visit(node) for node in list(graph))


class _Resolver:
    """Dotted origin of an expression as seen by a statement: `fastapi.FastAPI`, `local:Item`."""

    def __init__(self, plan: Plan, by_stmt: dict[int, Unit]) -> None:
        self.plan = plan
        self.by_stmt = by_stmt

    def __call__(self, stmt: Stmt, expr: ast.expr) -> str:
        if isinstance(expr, ast.Call):
            return self(stmt, expr.func) + "()"
        if isinstance(expr, ast.Subscript):
            return self(stmt, expr.value)
        if isinstance(expr, ast.Attribute):
            return f"{self(stmt, expr.value)}.{expr.attr}"
        if isinstance(expr, ast.Name):
            version = stmt.uses.get(expr.id)
            if isinstance(version, tuple):  # ("import", bound, origin)
                origin = version[2].replace(":", ".")
                return origin.lstrip(".")
            return f"local:{expr.id}"
        return "?"

    def unit_of_local(self, stmt: Stmt, name: str) -> Unit | None:
        for binder in self.plan.binders.get(stmt.uses.get(name), []):
            unit = self.by_stmt.get(id(binder))
            if unit is not None:
                return unit
        return None


def _anchor(stmt: Stmt, resolve: _Resolver, names: _Namer, app_name: str) -> str | None:
    node = stmt.node
    if isinstance(node, ast.Expr) or app_name in stmt.names.binds:
        return "main"
    if isinstance(node, ast.ClassDef):
        return _class_anchor(stmt, node, resolve, names)
    value = _assigned_value(node)
    if value is not None and isinstance(value, ast.Call):
        origin = resolve(stmt, value.func)
        last = origin.split(".")[-1]
        if origin in ("fastapi.FastAPI", "fastapi.applications.FastAPI"):
            return "main"
        if origin in ("fastapi.APIRouter", "fastapi.routing.APIRouter"):
            return "routers." + names.router(stmt, value)
        if origin.startswith(("sqlalchemy", "sqlmodel", "databases")) and last in _DB_FACTORIES:
            return "database"
        if origin.startswith("fastapi.security"):
            return "dependencies"
        if origin.startswith("local:"):
            unit = resolve.unit_of_local(stmt, origin[len("local:") :])
            if unit is not None and unit.module == "config":
                return "config"
    if value is not None and _mentions_depends(value):
        return "dependencies"
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return _function_anchor(stmt, node, resolve)
    return None


def _assigned_value(node: ast.stmt) -> ast.expr | None:
    if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if all(isinstance(t, ast.Name) for t in targets):
            return node.value
    return None


def _class_anchor(stmt: Stmt, node: ast.ClassDef, resolve: _Resolver, names: _Namer) -> str | None:
    for base in node.bases:
        origin = resolve(stmt, base)
        if origin.endswith("BaseSettings") and origin.startswith("pydantic"):
            return "config"
        if origin.startswith("sqlalchemy") and origin.split(".")[-1] in _DB_BASES:
            return "database"
        if origin in _MODEL_BASES:
            return "models." + names.model(node.name)
        if origin.startswith("local:"):
            unit = resolve.unit_of_local(stmt, origin[len("local:") :])
            if unit is not None and unit.module in ("config",):
                return "config"
            if (
                unit is not None
                and unit.module is not None
                and (unit.module == "database" or unit.module.startswith("models."))
            ):
                return "models." + names.model(node.name)
    return None


def _function_anchor(
    stmt: Stmt, node: ast.FunctionDef | ast.AsyncFunctionDef, resolve: _Resolver
) -> str | None:
    if node.decorator_list and stmt.names.mutates:
        return None  # a route or handler: it goes where its app or router is
    returned = [n.value for n in ast.walk(node) if isinstance(n, ast.Return) and n.value]
    for value in returned:
        if isinstance(value, ast.Call) and resolve(stmt, value.func).startswith("local:"):
            unit = resolve.unit_of_local(stmt, ast.unparse(value.func))
            if unit is not None and unit.module == "config":
                return "config"
    is_generator = any(isinstance(n, ast.Yield | ast.YieldFrom) for n in ast.walk(node))
    if is_generator:
        for name in stmt.names.lazy:
            unit = resolve.unit_of_local(stmt, name)
            if unit is not None and unit.module == "database":
                return "database"
    return None


def _mentions_depends(value: ast.expr) -> bool:
    return any(
        isinstance(n, ast.Call) and ast.unparse(n.func).split(".")[-1] in ("Depends", "Security")
        for n in ast.walk(value)
    )


class _Namer:
    def __init__(self) -> None:
        self.routers: dict[int, str] = {}
        self.taken: set[str] = set()

    def router(self, stmt: Stmt, call: ast.Call) -> str:
        if stmt.index not in self.routers:
            base = ""
            for item in call.keywords:
                if item.arg == "prefix" and isinstance(item.value, ast.Constant):
                    parts = [p for p in str(item.value.value).split("/") if p and "{" not in p]
                    base = parts[-1] if parts else ""
            if not base:
                target = next(iter(sorted(stmt.names.binds)), "api")
                base = re.sub(r"_?router_?", "", target) or "api"
            name = _identifier(base)
            while name in self.taken:
                name += "_"
            self.taken.add(name)
            self.routers[stmt.index] = name
        return self.routers[stmt.index]

    def model(self, class_name: str) -> str:
        words = _WORD.findall(class_name)
        return _identifier(words[0].lower() if words else class_name.lower())


def _identifier(text: str) -> str:
    name = re.sub(r"\W", "_", text).strip("_").lower() or "module"
    if name[0].isdigit() or keyword.iskeyword(name) or name == "__init__":
        name = "m_" + name
    return name


# --- rendering -----------------------------------------------------------------------------------


def _render(plan: Plan, units: list[Unit], render: Render, constants: dict[int, list[str]]) -> dict[str, str]:
    modules: dict[str, list[Unit]] = defaultdict(list)
    owner: dict[Version, str] = {}
    for unit in units:
        assert unit.module is not None
        modules[unit.module].append(unit)
        for version in unit.stmt.versions.values():
            owner[version] = unit.module
    modules.setdefault("main", [])
    future = _future_imports(plan)
    files: dict[str, str] = {"app/__init__.py": ""}
    imported_modules: dict[str, set[str]] = defaultdict(set)
    for module, members in modules.items():
        header = [f'"""{_DOCS[module.split(".")[0]]}"""', ""]
        if future:
            header += [future, ""]
        local = _local_imports(module, members, owner, imported_modules)
        body = _join([(u.stmt, render(u.stmt)) for u in members])
        lines = list(dict.fromkeys(line for u in members for line in constants.get(u.stmt.index, [])))
        if lines:
            body = "\n".join(lines) + "\n\n\n" + body
        # A rewritten statement may no longer read an import (a generated default that is gone).
        imports = _hoisted_imports(plan, members, set(re.findall(r"\w+", body)))
        if f"{REQUIRE_ENV}(" in body:
            local = sorted([*local, f"from app._env import {REQUIRE_ENV}"])
            files["app/_env.py"] = ENV_MODULE
        parts = header + imports + ([""] if imports and local else []) + local
        text = "\n".join(parts).rstrip() + "\n\n\n" + body
        files[_path(module)] = text
        for package in ("models", "routers"):
            if module.startswith(package + "."):
                files.setdefault(f"app/{package}/__init__.py", "")
    main_extra = _side_effect_imports(modules, imported_modules)
    if plan.app_name != "app":
        main_extra.append(f"\napp = {plan.app_name}")
    if main_extra:
        files["app/main.py"] = _insert_after_imports(files["app/main.py"], main_extra)
    return {path: text.rstrip() + "\n" if text else "" for path, text in files.items()}


def _path(module: str) -> str:
    return "app/" + module.replace(".", "/") + ".py"


def _future_imports(plan: Plan) -> str:
    names = sorted(
        {
            alias.name
            for stmt in plan.statements
            if isinstance(stmt.node, ast.ImportFrom) and stmt.node.module == "__future__"
            for alias in stmt.node.names
        }
    )
    return f"from __future__ import {', '.join(names)}" if names else ""


def _hoisted_imports(plan: Plan, members: list[Unit], present: set[str]) -> list[str]:
    """The imports these statements use, merged per module: stdlib first, then the rest.

    `present`: the words of the module's code; an import whose name is not among them is left out.
    """
    used: set[Version] = set()
    for unit in members:
        used |= {v for v in unit.stmt.uses.values() if v is not None}
        used |= unit.stmt.eager_deps | unit.stmt.lazy_deps
    plain: dict[str, None] = {}
    from_: dict[tuple[int, str], dict[str, None]] = {}
    for stmt in plan.statements:
        node = stmt.node
        if not stmt.hoisted or not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        for alias in node.names:
            if alias.name != "*" and import_version(node, alias) not in used:
                continue
            if alias.name != "*" and import_version(node, alias)[1] not in present:
                continue
            text = alias.name + (f" as {alias.asname}" if alias.asname else "")
            if isinstance(node, ast.Import):
                plain[f"import {text}"] = None
            else:
                from_.setdefault((node.level, node.module or ""), {})[text] = None
    lines = list(plain)
    for (level, module), names in from_.items():
        if "*" in names:
            lines.append(f"from {'.' * level}{module} import *")
            names = {n: None for n in names if n != "*"}
        if names:
            lines.append(f"from {'.' * level}{module} import {', '.join(sorted(names))}")
    return _grouped(lines)


def _grouped(lines: list[str]) -> list[str]:
    def top(line: str) -> str:
        return line.split()[1].split(".")[0]

    def key(line: str) -> tuple[bool, str]:
        return (line.startswith("from"), top(line))

    stdlib = sorted((ln for ln in lines if top(ln) in sys.stdlib_module_names), key=key)
    other = sorted((ln for ln in lines if top(ln) not in sys.stdlib_module_names), key=key)
    return stdlib + ([""] if stdlib and other else []) + other


def _local_imports(
    module: str, members: list[Unit], owner: dict[Version, str], imported: dict[str, set[str]]
) -> list[str]:
    wanted: dict[str, set[str]] = defaultdict(set)
    for unit in members:
        for name, version in unit.stmt.uses.items():
            source = owner.get(version)
            if source is not None and source != module:
                wanted[source].add(name)
    imported[module] = set(wanted)
    return [
        f"from app.{source} import {', '.join(sorted(names))}" for source, names in sorted(wanted.items())
    ]


def _side_effect_imports(modules: dict[str, list[Unit]], imported: dict[str, set[str]]) -> list[str]:
    """main.py imports every module, so models and routers run even if nothing names them."""
    reached: set[str] = set()
    stack = ["main"]
    while stack:
        module = stack.pop()
        for nxt in imported.get(module, ()):
            if nxt not in reached:
                reached.add(nxt)
                stack.append(nxt)
    missing = sorted((m for m in modules if m != "main" and m not in reached), key=_rank)
    return [
        f"from app{'.' + m.rsplit('.', 1)[0] if '.' in m else ''} import "
        f"{m.rsplit('.', 1)[-1]} as _{m.replace('.', '_')}  # noqa: F401"
        for m in missing
    ]


def _insert_after_imports(text: str, extra: list[str]) -> str:
    head, sep, body = text.partition("\n\n\n")
    imports = [line for line in extra if not line.startswith("\n")]
    tail = [line.strip() for line in extra if line.startswith("\n")]
    head = head + "\n" + "\n".join(imports) if imports else head
    body = body.rstrip() + ("\n\n" + "\n".join(tail) if tail else "")
    return head + sep + body


def _join(pieces: list[tuple[Stmt, str]]) -> str:
    out: list[str] = []
    previous: Stmt | None = None
    for stmt, text in pieces:
        if previous is not None:
            tight = (
                _simple(previous)
                and _simple(stmt)
                and previous.cell is stmt.cell
                and stmt.position[1] == previous.position[1] + 1
            )
            out.append("\n" if tight else "\n\n\n")
        out.append(text.rstrip())
        previous = stmt
    return "".join(out)


def _simple(stmt: Stmt) -> bool:
    return not isinstance(
        stmt.node,
        ast.FunctionDef
        | ast.AsyncFunctionDef
        | ast.ClassDef
        | ast.If
        | ast.For
        | ast.While
        | ast.With
        | ast.Try,
    )
