"""An app described as plain data, the same way in the live kernel and in the fresh run.

Routes by method and path (with the cell that defined each and a fingerprint of its code and
dependencies), each operation of `/openapi.json` with its `$ref`s resolved (so `Item` and
`__main____Item__2` compare equal when they say the same), middleware in order, exception
handlers by key, startup handlers. Cells are positions in `session.cells.current()`: both
sides map their own execution counts onto that one list.
"""

from __future__ import annotations

import inspect
import json
import types
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from .. import _compat as private
from .._reload._routes import middleware_key

CellOf = Callable[[Any], "int | None"]  # object -> position of its cell, None when unknown
Shape = dict[str, Any]
_MAX_DEPTH = 3  # mounted apps inside mounted apps


def describe(app: Any, cell_of: CellOf, namespace: dict[str, Any]) -> Shape:
    shape: Shape = {"app": type(app).__name__ if app is not None else None}
    shape["routes"], shape["operations"] = {}, {}
    shape["middleware"], shape["handlers"], shape["startup"] = [], {}, []
    if app is not None:
        _describe(app, "", shape, cell_of, namespace, 0)
    return shape


def _describe(app: Any, prefix: str, shape: Shape, cell_of: CellOf, ns: dict[str, Any], depth: int) -> None:
    router = getattr(app, "router", None)
    if router is None or depth > _MAX_DEPTH:
        return
    overrides = getattr(app, "dependency_overrides", {}) or {}
    where = prefix or "app"
    for route, path in private.iter_effective_routes(router.routes):
        for key in _keys(route, prefix + path):
            entry = shape["routes"].get(key)
            if entry is not None:
                entry["shadowed"] += 1  # the first one serves
                continue
            target = getattr(route, "endpoint", None) or getattr(route, "app", None)
            shape["routes"][key] = {
                "cell": cell_of(target) if target is not None else None,
                "code": _route_code(route, overrides),
                "shadowed": 0,
            }
        if isinstance(route, Mount) and getattr(route.app, "router", None) is not None:
            _describe(route.app, prefix + path, shape, cell_of, ns, depth + 1)
    shape["operations"].update(_operations(app, prefix))
    for middleware in private.registered_middleware(app):
        dispatch = middleware.kwargs.get("dispatch")
        shown = {k: v for k, v in middleware.kwargs.items() if k != "dispatch"}
        shape["middleware"].append(
            {
                "key": f"{where}: {_key_text(middleware_key(middleware))}",
                "options": _plain(shown),
                "cell": cell_of(dispatch if dispatch is not None else middleware.cls),
                "code": fingerprint(dispatch if dispatch is not None else middleware.cls),
            }
        )
    for key, handler in getattr(app, "exception_handlers", {}).items():
        shape["handlers"][f"{where}: {_handler_key(key, ns)}"] = {
            "cell": cell_of(handler),
            "code": fingerprint(handler),
        }
    for handler in getattr(router, "on_startup", []) or []:
        shape["startup"].append({"key": f"{where}: {_name(handler)}", "cell": cell_of(handler)})


def _keys(route: BaseRoute, path: str) -> list[str]:
    if isinstance(route, APIWebSocketRoute | WebSocketRoute):
        return [f"WS {path}"]
    if isinstance(route, Mount):
        return [f"MOUNT {path}"]
    if isinstance(route, Route):
        return [f"{method} {path}" for method in sorted(route.methods or ())]
    return [f"{type(route).__name__} {path}"]


def _operations(app: Any, prefix: str) -> dict[str, Any]:
    if not callable(getattr(app, "openapi", None)) or not getattr(app, "openapi_url", None):
        return {}
    try:
        schema = app.openapi()
    except Exception as exc:  # the same failure on both sides compares equal
        return {f"OPENAPI {prefix or '/'}": {"error": f"{type(exc).__name__}: {exc}"}}
    components = schema.get("components", {})
    found = {}
    for path, item in (schema.get("paths") or {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict):
                found[f"{method.upper()} {prefix}{path}"] = _resolve(operation, components, ())
    return found


def _resolve(value: Any, components: dict[str, Any], seen: tuple[str, ...]) -> Any:
    """`$ref`s replaced by what they point at; a reference to itself stays a named marker."""
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            section, _, name = ref[len("#/components/") :].partition("/")
            target = components.get(section, {}).get(name)
            if target is None or ref in seen:
                title = target.get("title", name) if isinstance(target, dict) else name
                return {"$ref": f"(recursive {title})"}
            return _resolve(target, components, (*seen, ref))
        return {k: _resolve(v, components, seen) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, components, seen) for v in value]
    return value


# --- code fingerprints --------------------------------------------------------------------------


def _route_code(route: BaseRoute, overrides: dict[Any, Any]) -> str:
    parts = [fingerprint(getattr(route, "endpoint", None))]
    if isinstance(route, APIRoute | APIWebSocketRoute):
        parts += _dependency_codes(private.dependencies(route), overrides, set())
    return "/".join(parts)


def _dependency_codes(
    dependencies: tuple[private.Dependency, ...], overrides: dict[Any, Any], seen: set[int]
) -> list[str]:
    codes = []
    for dependency in dependencies:
        call = _overridden(dependency.call, overrides)
        if id(call) in seen:
            continue
        seen.add(id(call))
        codes.append(fingerprint(call))
        codes += _dependency_codes(dependency.subs, overrides, seen)
    return codes


def _overridden(call: Any, overrides: dict[Any, Any]) -> Any:
    seen = set()
    while call in overrides and id(call) not in seen:  # the engine maps old versions to the newest
        seen.add(id(call))
        call = overrides[call]
    return call


def fingerprint(obj: Any) -> str:
    """The same for the same source compiled anywhere: code without positions, names, constants."""
    if obj is None:
        return ""
    target = inspect.unwrap(obj) if callable(obj) else obj
    if isinstance(target, type):
        init = target.__dict__.get("__init__") or target.__dict__.get("__call__")
        init_code = getattr(init, "__code__", None)
        inner = _code_text(init_code) if init_code is not None else ""
        return _digest(f"class {target.__qualname__} {inner}")
    code = getattr(target, "__code__", None)
    if code is None:
        return _digest(f"instance {type(target).__qualname__}")
    return _digest(f"{getattr(target, '__qualname__', '')} {_code_text(code)}")


def _code_text(code: types.CodeType) -> str:
    consts = [_code_text(c) if isinstance(c, types.CodeType) else _const(c) for c in code.co_consts]
    return repr((code.co_code, code.co_names, code.co_varnames, code.co_freevars, consts))


def _const(value: Any) -> str:
    if isinstance(value, frozenset | set):  # iteration order follows the per-process hash seed
        return "{" + ",".join(sorted(map(repr, value))) + "}"
    return repr(value)


def _digest(text: str) -> str:
    import hashlib

    return hashlib.blake2s(text.encode(), digest_size=6).hexdigest()


# --- names ----------------------------------------------------------------------------------------


def _name(obj: Any) -> str:
    return getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type(obj).__name__


def _key_text(key: Any) -> str:
    if isinstance(key, tuple) and key and key[0] == "dispatch":
        return f"@middleware {key[1]}"
    if isinstance(key, tuple) and key and key[0] == "class":
        return str(key[-1])
    return str(key)


def _handler_key(key: Any, namespace: dict[str, Any]) -> str:
    if not isinstance(key, type):
        return str(key)
    text = key.__qualname__
    current = namespace.get(key.__name__)
    if key.__module__ == "__main__" and isinstance(current, type) and current is not key:
        text += " (an earlier definition)"
    return text


def _plain(value: dict[str, Any]) -> str:
    try:
        return json.dumps(value, sort_keys=True, default=_name)
    except (TypeError, ValueError):
        return repr(sorted(value))
