"""Pins every internal of FastAPI, Starlette, uvicorn and IPython that kernel_ext/_compat.py touches
(an upgrade that changes one fails here first), and keeps the rest of the package off them."""

import ast
import importlib
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel

from kernel_ext import _compat as private


def test_included_routers_are_kept_by_reference() -> None:
    app = FastAPI()
    router = APIRouter(prefix="/r")
    app.include_router(router, prefix="/v1")
    entry = app.router.routes[-1]
    assert private.is_included_router(entry)
    assert private.included_router_target(entry) is router
    assert private.included_router_prefix(entry) == "/v1"

    @router.get("/late")
    def late() -> int:
        return 1

    paths = [path for _, path in private.iter_effective_routes(app.router.routes)]
    assert "/v1/r/late" in paths


def test_an_include_can_be_repointed_at_another_router_with_its_context() -> None:
    from fastapi.testclient import TestClient

    def tagged() -> None:
        pass

    app = FastAPI()
    old, new = APIRouter(prefix="/r"), APIRouter(prefix="/r")

    @old.get("/old")
    def read_old() -> int:
        return 1

    @new.get("/new")
    def read_new() -> int:
        return 2

    app.include_router(old, prefix="/v1", tags=["t"], dependencies=[Depends(tagged)])
    entry = app.router.routes[-1]
    copy = private.repoint_include(entry, new)
    assert private.included_router_target(copy) is new
    assert private.included_router_prefix(copy) == "/v1"
    app.router.routes = [*app.router.routes[:-1], copy]
    private.mark_routes_changed(app.router)
    client = TestClient(app)
    assert client.get("/v1/r/new").json() == 2
    assert client.get("/v1/r/old").status_code == 404
    operation = app.openapi()["paths"]["/v1/r/new"]["get"]
    assert operation["tags"] == ["t"]


def test_openapi_cache_follows_the_routes_version() -> None:
    app = FastAPI()

    @app.get("/a")
    def a() -> int:
        return 1

    assert "/a" in app.openapi()["paths"]
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", "") != "/a"]
    assert "/a" in app.openapi()["paths"]  # cached: editing the list does not bump the version
    private.mark_routes_changed(app.router)
    assert "/a" not in app.openapi()["paths"]


def test_included_router_view_refreshes_after_mark() -> None:
    app = FastAPI()
    router = APIRouter()

    @router.get("/x")
    def x() -> int:
        return 1

    app.include_router(router)
    assert [p for _, p in private.iter_effective_routes(app.router.routes) if p == "/x"]
    router.routes = []
    private.mark_routes_changed(router)
    assert not [p for _, p in private.iter_effective_routes(app.router.routes) if p == "/x"]


def test_route_init_kwargs_rebuild_an_identical_route() -> None:
    class Item(BaseModel):
        name: str

    def dep() -> int:
        return 1

    app = FastAPI()

    @app.post("/i", status_code=201, tags=["t"], summary="S", responses={404: {"model": Item}})
    def make(item: Item, d: int = Depends(dep)) -> Item:
        return item

    route = app.router.routes[-1]
    assert isinstance(route, APIRoute)
    before = app.openapi()
    clone = type(route)(route.path, route.endpoint, **private.route_init_kwargs(route))
    app.router.routes[-1] = clone
    private.mark_routes_changed(app.router)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert app.openapi() == before


def test_route_init_kwargs_rebuild_a_json_lines_stream_with_its_item_type() -> None:
    from collections.abc import AsyncIterable

    class Item(BaseModel):
        name: str

    app = FastAPI()

    @app.get("/stream")
    async def stream() -> AsyncIterable[Item]:
        yield Item(name="a")

    route = app.router.routes[-1]
    assert isinstance(route, APIRoute) and route.stream_item_type is Item
    clone = type(route)(route.path, route.endpoint, **private.route_init_kwargs(route))
    assert clone.stream_item_type is Item and clone.response_model is None


def test_middleware_can_be_added_while_we_serve_our_own_stack() -> None:
    import asyncio

    app = FastAPI()
    stack = app.build_middleware_stack()
    private.reset_middleware_stack(app)
    app.add_middleware(type("M", (), {"__init__": lambda self, app: None}))
    assert app.middleware_stack is None
    assert asyncio.iscoroutinefunction(stack.__call__)


def test_a_depends_marker_can_point_at_another_callable() -> None:
    from fastapi import Depends, Security

    def old() -> None: ...

    def new() -> None: ...

    marker = Security(old, scopes=["read"], use_cache=False)
    moved = private.with_dependency(marker, new)
    assert type(moved) is type(marker)
    assert private.depends_target(moved) is new and private.depends_target(marker) is old
    assert (moved.scopes, moved.use_cache) == (["read"], False)
    assert private.depends_target(Depends()) is None and private.depends_target("x") is None


def test_runs_event_handlers_sees_through_included_routers_and_lifespans() -> None:
    from contextlib import asynccontextmanager

    from fastapi import APIRouter, FastAPI

    from kernel_ext._compat import runs_event_handlers

    app = FastAPI()
    assert runs_event_handlers(app)
    app.include_router(APIRouter())
    app.include_router(APIRouter())
    assert runs_event_handlers(app)  # wrapped twice in FastAPI's merged_lifespan

    @asynccontextmanager
    async def life(app):
        yield

    assert not runs_event_handlers(FastAPI(lifespan=life))
    assert not runs_event_handlers(object())


def test_an_include_and_a_mount_can_be_pointed_at_a_new_router_or_app() -> None:
    from fastapi import APIRouter, FastAPI
    from fastapi.testclient import TestClient

    from kernel_ext._compat import repoint_include, retarget_mount

    app, old, new = FastAPI(), APIRouter(), APIRouter()
    old.get("/x")(lambda: "old")
    new.get("/x")(lambda: "new")
    app.include_router(old, prefix="/p")
    sub_old, sub_new = FastAPI(), FastAPI()
    sub_new.get("/y")(lambda: "sub")
    app.mount("/m", sub_old)
    include, mount = app.router.routes[-2], app.router.routes[-1]
    app.router.routes[-2] = repoint_include(include, new)
    assert retarget_mount(mount, sub_new)
    app.router._mark_routes_changed()
    client = TestClient(app)
    assert client.get("/p/x").json() == "new"
    assert client.get("/m/y").json() == "sub"


def test_the_memo_caches_that_hold_old_versions_exist_and_are_emptied() -> None:
    """FastAPI keeps callables and model classes in LRU memos; an edit empties them, or they keep
    the replaced versions alive (tests/test_oldversions.py). A rename here would leak silently."""
    from fastapi import routing

    caches = private._memo_caches()
    assert len(caches) == 4

    def dep() -> int:
        return 1

    app = FastAPI()

    @app.get("/x")
    def x(v: int = Depends(dep)) -> int:
        return v

    from fastapi.testclient import TestClient

    assert TestClient(app).get("/x").json() == 1
    assert any(cache.cache_info().currsize for cache in caches)
    private.forget_memos()
    assert not any(cache.cache_info().currsize for cache in caches)
    assert isinstance(routing._endpoint_context_cache, dict)
    assert id(x) in routing._endpoint_context_cache
    private.forget_endpoints({id(x)})
    assert id(x) not in routing._endpoint_context_cache


def _header_middleware(value: str) -> type:
    class Tag:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def tagged(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), (b"x-tag", value.encode())]
                await send(message)

            await self.app(scope, receive, tagged)

    return Tag


def test_the_registered_middleware_list_is_what_the_next_stack_is_built_from() -> None:
    """Hot reload replaces, drops and re-points middleware by rewriting Starlette's list, then
    builds the stack again: each step must show in the next request."""
    from fastapi.testclient import TestClient

    app = FastAPI()
    app.get("/x")(lambda: 1)
    app.add_middleware(_header_middleware("a"))
    app.add_middleware(_header_middleware("b"))
    registered = private.registered_middleware(app)
    assert [m.cls.__name__ for m in registered] == ["Tag", "Tag"]  # outermost (the last added) first
    registered.clear()  # a copy: the app keeps its own
    assert len(private.registered_middleware(app)) == 2

    def tags() -> list[str]:
        stack = private.build_stack(app)

        async def serve(scope: Any, receive: Any, send: Any) -> None:
            await private.call_with_stack(app, stack, scope, receive, send)

        return TestClient(serve).get("/x").headers.get_list("x-tag")

    assert tags() == ["a", "b"]
    first = private.registered_middleware(app)[1]
    private.set_user_middleware(app, [first])
    assert tags() == ["a"]
    private.set_middleware_class(first, _header_middleware("c"))
    assert tags() == ["c"]
    assert private.registered_middleware(object()) == []
    # Exception handlers are read when the stack is built too: hot reload edits the dict in place.
    from fastapi.responses import PlainTextResponse

    app.get("/boom")(lambda: 1 / 0)
    app.exception_handlers[ZeroDivisionError] = lambda request, exc: PlainTextResponse("handled", 418)
    stack = private.build_stack(app)

    async def serve(scope: Any, receive: Any, send: Any) -> None:
        await private.call_with_stack(app, stack, scope, receive, send)

    assert TestClient(serve).get("/boom").status_code == 418
    assert private.build_stack(len) is len  # a plain ASGI callable is its own stack


def _deps_app() -> tuple[FastAPI, APIRouter]:
    from typing import Annotated

    from fastapi import Query, Security, WebSocket
    from fastapi.security import HTTPBearer

    bearer = HTTPBearer()

    def inner() -> int:
        return 1

    def outer(i: int = Depends(inner), token: Annotated[Any, Security(bearer)] = None) -> int:
        return i

    class Item(BaseModel):
        name: str

    app, router = FastAPI(), APIRouter()

    @router.post("/items/{item_id}", dependencies=[Depends(inner)])
    def make(item_id: int, item: Item, o: Annotated[int, Depends(outer)], q: int = Query(alias="Q")) -> int:
        return o

    @router.websocket("/ws")
    async def ws(websocket: WebSocket, page: int | None = None) -> None:
        pass

    app.include_router(router, prefix="/v1")
    return app, router


def test_a_routes_dependency_tree_parameters_and_served_path_are_read_from_fastapis_dependant() -> None:
    app, router = _deps_app()
    served = dict((path, route) for route, path in private.iter_effective_routes(app.router.routes))
    route = served["/v1/items/{item_id}"]
    assert route is router.routes[0]  # the route itself, not a copy, at its served path
    tree = private.dependencies(route)
    names = [getattr(d.call, "__name__", type(d.call).__name__) for d in tree]
    assert names == ["inner", "outer"]  # the route's own dependencies first, then the signature's
    outer = tree[1]
    assert [type(d.call).__name__ for d in outer.subs] == ["function", "HTTPBearer"]
    calls = [getattr(c, "__name__", type(c).__name__) for c in private.dependency_calls(route)]
    assert sorted(calls) == ["HTTPBearer", "inner", "inner", "outer"]  # once per use
    assert [(p.name, p.annotation.__name__, p.required) for p in private.body_params(route)] == [
        ("item", "Item", True)
    ]
    assert [(p.name, p.annotation, p.required) for p in private.query_params(route)] == [("Q", int, True)]
    websocket = served["/v1/ws"]
    assert [(p.name, p.required) for p in private.query_params(websocket)] == [("page", False)]
    assert private.dependencies(websocket) == () and private.body_params(websocket) == []
    assert private.dependencies(object()) == () and list(private.dependency_calls(object())) == []  # type: ignore[arg-type]


def test_a_route_list_assigned_at_once_serves_and_shows_in_the_docs() -> None:
    from fastapi.testclient import TestClient

    app = FastAPI()
    app.get("/a")(lambda: "a")
    client = TestClient(app)
    assert "/a" in client.get("/openapi.json").json()["paths"]
    other = APIRouter()
    other.get("/b")(lambda: "b")
    private.set_routes(app.router, [*app.router.routes[:-1], *other.routes])
    assert client.get("/b").json() == "b" and client.get("/a").status_code == 404
    assert list(app.openapi()["paths"]) == ["/b"]


def test_fastapi_reads_a_new_signature_from_a_function_whose_defaults_and_annotations_were_rewritten() -> (
    None
):
    """Hot reload re-points `Depends(old)` inside the user's own dependency functions in place;
    FastAPI must read the rewritten values when it builds the route again."""
    from typing import Annotated

    from fastapi.testclient import TestClient

    def old() -> str:
        return "old"

    def new() -> str:
        return "new"

    def pos(v: str = Depends(old)) -> str:
        return v

    def kw(*, v: str = Depends(old)) -> str:
        return v

    def ann(v: Annotated[str, Depends(old)]) -> str:
        return v

    def swap(value: Any) -> Any:
        if private.depends_target(value) is old:
            return private.with_dependency(value, new)
        args = getattr(value, "__metadata__", None)
        if args and private.depends_target(args[0]) is old:
            return Annotated[str, private.with_dependency(args[0], new)]
        return value

    def mentions_old(value: Any) -> bool:
        return swap(value) is not value

    for fn in (pos, kw, ann):
        assert private.retype_in_place(fn, swap, mentions_old)
        assert not private.retype_in_place(fn, swap, mentions_old)  # nothing left to change
        app = FastAPI()
        app.get("/x")(fn)
        assert TestClient(app).get("/x").json() == "new", fn.__name__

    def endpoint(v: Annotated[str, Depends(old)], w: str = Depends(old), *, k: str = Depends(old)) -> str:
        return v + w + k

    copy = private.retyped_copy(endpoint, swap)
    assert copy is not endpoint and copy.__qualname__ == endpoint.__qualname__
    app = FastAPI()
    app.get("/x")(copy)
    app.get("/y")(endpoint)
    client = TestClient(app)
    assert client.get("/x").json() == "newnewnew"
    assert client.get("/y").json() == "oldoldold"  # the original is left as it was


# --- uvicorn ------------------------------------------------------------------------------------


def test_uvicorn_ends_serve_through_an_overridable_shutdown_and_its_listeners_may_close_first() -> None:
    """kernel_ext's server overrides `Server.shutdown` to stop accepting a moment before
    uvicorn closes idle connections; that needs `serve` to end through `shutdown` and the
    listening servers in `Server.servers`, which uvicorn's own shutdown closes again."""
    import asyncio
    import socket

    import uvicorn

    seen: list[list[bool]] = []

    class Probe(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            before = [listener.is_serving() for listener in self.servers]
            private.stop_accepting(self)
            seen.append(before + [listener.is_serving() for listener in self.servers])
            await super().shutdown(sockets)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = Probe(uvicorn.Config(app, lifespan="off", log_config=None))

    async def serve_then_stop() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.005)
        server.should_exit = True
        await task

    try:
        asyncio.run(serve_then_stop())
    finally:
        sock.close()
    assert seen == [[True, False]]


# --- IPython ------------------------------------------------------------------------------------


@pytest.fixture
def ip() -> Iterator[Any]:
    """A bare IPython shell, without kernel_ext."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython() or InteractiveShell.instance()
    try:
        yield shell
    finally:
        shell.reset(new_session=False)


def test_reload_ext_is_told_from_unload_ext(ip: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "log"
    (tmp_path / "compat_probe_ext.py").write_text(
        "from kernel_ext import _compat\n"
        "def load_ipython_extension(ip):\n    pass\n"
        "def unload_ipython_extension(ip):\n"
        f"    with open({str(log)!r}, 'a') as f:\n"
        "        f.write(str(_compat.reloading_extension()))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "compat_probe_ext", raising=False)
    ip.run_line_magic("load_ext", "compat_probe_ext")
    ip.run_line_magic("reload_ext", "compat_probe_ext")
    ip.run_line_magic("unload_ext", "compat_probe_ext")
    assert log.read_text() == "TrueFalse"
    assert not private.reloading_extension()


def test_a_functions_code_names_the_cell_that_compiled_it(ip: Any) -> None:
    ip.run_cell("def compat_probe_fn():\n    pass", store_history=True)
    number = ip.execution_count - 1
    assert private.cell_number(ip, ip.user_ns["compat_probe_fn"].__code__) == number
    assert private.cell_number(ip, test_a_functions_code_names_the_cell_that_compiled_it.__code__) is None
    assert (
        private.cell_number(object(), test_a_functions_code_names_the_cell_that_compiled_it.__code__) is None
    )


def test_magics_can_be_unregistered_leaving_a_name_another_class_took(ip: Any) -> None:
    from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

    @magics_class
    class CompatProbeMagics(Magics):
        @line_magic
        def compat_probe(self, line: str) -> str:
            return "mine"

        @cell_magic
        def compat_probe_cell(self, line: str, cell: str) -> str:
            return "mine"

    @magics_class
    class Other(Magics):
        @line_magic
        def compat_probe(self, line: str) -> str:
            return "other"

    ip.register_magics(CompatProbeMagics)
    assert ip.run_line_magic("compat_probe", "") == "mine"
    names = {"line": ("compat_probe",), "cell": ("compat_probe_cell",)}
    private.unregister_magics(ip, "CompatProbeMagics", names)
    assert ip.find_line_magic("compat_probe") is None and ip.find_cell_magic("compat_probe_cell") is None
    assert "CompatProbeMagics" not in ip.magics_manager.registry
    ip.register_magics(CompatProbeMagics)
    ip.register_magics(Other)  # took the line magic's name since
    private.unregister_magics(ip, "CompatProbeMagics", names)
    assert ip.run_line_magic("compat_probe", "") == "other"
    private.unregister_magics(ip, "Other", {"line": ("compat_probe",)})


def _module_version(path: Path, value: int, bump: int) -> None:
    """A module that logs each time it runs (a re-execution, not a patch in place)."""
    log = path.with_suffix(".log")
    path.write_text(
        f"with open({str(log)!r}, 'a') as f:\n    f.write('run ')\n\ndef f():\n    return {value}\n"
    )
    stat = path.stat()
    os.utime(path, (stat.st_atime + bump, stat.st_mtime + bump))  # a newer mtime, whatever the clock


def test_autoreload_can_be_made_to_re_execute_and_told_a_module_is_current(
    ip: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "compat_probe_autoreload"
    path = tmp_path / f"{name}.py"
    runs = path.with_suffix(".log")
    _module_version(path, 1, 0)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    ip.run_line_magic("load_ext", "autoreload")
    ip.run_line_magic("autoreload", "2")
    try:
        ip.run_cell(f"import {name}")
        ip.run_cell("pass")  # autoreload keeps the module's source and mtime from now on
        module = sys.modules[name]
        # Left alone, IPython 9 patches the changed function into the module without running it.
        _module_version(path, 2, 10)
        ip.run_cell("pass")
        assert module.f() == 2 and runs.read_text() == "run "
        # Declined: the module is run again, as a fresh import would.
        _module_version(path, 3, 20)
        private.decline_autoreload_patching(ip, [name])
        ip.run_cell("pass")
        assert module.f() == 3 and runs.read_text() == "run run "
        # Reloaded by us and told: not reloaded again.
        _module_version(path, 4, 30)
        importlib.reload(module)
        private.tell_autoreload(ip, module)
        private.decline_autoreload_patching(ip, [name])
        ip.run_cell("pass")
        assert module.f() == 4 and runs.read_text() == "run run run "
    finally:
        ip.run_line_magic("autoreload", "0")


# --- the boundary itself ------------------------------------------------------------------------

PACKAGE = Path(private.__file__).parent
FOREIGN = ("fastapi", "starlette", "uvicorn", "httpx", "IPython", "ipykernel")
# Public-looking names that are other libraries' internals all the same.
INTERNAL_NAMES = {
    "dependant": "FastAPI's dependency tree of a route",
    "dependency_overrides_provider": "where FastAPI looks overrides up",
    "user_middleware": "Starlette's registered middleware list",
    "middleware_stack": "Starlette's built stack",
    "parent_header": "ipykernel's current request",
    "magics_manager": "IPython's magic tables and registry",
    "deduper_reloader": "IPython's %autoreload engine",
    "modules_mtimes": "IPython's %autoreload engine",
    "source_by_modname": "IPython's %autoreload engine",
    "_getframe": "the interpreter's call stack",
    "lifespan_context": "Starlette's lifespan, kept on the router",
    "original_router": "FastAPI's private included-router entry",
    "include_context": "FastAPI's private included-router entry",
    "format_code_name": "IPython's labels for cell code",
}
# Attributes of the user's functions that FastAPI reads a signature from: writing them changes
# user code, which only _compat.retype_in_place and _compat.retyped_copy do.
SIGNATURE_DUNDERS = {"__defaults__", "__kwdefaults__", "__annotations__"}
# Underscore names that are public API by convention.
PUBLIC_UNDERSCORE = {
    "_repr_html_": "IPython's rich display protocol",
    "_repr_mimebundle_": "IPython's rich display protocol",
    "_exit": "os._exit, the documented exit without cleanup",
    "_asdict": "namedtuple API",
    "_replace": "namedtuple API",
    "_fields": "namedtuple API",
}
# (module, attribute): why it may stay outside _compat.py. Empty: httpx's `Response._content`
# went with %%http's own body reader.
ALLOWED: dict[tuple[str, str], str] = {}


def _own_underscore_names(trees: dict[str, ast.Module]) -> set[str]:
    """Underscore names kernel_ext defines itself: its functions, classes, and attributes it
    assigns on `self`/`cls` or in a class body."""
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
                if isinstance(node, ast.ClassDef):
                    for stmt in node.body:
                        targets = (
                            stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
                        )
                        names.update(t.id for t in targets if isinstance(t, ast.Name))
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id in ("self", "cls")
            ):
                names.add(node.attr)
    return {n for n in names if n.startswith("_")}


def _foreign_private_names() -> set[str]:
    """The underscore attributes of the objects kernel_ext handles from those libraries: one of
    these is foreign even where kernel_ext happens to use the same name for its own."""
    import httpx
    import uvicorn
    from fastapi.routing import APIRoute
    from ipykernel.kernelbase import Kernel
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.extensions.autoreload import AutoreloadMagics, ModuleReloader
    from IPython.testing.globalipapp import start_ipython
    from starlette.applications import Starlette
    from starlette.routing import Mount, Router

    app, router = FastAPI(), APIRouter()
    router.get("/x")(lambda: 1)
    app.include_router(router)
    response = httpx.Response(200, content=b"", request=httpx.Request("GET", "http://x"))
    response.read()  # what a read response holds
    with httpx.Client() as client:
        objects: list[Any] = [client, response]
    objects += [app, router, app.router, app.router.routes[-1], router.routes[0], Mount("/m", app=app)]
    objects += [uvicorn.Server(uvicorn.Config(app)), Starlette(), Router()]
    autoreload = AutoreloadMagics(shell=start_ipython() or InteractiveShell.instance())
    objects += [autoreload, autoreload._reloader]
    classes = [APIRoute, InteractiveShell, AutoreloadMagics, ModuleReloader, Kernel, httpx.AsyncClient]
    names = {n for c in [*classes, *map(type, objects)] for n in dir(c)}
    names |= {n for o in objects for n in vars(o)}
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def _attribute_uses(tree: ast.Module) -> Iterator[tuple[ast.AST, str, ast.AST, bool]]:
    """(node, attribute name, the object's expression, written?) for `x.name` and
    `getattr/setattr/hasattr(x, "name")`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            yield node, node.attr, node.value, isinstance(node.ctx, ast.Store)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            yield node, node.args[1].value, node.args[0], node.func.id in ("setattr", "delattr")


def _foreign_private_imports(tree: ast.Module) -> Iterator[tuple[ast.AST, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in FOREIGN:
                parts = node.module.split(".") + [a.name for a in node.names]
                if any(p.startswith("_") for p in parts):
                    yield node, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in FOREIGN and any(p.startswith("_") for p in parts):
                    yield node, alias.name


def test_only_compat_touches_other_libraries_internals() -> None:
    """Every use of FastAPI, Starlette, uvicorn, httpx or IPython internals is in _compat.py,
    where tests/test_compat.py pins it. Elsewhere an underscore attribute must be kernel_ext's
    own (defined somewhere in the package), and the internals above are not touched at all."""
    trees = {
        str(path.relative_to(PACKAGE)): ast.parse(path.read_text(), str(path))
        for path in sorted(PACKAGE.rglob("*.py"))
    }
    own = _own_underscore_names(trees) - _foreign_private_names()
    found = []
    for name, tree in trees.items():
        if name == "_compat.py":
            continue
        for node, module in _foreign_private_imports(tree):
            found.append(f"{name}:{node.lineno}: imports a private part of {module}")
        for node, attr, obj, written in _attribute_uses(tree):
            where = f"{name}:{getattr(node, 'lineno', '?')}: {ast.unparse(obj)}.{attr}"
            if (name, attr) in ALLOWED:
                continue
            if attr in INTERNAL_NAMES:
                found.append(f"{where} ({INTERNAL_NAMES[attr]})")
            elif attr in SIGNATURE_DUNDERS and written:
                found.append(f"{where} (rewrites a user function's signature)")
            elif (
                attr.startswith("_")
                and not attr.startswith("__")
                and attr not in own
                and attr not in PUBLIC_UNDERSCORE
                and not (isinstance(obj, ast.Name) and obj.id in ("self", "cls"))
            ):
                found.append(f"{where} (a private attribute kernel_ext does not define)")
    assert not found, "move these into kernel_ext/_compat.py with a pin test:\n" + "\n".join(found)


def test_the_boundary_check_finds_what_it_looks_for() -> None:
    source = (
        "import sys\nfrom fastapi.routing import _IncludedRouter\nimport fastapi._compat\n"
        "def f(route, fn, app):\n"
        "    sys._getframe(1); route.dependant; fn.__defaults__ = (); fn.__defaults__\n"
        "    app._foreign(); getattr(app, '_other', None); app._repr_html_()\n"
    )
    tree = ast.parse(source)
    imports = [module for _, module in _foreign_private_imports(tree)]
    assert imports == ["fastapi.routing", "fastapi._compat"]
    uses = {(attr, written) for _, attr, _, written in _attribute_uses(tree)}
    assert {("_getframe", False), ("dependant", False), ("__defaults__", True), ("_foreign", False)} <= uses
    assert ("_other", False) in uses
    # Names kernel_ext also defines for itself still count when they are those libraries' own.
    assert {"_content", "_reloader", "_mark_routes_changed", "_base_app"} <= _foreign_private_names()
    assert _own_underscore_names(
        {"x": ast.parse("class A:\n    _k = 1\n    def _m(self):\n        self._a = 1\n")}
    ) == {
        "_k",
        "_m",
        "_a",
    }


def test_fastapi_looks_an_override_up_per_request_with_get_on_the_apps_current_dict() -> None:
    """What _reload/_overrides.py's ChainedOverrides relies on: FastAPI reads
    `app.dependency_overrides` when a request comes (a dict set after the routes were made
    counts, for routes of included routers too), consults it whenever it is truthy (even empty),
    and asks `.get(call, call)`, so a dict subclass that answers `get` decides."""
    from typing import Annotated

    from fastapi.testclient import TestClient

    def old() -> str:
        return "old"

    def new() -> str:
        return "new"

    class Answering(dict):
        def __init__(self) -> None:
            super().__init__()
            self.asked: list[Any] = []

        def get(self, key: Any, default: Any = None) -> Any:
            self.asked.append(key)
            return new if key is old else default

        def __bool__(self) -> bool:
            return True

    def endpoint(v: Annotated[str, Depends(old)]) -> str:
        return v

    app, router = FastAPI(), APIRouter()
    app.get("/a")(endpoint)
    app.include_router(router, prefix="/r")
    router.get("/b")(endpoint)  # added after the include
    client = TestClient(app)
    assert client.get("/a").json() == "old"
    overrides = Answering()
    app.dependency_overrides = overrides
    assert client.get("/a").json() == "new" and client.get("/r/b").json() == "new"
    assert overrides.asked == [old, old]


def test_a_lifespan_runs_through_the_router_without_building_the_stack_and_can_be_replaced() -> None:
    """_serving/_lifespan.py drives each app's lifespan by hand through its router (so the app's
    middleware stack is not built and frozen); hot reload gives the app a redefined lifespan."""
    import asyncio
    import inspect
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    ran: list[str] = []

    @asynccontextmanager
    async def first(app: Any) -> AsyncIterator[dict[str, int]]:
        ran.append("first")
        yield {"k": 1}

    async def second(app: Any) -> AsyncIterator[dict[str, int]]:  # not wrapped: as a cell may define it
        ran.append("second")
        yield {"k": 2}

    app = FastAPI(lifespan=first)

    def drive() -> tuple[dict[str, Any], list[str]]:
        state: dict[str, Any] = {}
        sent: list[str] = []

        async def run() -> None:
            queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
            await queue.put({"type": "lifespan.startup"})
            await queue.put({"type": "lifespan.shutdown"})

            async def send(message: Any) -> None:
                sent.append(message["type"])

            scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": state, "app": app}
            await private.lifespan_app(app)(scope, queue.get, send)

        asyncio.run(run())
        return state, sent

    assert inspect.unwrap(private.current_lifespan(app)) is inspect.unwrap(first)
    assert drive() == ({"k": 1}, ["lifespan.startup.complete", "lifespan.shutdown.complete"])
    assert app.middleware_stack is None
    private.set_lifespan(app, second)
    assert inspect.unwrap(private.current_lifespan(app)) is second
    assert drive()[0] == {"k": 2} and ran == ["first", "second"]
    assert private.current_lifespan(object()) is None
