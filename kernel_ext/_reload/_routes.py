"""Keys that say when two registrations are "the same thing", and rebuilding routes."""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Hashable
from typing import Any

from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.routing import BaseRoute, Host, Mount, Route, WebSocketRoute

from .. import _compat as private
from .._compat import dependency_calls
from ._types import TypeMap, mentions, substitute

_PARAM = re.compile(r"\{([^}:]+)(:[^}]*)?\}")


def _shape(path: str) -> str:
    # /items/{id} and /items/{item_id} match the same requests.
    return _PARAM.sub(lambda m: "{" + (m.group(2) or "") + "}", path)


def route_key(route: BaseRoute, names: dict[int, str]) -> tuple[Hashable, ...] | None:
    """Two entries of one router with the same key: the later one replaces the earlier."""
    if isinstance(route, (APIWebSocketRoute, WebSocketRoute)):
        return ("websocket", _shape(route.path))
    if isinstance(route, Route):  # includes APIRoute
        return ("http", _shape(route.path))
    if isinstance(route, Mount):
        return ("mount", route.path)
    if isinstance(route, Host):
        return ("host", route.host)
    if private.is_included_router(route):
        target = private.included_router_target(route)
        return ("include", names.get(id(target), id(target)), private.included_router_prefix(route))
    return None


def methods_of(route: BaseRoute) -> frozenset[str]:
    methods = getattr(route, "methods", None)
    return frozenset(methods or ())


def replaces(new: BaseRoute, old: BaseRoute, names: dict[int, str]) -> bool:
    key = route_key(new, names)
    if key is None or key != route_key(old, names):
        return False
    if key[0] == "http":
        # One route per method and path: GET /x replaces the GET of an earlier GET+POST /x.
        return bool(methods_of(new) & methods_of(old))
    return True


def endpoint_name(route: BaseRoute) -> str | None:
    endpoint = getattr(route, "endpoint", None)
    return getattr(endpoint, "__qualname__", None)


def middleware_key(middleware: Middleware) -> Hashable:
    cls: object = middleware.cls  # typed as a factory protocol, which mypy finds no class overlaps
    dispatch = middleware.kwargs.get("dispatch")
    if cls is BaseHTTPMiddleware and dispatch is not None:
        return ("dispatch", getattr(dispatch, "__qualname__", id(dispatch)))
    return ("class", getattr(cls, "__module__", ""), getattr(cls, "__qualname__", repr(cls)))


# --- rebuilding routes whose types went stale -------------------------------------------------


def route_mentions(route: BaseRoute, stale: set[int]) -> bool:
    if not isinstance(route, (APIRoute, APIWebSocketRoute)):
        return False
    annotations = getattr(route.endpoint, "__annotations__", {})
    if any(mentions(a, stale) for a in annotations.values()):
        return True
    if any(mentions(d, stale) for d in (*_defaults(route.endpoint), *route.dependencies)):
        return True
    if isinstance(route, APIRoute):
        if route.response_model is not None and mentions(route.response_model, stale):
            return True
        return any(
            mentions(extra.get("model"), stale)
            for extra in route.responses.values()
            if isinstance(extra, dict)
        )
    return False


def repoint_sub_dependencies(route: BaseRoute, mapping: TypeMap, repointed: set[int]) -> bool:
    """Point the dependencies this route uses at the current versions of what *they* depend on.

    `def outer(x=Depends(dep))` keeps the old `dep` when `dep` is redefined. Its `Depends` markers
    are swapped in place, so `outer` stays the object routes and overrides know; the route must
    then be rebuilt for FastAPI to read the new signature. True if the route's tree holds one.
    `repointed` collects the ids of the callables changed, across routes.
    """
    stale = set(mapping)
    found = False
    for call in dependency_calls(route):
        if id(call) in repointed or _repoint(call, mapping, stale):
            repointed.add(id(call))
            found = True
    return found


def _init_of(cls: type[Any]) -> Any:
    # type[Any]: mypy's check that __init__ fits every subclass does not apply to reading it.
    return cls.__init__


def _repoint(call: Any, mapping: TypeMap, stale: set[int]) -> bool:
    fn = _init_of(call) if isinstance(call, type) else inspect.unwrap(call)
    if not isinstance(fn, types.FunctionType):
        return False
    return private.retype_in_place(fn, lambda v: substitute(v, mapping), lambda v: mentions(v, stale))


def rebuild(route: APIRoute | APIWebSocketRoute, mapping: TypeMap) -> BaseRoute:
    """A fresh route for the same endpoint, with stale classes replaced by current ones.

    FastAPI derives validation from the signature when the route is created, so the route itself
    has to be created again; patching the function alone would not do.
    """
    kwargs = private.route_init_kwargs(route)
    if "dependencies" in kwargs:
        kwargs["dependencies"] = [substitute(d, mapping) for d in kwargs["dependencies"]]
    if "response_model" in kwargs:
        kwargs["response_model"] = substitute(kwargs["response_model"], mapping)
    if "responses" in kwargs:
        kwargs["responses"] = {
            code: _with_model(extra, mapping) for code, extra in kwargs["responses"].items()
        }
    endpoint = _retyped(route.endpoint, mapping)
    return type(route)(route.path, endpoint, **kwargs)


def _with_model(extra: Any, mapping: TypeMap) -> Any:
    if isinstance(extra, dict) and "model" in extra:
        return {**extra, "model": substitute(extra["model"], mapping)}
    return extra


def _defaults(fn: Any) -> tuple[Any, ...]:
    return (*(getattr(fn, "__defaults__", None) or ()), *(getattr(fn, "__kwdefaults__", None) or {}).values())


def _retyped(fn: Any, mapping: TypeMap) -> Any:
    """A copy of `fn` whose annotations and `Depends(...)` defaults name current versions.

    Its body is the same code.
    """
    if not isinstance(fn, types.FunctionType):
        return fn
    return private.retyped_copy(fn, lambda v: substitute(v, mapping))
