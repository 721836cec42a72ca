"""Every touch of FastAPI/Starlette internals lives here, so an upgrade breaks in one place.

tests/test_compat.py pins each assumption against the installed FastAPI.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import typing
from collections.abc import Awaitable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi import params as fastapi_params
from fastapi import routing as fastapi_routing
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Router
from starlette.types import ASGIApp, Receive, Scope, Send

# FastAPI >= 0.16x keeps included routers as references (`_IncludedRouter`) instead of copies.
_IncludedRouter: type | None = getattr(fastapi_routing, "_IncludedRouter", None)


def is_included_router(route: object) -> bool:
    return _IncludedRouter is not None and isinstance(route, _IncludedRouter)


# `route: Any` below: an `_IncludedRouter` entry, whose class is private (and absent in older FastAPI).
def included_router_target(route: Any) -> Router:
    """The router an `_IncludedRouter` entry points at."""
    return route.original_router


def included_router_prefix(route: Any) -> str:
    return getattr(route.include_context, "prefix", "") or ""


def repoint_include(route: Any, router: Router) -> BaseRoute:
    """A copy of an `_IncludedRouter` entry that serves `router` with the same include context
    (prefix, tags, dependencies, responses...), as FastAPI itself builds nested entries."""
    assert _IncludedRouter is not None
    return _IncludedRouter(original_router=router, include_context=route.include_context)


def mark_routes_changed(router: Router) -> None:
    """Tell FastAPI's per-version caches (OpenAPI, included-router views) that routes changed.

    Assigning `router.routes` directly bypasses the version bump that `add_api_route` does.
    """
    mark = getattr(router, "_mark_routes_changed", None)
    if mark is not None:
        mark()


def forget_openapi(app: FastAPI) -> None:
    app.openapi_schema = None


def _memo_caches() -> list[Any]:
    """FastAPI's and typing's memo caches keyed by a callable or a class (bounded LRUs)."""
    from fastapi._compat import v2 as fastapi_compat
    from fastapi.dependencies import models

    names = ("_is_gen_callable_cached", "_is_async_gen_callable_cached", "_is_coroutine_callable_cached")
    caches = [getattr(models, name, None) for name in names]
    caches.append(getattr(fastapi_compat, "get_cached_model_fields", None))
    return [cache for cache in caches if hasattr(cache, "cache_clear")]


def forget_memos() -> None:
    """Empty the memo caches that hold replaced classes and functions.

    FastAPI classifies each dependency callable once (up to 4,096 kept) and lists each model's
    fields once (128 kept); typing keeps `Annotated[Item, ...]` forms (128 per form). After an
    edit those entries are all that holds the old versions, for thousands of edits. They refill
    on the next request, a few microseconds per callable.
    """
    for cache in _memo_caches():
        cache.cache_clear()
    for clear in getattr(typing, "_cleanups", ()):
        clear()


def forget_endpoints(ids: set[int]) -> None:
    """Drop FastAPI's per-endpoint context (file, line: for error messages), kept by id(func) in a
    dict that never shrinks, for endpoint functions that have been collected."""
    contexts = getattr(fastapi_routing, "_endpoint_context_cache", None)
    if isinstance(contexts, dict):
        for func_id in ids:
            contexts.pop(func_id, None)


def iter_effective_routes(routes: list[BaseRoute]) -> Iterator[tuple[BaseRoute, str]]:
    """Leaf routes as served, each with the full path it is served at (included routers walked)."""
    for route in routes:
        if is_included_router(route):
            included: Any = route  # an `_IncludedRouter`
            for context in included.effective_route_contexts():
                original = context.original_route
                starlette_route = getattr(context, "starlette_route", None)
                path = getattr(context, "path", "") or getattr(starlette_route, "path", "")
                yield original, path
        else:
            yield route, getattr(route, "path", "")


def call_with_stack(app: Any, stack: ASGIApp, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
    """What `FastAPI.__call__` does for one request, but through a stack we own.

    Serving from our own stack keeps `app.middleware_stack` None, so `add_middleware` and
    `@app.middleware` keep working after the first request. FastAPI's optional native telemetry
    wrapper is skipped.
    """
    root_path = getattr(app, "root_path", "")
    if root_path:
        scope["root_path"] = root_path
    scope["app"] = app
    return stack(scope, receive, send)


def user_middleware(app: Any) -> list[Middleware]:
    """A copy of the middleware registered on a Starlette app, outermost first.

    Starlette keeps them in `app.user_middleware` (what `add_middleware` inserts at the front)
    and reads that list each time it builds the stack.
    """
    return list(getattr(app, "user_middleware", None) or ())


def set_user_middleware(app: Any, middleware: list[Middleware]) -> None:
    """Register exactly `middleware` on `app`; the next stack built from the app uses it."""
    app.user_middleware = middleware


def set_middleware_class(middleware: Middleware, cls: type) -> None:
    """Make a registered `Middleware` entry build `cls` (Starlette keeps it in a plain attribute)."""
    middleware.cls = cls  # type: ignore[assignment]  # declared as a factory type; any class builds


def build_stack(app: Any) -> ASGIApp:
    """The app's middleware stack built now (`build_middleware_stack`), or the app itself if it
    has none (a plain ASGI callable)."""
    builder = getattr(app, "build_middleware_stack", None)
    return builder() if builder is not None else app


def reset_middleware_stack(app: Any) -> None:
    """Undo a stack some other caller (e.g. TestClient) built, so `add_middleware` works again."""
    if getattr(app, "middleware_stack", None) is not None:
        app.middleware_stack = None


def route_init_kwargs(route: BaseRoute) -> dict[str, Any]:
    """The keyword arguments that rebuild `route` through its own constructor.

    Reads back every constructor parameter the route stored as an attribute of the same name.
    """
    params = inspect.signature(type(route).__init__).parameters
    kwargs: dict[str, Any] = {}
    for name, param in params.items():
        if name in ("self", "path", "endpoint") or param.kind is not param.KEYWORD_ONLY:
            continue
        if hasattr(route, name):
            kwargs[name] = getattr(route, name)
    return kwargs


def depends_target(value: object) -> Any | None:
    """The callable a `Depends(...)`/`Security(...)` marker points at, if `value` is one."""
    if isinstance(value, fastapi_params.Depends):
        return value.dependency
    return None


def with_dependency(marker: Any, dependency: Any) -> Any:
    """A copy of a `Depends`/`Security` marker pointing at another callable.

    The markers are frozen dataclasses in current FastAPI and plain objects in older ones.
    """
    if dataclasses.is_dataclass(marker) and not isinstance(marker, type):
        return dataclasses.replace(marker, dependency=dependency)
    clone = copy.copy(marker)
    clone.dependency = dependency
    return clone


def runs_event_handlers(app: Any) -> bool:
    """Whether the app's lifespan runs its router's `on_startup`/`on_shutdown` lists.

    FastAPI runs them through a private `_DefaultLifespan` only when no `lifespan=` was given;
    `include_router` wraps the app's lifespan in a `merged_lifespan` whose closure keeps it.
    """
    router = getattr(app, "router", None)
    context = getattr(router, "lifespan_context", None)
    default = getattr(fastapi_routing, "_DefaultLifespan", None)
    for _ in range(1000):  # one level per include_router
        if default is not None and isinstance(context, default):
            return getattr(context, "_router", None) is router
        wrapped = getattr(context, "__wrapped__", None)
        if wrapped is None or getattr(wrapped, "__name__", None) != "merged_lifespan":
            return False
        context = inspect.getclosurevars(wrapped).nonlocals.get("original_context")
    return False


def retarget_include(entry: Any, router: Router) -> BaseRoute:
    """A copy of an `_IncludedRouter` entry that points at another router, same prefix, tags,
    dependencies and the rest of its include context."""
    return type(entry)(original_router=router, include_context=entry.include_context)


def retarget_mount(mount: Any, app: Any) -> bool:
    """Point a `Mount` at another app in place. False when the mount wraps its app in middleware
    of its own (then it is left alone)."""
    if getattr(mount, "app", None) is not getattr(mount, "_base_app", None):
        return False
    mount._base_app = mount.app = app
    return True
