"""Hot-reload history, collapsed: the latest definition of each route, model and function.

In the kernel a redefinition replaces the old one everywhere (routes, models, dependencies),
whereas plain Python would keep the first route and bind old classes into earlier routes.
So the export keeps only the latest definition, placed where the first one was.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from typing import Any

from ._names import chain_root

ROUTE_METHODS = frozenset({"get", "post", "put", "patch", "delete", "options", "head", "trace"})
Key = tuple[Any, ...]
VersionOf = Callable[[str], Any]  # the version of a name live at the statement


def registration_keys(stmt: ast.stmt, version_of: VersionOf) -> tuple[Key, ...]:
    """What the statement registers on an app or router, e.g. ("route", target, "GET", "/x")."""
    keys: list[Key] = []
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
        for decorator in stmt.decorator_list:
            if isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute):
                keys += _decorator_keys(decorator, stmt.name, version_of)
    elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        if isinstance(call.func, ast.Attribute):
            keys += _call_keys(call, version_of)
    return tuple(keys)


def _target(func: ast.Attribute, version_of: VersionOf) -> Key | None:
    root = chain_root(func.value)
    if root is None:
        return None
    return (ast.unparse(func.value), version_of(root))


def _literal(node: ast.expr | None) -> Any:
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ("expr", ast.unparse(node))


def _arg(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    for item in call.keywords:
        if item.arg == keyword:
            return item.value
    return call.args[position] if len(call.args) > position else None


def _methods(call: ast.Call, default: tuple[str, ...]) -> tuple[str, ...]:
    value = _literal(_arg(call, 99, "methods"))
    if isinstance(value, list | tuple | set):
        return tuple(sorted(str(m).upper() for m in value))
    return default


def _decorator_keys(call: ast.Call, function: str, version_of: VersionOf) -> list[Key]:
    assert isinstance(call.func, ast.Attribute)
    target = _target(call.func, version_of)
    if target is None:
        return []
    kind = call.func.attr
    path = _literal(_arg(call, 0, "path"))
    if kind in ROUTE_METHODS:
        return [("route", target, kind.upper(), path)]
    if kind in ("api_route", "route"):
        return [("route", target, m, path) for m in _methods(call, ("GET",))]
    if kind in ("websocket", "websocket_route"):
        return [("websocket", target, path)]
    if kind == "middleware":
        return [("middleware", target, function)]
    if kind == "exception_handler":
        return [("exception_handler", target, _literal(_arg(call, 0, "exc_class_or_status_code")))]
    if kind == "on_event":
        return [("on_event", target, path, function)]
    return []


def _call_keys(call: ast.Call, version_of: VersionOf) -> list[Key]:
    assert isinstance(call.func, ast.Attribute)
    target = _target(call.func, version_of)
    if target is None:
        return []
    kind = call.func.attr
    if kind == "add_api_route":
        path = _literal(_arg(call, 0, "path"))
        return [("route", target, m, path) for m in _methods(call, ("GET",))]
    if kind in ("add_api_websocket_route", "add_websocket_route"):
        return [("websocket", target, _literal(_arg(call, 0, "path")))]
    if kind == "add_middleware":
        return [("middleware", target, _literal(_arg(call, 0, "middleware_class")))]
    if kind == "add_exception_handler":
        return [("exception_handler", target, _literal(_arg(call, 0, "exc_class_or_status_code")))]
    if kind == "mount":
        return [("mount", target, _literal(_arg(call, 0, "path")))]
    if kind == "include_router":
        router = _arg(call, 0, "router")
        root = chain_root(router) if router is not None else None
        which = (ast.unparse(router), version_of(root)) if router is not None and root else None
        return [("include", target, which, _literal(_arg(call, 99, "prefix")))]
    return []


def definition_name(stmt: ast.stmt) -> str | None:
    """The name a plain (unregistered) top-level def or class binds."""
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return stmt.name
    return None


def supersede(keys: Sequence[tuple[Key, ...]], names: Sequence[str | None]) -> list[int | None]:
    """For each statement, the index of the later one that replaces it (None: it survives).

    A registering statement is replaced when every key it registers is registered again later;
    a plain def or class when a later plain def or class binds the same name.
    """
    replaced_by: list[int | None] = [None] * len(keys)
    last_key: dict[Key, int] = {}
    last_name: dict[str, int] = {}
    for index in range(len(keys) - 1, -1, -1):
        if keys[index]:
            later = [last_key.get(key) for key in keys[index]]
            if all(i is not None for i in later):
                replaced_by[index] = _final(replaced_by, max(i for i in later if i is not None))
            for key in keys[index]:
                last_key.setdefault(key, index)
        elif names[index] is not None:
            name = names[index]
            assert name is not None
            if name in last_name:
                replaced_by[index] = _final(replaced_by, last_name[name])
            else:
                last_name[name] = index
    return replaced_by


def _final(replaced_by: list[int | None], index: int) -> int:
    while replaced_by[index] is not None:
        nxt = replaced_by[index]
        assert nxt is not None
        index = nxt
    return index
