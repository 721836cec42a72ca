"""The one place kernel_ext touches other libraries' internals, so an upgrade breaks here first.

tests/test_compat.py pins every assumption below against the installed versions, and fails if
another module under kernel_ext/ reaches for those libraries' private attributes (read from the
AST). What is assumed, by library:

FastAPI
- `include_router` keeps a reference to the router (private `_IncludedRouter`: `original_router`,
  `include_context`), which can be rebuilt pointing at another router with the same context. The
  public `iter_route_contexts` walks included routers, with the path each route is served at.
- Assigning `router.routes` serves the new list at once but bumps no version: the private
  `_mark_routes_changed()` refreshes the OpenAPI cache and the included routers' views.
- A route is rebuilt by its own constructor from the attributes named after its keyword-only
  parameters.
- `route.dependant` is the dependency tree FastAPI resolves per request (`dependencies`, `call`,
  `body_params`, `query_params`, each field with `field_info`); `Depends`/`Security` markers
  carry `.dependency` and are copied with `dataclasses.replace`.
- FastAPI reads `app.dependency_overrides` at each request, consults it whenever it is truthy,
  and asks `.get(call, call)`: _reload/_overrides.py's ChainedOverrides relies on it.
- The memo caches that keep replaced versions alive: `fastapi.dependencies.models`'
  `_is_*_callable_cached`, `fastapi._compat.v2.get_cached_model_fields`,
  `fastapi.routing._endpoint_context_cache`, typing's `_cleanups`.
- `on_event` handlers run only through the private `_DefaultLifespan` (its `_router`), which each
  `include_router` wraps in a `merged_lifespan` whose closure holds `original_context`.
- `FastAPI.__call__` sets `root_path` and `app` in the scope, then calls the stack.

Starlette
- `app.user_middleware` is the list the next `build_middleware_stack()` reads; a `Middleware`
  keeps its class in a plain `cls`; `middleware_stack` is None until built, and
  `add_middleware` works while it is.
- A `Mount` keeps its app in `_base_app` as well as in `app`.
- An app's router answers the lifespan scope itself, running `router.lifespan_context` (the
  `lifespan=` given, as a context manager factory), which can be replaced.

uvicorn
- `Server.serve` ends through `Server.shutdown(sockets)`, which starts by closing the listening
  servers in `Server.servers`; closing them a moment earlier is safe.

IPython
- `%reload_ext` runs `ExtensionManager.reload_extension`, which is on the stack while it calls
  the extension's unload (read with `sys._getframe`).
- A function's code names the cell that compiled it: `shell.compile.format_code_name` gives
  ("Cell", "In[N]").
- Magics are unregistered through `magics_manager.registry` and `magics_manager.magics`.
- `%autoreload`'s engine is `AutoreloadMagics._reloader`: `modules_mtimes` says what is current,
  and IPython 9's `deduper_reloader.source_by_modname` patches in place unless a source is "".

The user's own functions
- `retype_in_place` MUTATES USER CODE: it rewrites `__defaults__`, `__kwdefaults__` and
  `__annotations__`, which FastAPI reads a signature from when a route is built.

httpx: nothing (the `%%http` reader uses public API only).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import os
import re
import sys
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from fastapi import FastAPI
from fastapi import params as fastapi_params
from fastapi import routing as fastapi_routing
from fastapi.routing import iter_route_contexts
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Router
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    import uvicorn


# --- FastAPI: included routers and route lists ------------------------------------------------

# `include_router` keeps a reference to the router it includes (private `_IncludedRouter`) rather
# than copying its routes, since FastAPI 0.137. Looked up softly: a rename fails tests/test_compat.py,
# not `import kernel_ext`.
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


def iter_effective_routes(routes: list[BaseRoute]) -> Iterator[tuple[BaseRoute, str]]:
    """Leaf routes as served, each with the full path it is served at: included routers are
    walked by FastAPI's public `iter_route_contexts`."""
    for context in iter_route_contexts(routes):
        yield context.original_route, context.path or ""


def set_routes(router: Router, routes: list[BaseRoute]) -> None:
    """Serve `routes` from `router` from the next request on.

    One assignment, so the serving thread sees the old list or the new one, never half; then the
    version bump FastAPI's caches key on (the assignment alone does not make one).
    """
    router.routes = routes
    mark_routes_changed(router)


def mark_routes_changed(router: Router) -> None:
    """Tell FastAPI's per-version caches (OpenAPI, included-router views) that routes changed.

    Assigning `router.routes` directly bypasses the version bump that `add_api_route` does.
    """
    mark = getattr(router, "_mark_routes_changed", None)
    if mark is not None:
        mark()


def forget_openapi(app: FastAPI) -> None:
    app.openapi_schema = None


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
    if getattr(route, "stream_item_type", None) is not None:
        # FastAPI reads a stream's item type from the return annotation only when no
        # response_model was given, and then stores response_model=None: passing that None back
        # would turn the item type (validation, serialisation, itemSchema) off.
        kwargs.pop("response_model", None)
    return kwargs


# --- FastAPI: dependencies --------------------------------------------------------------------


class Param(NamedTuple):
    """One parameter FastAPI reads from a request: its name there, its type, whether required."""

    name: str
    annotation: Any
    required: bool


@dataclasses.dataclass(frozen=True)
class Dependency:
    """One `Depends(...)`/`Security(...)` of a route, with the ones it depends on in turn."""

    call: Any  # None for a bare `Depends()` FastAPI could not resolve to a callable
    subs: tuple[Dependency, ...]


def dependencies(route: BaseRoute) -> tuple[Dependency, ...]:
    """The route's dependency tree, in declaration order."""
    return _tree(getattr(route, "dependant", None))


def _tree(dependant: Any) -> tuple[Dependency, ...]:
    if dependant is None:
        return ()
    return tuple(Dependency(sub.call, _tree(sub)) for sub in dependant.dependencies)


def dependency_calls(route: BaseRoute) -> Iterator[Any]:
    """Every callable in the route's dependency tree (sub-dependencies too), once per use.

    Lazy and allocation-free: hot reload counts the users of each dependency on every edit.
    """
    stack = [getattr(route, "dependant", None)]
    while stack:
        dependant = stack.pop()
        if dependant is None:
            continue
        for sub in dependant.dependencies:
            if sub.call is not None:
                yield sub.call
            stack.append(sub)


def body_params(route: BaseRoute) -> list[Param]:
    """The parameters the endpoint itself takes from the request body (models, form fields)."""
    dependant = getattr(route, "dependant", None)
    return [_param(field, field.name) for field in getattr(dependant, "body_params", None) or ()]


def query_params(route: BaseRoute) -> list[Param]:
    """The endpoint's own query parameters, by the name a client sends (the alias)."""
    dependant = getattr(route, "dependant", None)
    return [_param(field, field.alias) for field in getattr(dependant, "query_params", None) or ()]


def _param(field: Any, name: str) -> Param:
    info = field.field_info
    return Param(name, info.annotation, bool(info.is_required()))


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


# --- FastAPI: caches that hold old versions ---------------------------------------------------


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


# --- FastAPI and Starlette: lifespan ----------------------------------------------------------


def lifespan_app(app: Any) -> ASGIApp:
    """What to drive an app's lifespan through without building its middleware stack: its
    router, which answers the lifespan scope itself with the app's `lifespan_context`. (Calling
    a Starlette app builds and freezes the stack.) An app without a router is its own."""
    return getattr(app, "router", None) or app


def current_lifespan(app: Any) -> Any | None:
    """What the app's lifespan runs: the `lifespan=` given (as a context manager factory), kept
    on its router's `lifespan_context`; None for an app without a router."""
    return getattr(getattr(app, "router", None), "lifespan_context", None)


def set_lifespan(app: Any, function: Callable[..., Any]) -> None:
    """Make the app's next lifespan run `function`, as `FastAPI(lifespan=function)` would:
    an async generator function is made a context manager first."""
    router = app.router
    if inspect.isasyncgenfunction(function):
        router.lifespan_context = contextlib.asynccontextmanager(function)
    else:
        router.lifespan_context = function


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


# --- Starlette: middleware, requests, mounts --------------------------------------------------


def registered_middleware(app: Any) -> list[Middleware]:
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


def retarget_mount(mount: Any, app: Any) -> bool:
    """Point a `Mount` at another app in place. False when the mount wraps its app in middleware
    of its own (then it is left alone)."""
    if getattr(mount, "app", None) is not getattr(mount, "_base_app", None):
        return False
    mount._base_app = mount.app = app
    return True


# --- uvicorn ----------------------------------------------------------------------------------


def stop_accepting(server: uvicorn.Server) -> None:
    """Close the server's listening sockets; connections already accepted carry on.

    uvicorn keeps its asyncio servers in `Server.servers` (set by `startup`), and its own
    `shutdown` starts by closing them, which asyncio allows twice.
    """
    for listener in server.servers:
        listener.close()


# --- IPython ----------------------------------------------------------------------------------


def reloading_extension() -> bool:
    """Whether IPython's `%reload_ext` is running the caller (it calls unload, reloads the
    module, then load), rather than `%unload_ext`. IPython passes no flag: its
    `ExtensionManager.reload_extension` frame on the stack tells."""
    from IPython.core.extensions import ExtensionManager

    code = inspect.unwrap(ExtensionManager.reload_extension).__code__
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


def cell_number(shell: Any, code: types.CodeType) -> int | None:
    """The execution count of the cell that compiled `code`, or None for code from elsewhere.

    IPython compiles each cell under a file name of its own and labels it ("Cell", "In[7]").
    """
    compiler = getattr(shell, "compile", None)
    found = compiler.format_code_name(code.co_filename) if compiler is not None else None
    match = re.fullmatch(r"In\[(\d+)\]", found[1]) if found else None
    return int(match.group(1)) if match else None


def unregister_magics(shell: Any, owner: str, names: dict[str, tuple[str, ...]]) -> None:
    """Undo `register_magics` for the `Magics` class named `owner`: its instance leaves the
    registry and its magics (`names` by kind, "line"/"cell") leave the tables, unless another
    class has registered one of those names since. IPython has no call for it."""
    manager = shell.magics_manager
    magics = manager.registry.pop(owner, None)
    for kind, kind_names in names.items():
        table = manager.magics[kind]
        for name in kind_names:
            if magics is None or getattr(table.get(name), "__self__", None) is magics:
                table.pop(name, None)


def _autoreloader(shell: Any) -> Any | None:
    """The engine of IPython's `%autoreload` (a `ModuleReloader`), if that extension is loaded."""
    magics = shell.magics_manager.registry.get("AutoreloadMagics")
    return getattr(magics, "_reloader", None)


def tell_autoreload(shell: Any, module: types.ModuleType) -> None:
    """A module reloaded by us is current: `%autoreload` need not reload it again at the next
    cell. It compares each module file's mtime with the one it saw last (`modules_mtimes`)."""
    mtimes = getattr(_autoreloader(shell), "modules_mtimes", None)
    path = getattr(module, "__file__", None)
    if isinstance(mtimes, dict) and path:
        with contextlib.suppress(OSError):
            mtimes[module.__name__] = os.stat(path).st_mtime


def decline_autoreload_patching(shell: Any, names: Iterable[str]) -> None:
    """Make IPython 9's `%autoreload` re-execute these modules rather than patch them in place
    ("deduperreload"), as `%autoreload 2-` does. Deduperreload diffs a module's source against
    the one it kept (`source_by_modname`) and declines a module whose old source is empty."""
    deduper = getattr(_autoreloader(shell), "deduper_reloader", None)
    sources = getattr(deduper, "source_by_modname", None)
    if not isinstance(sources, dict):
        return
    for name in names:
        if sources.get(name) != "":
            sources[name] = ""


# --- the user's own functions -----------------------------------------------------------------


def retype_in_place(
    fn: types.FunctionType, replace: Callable[[Any], Any], stale: Callable[[Any], bool]
) -> bool:
    """MUTATES THE USER'S CODE: rewrites the defaults, keyword-only defaults and annotations of
    the user's function `fn` in place; each group holding a value `stale` flags is passed through
    `replace`. True if anything changed.

    For a function that must stay the same object (routes and `dependency_overrides` know it by
    identity) while FastAPI reads a new signature from it: `def outer(x=Depends(dep))` still
    names the old `dep` after the cell defining `dep` is re-run.
    """
    changed = False
    if fn.__defaults__ and any(map(stale, fn.__defaults__)):
        fn.__defaults__ = tuple(map(replace, fn.__defaults__))
        changed = True
    if fn.__kwdefaults__ and any(map(stale, fn.__kwdefaults__.values())):
        fn.__kwdefaults__ = {k: replace(v) for k, v in fn.__kwdefaults__.items()}
        changed = True
    if any(map(stale, fn.__annotations__.values())):
        fn.__annotations__ = {k: replace(v) for k, v in fn.__annotations__.items()}
        changed = True
    return changed


def retyped_copy(fn: types.FunctionType, replace: Callable[[Any], Any]) -> types.FunctionType:
    """A new function with `fn`'s code, globals, closure, names and attributes, whose defaults,
    keyword-only defaults and annotations are passed through `replace`. `fn` is left as it is."""
    defaults = tuple(map(replace, fn.__defaults__)) if fn.__defaults__ else None
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, defaults, fn.__closure__)
    if fn.__kwdefaults__:
        copy.__kwdefaults__ = {k: replace(v) for k, v in fn.__kwdefaults__.items()}
    copy.__dict__.update(fn.__dict__)
    copy.__qualname__ = fn.__qualname__
    copy.__module__ = fn.__module__
    copy.__doc__ = fn.__doc__
    copy.__annotations__ = {k: replace(v) for k, v in fn.__annotations__.items()}
    return copy
