"""State the app keeps in process memory and changes while serving: each worker has its own.

- a module-level dict, list, set, deque or Counter that a function changes (`items[k] = v`,
  `done.append(x)`) and a function reads, or that a function hands out (`return ITEMS`, as a
  dependency does) while some function changes what it was given (`store[k] = v`);
- an object of a notebook class whose methods change its attributes (a WebSocket connection
  manager), used by a function;
- a module-level variable a function rebinds with `global`;
- an in-memory SQLite database.

Changes made by a lifespan or startup handler don't count: every worker runs those and gets
the same result.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

_FACTORIES = frozenset({"dict", "list", "set", "defaultdict", "deque", "Counter", "OrderedDict"})
_DISPLAYS = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)
_MUTATORS = frozenset(
    {
        "append",
        "appendleft",
        "extend",
        "extendleft",
        "insert",
        "add",
        "update",
        "pop",
        "popleft",
        "popitem",
        "remove",
        "discard",
        "clear",
        "setdefault",
        "sort",
        "reverse",
        "rotate",
        "difference_update",
        "intersection_update",
        "symmetric_difference_update",
    }
)
_STARTUP_DECORATORS = frozenset({"asynccontextmanager", "contextmanager"})
_CONSTRUCTORS = frozenset({"__init__", "__post_init__", "__new__"})
_MEMORY_SQLITE = re.compile(r"^sqlite(\+\w+)?://(/:memory:)?(\?.*)?$|^sqlite.*:memory:")


def per_worker_state(statements: Sequence[ast.stmt]) -> list[str]:
    """What each worker would hold in its own memory, e.g. "`items`, a dict"; [] if nothing."""
    kinds = _module_level_kinds(statements)
    mutated: set[str] = set()
    read: set[str] = set()
    rebound: set[str] = set()
    handed_out: set[str] = set()  # returned or yielded: whoever receives it may change it
    changes_arguments = False
    for function in _serving_functions(statements):
        local = _local_names(function)
        for node in ast.walk(function):
            if isinstance(node, ast.Global):
                rebound |= set(node.names) & _assigned_in(function)
            if isinstance(node, ast.Return | ast.Yield) and isinstance(node.value, ast.Name):
                handed_out.add(node.value.id)
        changed, looked_at = _uses(function)
        mutated |= changed - local
        read |= looked_at - local
        changes_arguments = changes_arguments or bool(changed & _parameters(function))
        handed_out -= local
    if changes_arguments:  # `def get_store(): return ITEMS`, then `store[k] = v` in a route
        mutated |= handed_out
        read |= handed_out
    found = [f"`{name}`, {kind}" for name, kind in kinds.items() if _holds_state(name, kind, mutated, read)]
    found += [f"`{name}`, rebound with `global`" for name in sorted(rebound & read) if name not in kinds]
    if any(_MEMORY_SQLITE.match(text) for text in _strings(statements)):
        found.append("an in-memory SQLite database")
    return found


def _holds_state(name: str, kind: str, mutated: set[str], read: set[str]) -> bool:
    if kind.startswith("an object"):
        return name in read or name in mutated
    return name in mutated and name in read


def _module_level_kinds(statements: Sequence[ast.stmt]) -> dict[str, str]:
    stateful_classes = {
        node.name for node in statements if isinstance(node, ast.ClassDef) and _changes_itself(node)
    }
    kinds: dict[str, str] = {}
    for node in statements:
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        kind = _kind(node.value, stateful_classes)
        for name in names:
            if kind is not None:
                kinds[name] = kind
            else:
                kinds.pop(name, None)
    return kinds


def _kind(value: ast.expr, stateful_classes: set[str]) -> str | None:
    if isinstance(value, _DISPLAYS):
        return "a " + type(value).__name__.removesuffix("Comp").lower()
    if isinstance(value, ast.Call):
        func = ast.unparse(value.func).split(".")[-1]
        if func in _FACTORIES:
            return f"a {func}"
        if func in stateful_classes:
            return f"an object of class {func}"
    return None


def _changes_itself(cls: ast.ClassDef) -> bool:
    """A method (not the constructor) assigns or changes an attribute of `self`."""
    for method in cls.body:
        if not isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef) or method.name in _CONSTRUCTORS:
            continue
        if not method.args.args:
            continue
        own = method.args.args[0].arg
        changed, _ = _uses(method, attributes_of=own)
        if own in changed:
            return True
    return False


def _serving_functions(statements: Sequence[ast.stmt]) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Every function in the app except lifespans and startup handlers."""
    startup = _startup_names(statements)
    return [
        node
        for stmt in statements
        for node in ast.walk(stmt)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name not in startup
        and not any(_decorator_name(d) in _STARTUP_DECORATORS for d in node.decorator_list)
    ]


def _startup_names(statements: Sequence[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for stmt in statements:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == "lifespan" and isinstance(keyword.value, ast.Name):
                        names.add(keyword.value.id)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for decorator in node.decorator_list:
                    if _decorator_name(decorator) == "on_event":
                        names.add(node.name)
    return names


def _decorator_name(decorator: ast.expr) -> str:
    func = decorator.func if isinstance(decorator, ast.Call) else decorator
    return ast.unparse(func).split(".")[-1]


def _uses(function: ast.AST, attributes_of: str | None = None) -> tuple[set[str], set[str]]:
    """(names changed in place, names read) inside `function`.

    Changed: `x.append(...)`, `x[k] = v`, `del x[k]`, `x[k] += 1`, and with `attributes_of`
    also `self.a = v` and `self.a.append(...)` count as changing `self`.
    """
    changed: set[str] = set()
    receivers: set[int] = set()
    for node in ast.walk(function):
        target: ast.expr | None = None
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _MUTATORS
        ):
            target = node.func.value
        elif (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del)) or (
            attributes_of is not None
            and isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store | ast.Del)
        ):
            target = node.value
        if target is None:
            continue
        root = _root(target, attributes_of)
        if root is not None:
            changed.add(root.id)
            receivers.add(id(root))
    read = {
        node.id
        for node in ast.walk(function)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and id(node) not in receivers
    }
    for node in ast.walk(function):
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            read.add(node.target.id)
    return changed, read


def _changed_in_place(node: ast.AST, attributes_count: bool) -> ast.expr | None:
    """The object `node` changes: `x` for `x.append(1)`, `x[k] = v`, `del x[k]`, and with
    `attributes_count` also for `x.a = v`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATORS:
        return node.func.value
    stored = (ast.Subscript, ast.Attribute) if attributes_count else (ast.Subscript,)
    if isinstance(node, stored) and isinstance(node.ctx, ast.Store | ast.Del):
        return node.value
    return None


def _root(node: ast.expr, attributes_of: str | None) -> ast.Name | None:
    """`x` for `x`, and for `self.a[k]` / `self.a` when `attributes_of` is "self"."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        if attributes_of is None and isinstance(node, ast.Attribute):
            return None  # `x.a.append()`: an attribute of x, not x itself
        node = node.value
    return node if isinstance(node, ast.Name) else None


def _local_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    declared_global = {name for n in ast.walk(function) if isinstance(n, ast.Global) for name in n.names}
    return (_parameters(function) | _assigned_in(function)) - declared_global


def _parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    arguments = function.args
    params = arguments.posonlyargs + arguments.args + arguments.kwonlyargs
    params += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
    return {a.arg for a in params}


def _assigned_in(function: ast.AST) -> set[str]:
    return {
        node.id
        for node in ast.walk(function)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node is not function
    }


def _strings(statements: Sequence[ast.stmt]) -> list[str]:
    return [
        node.value
        for stmt in statements
        for node in ast.walk(stmt)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
