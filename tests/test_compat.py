"""Pins every FastAPI internal we touch: an upgrade that changes one fails here first."""

import warnings
from typing import Any

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

    from kernel_ext._compat import retarget_include, retarget_mount

    app, old, new = FastAPI(), APIRouter(), APIRouter()
    old.get("/x")(lambda: "old")
    new.get("/x")(lambda: "new")
    app.include_router(old, prefix="/p")
    sub_old, sub_new = FastAPI(), FastAPI()
    sub_new.get("/y")(lambda: "sub")
    app.mount("/m", sub_old)
    include, mount = app.router.routes[-2], app.router.routes[-1]
    app.router.routes[-2] = retarget_include(include, new)
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
    registered = private.user_middleware(app)
    assert [m.cls.__name__ for m in registered] == ["Tag", "Tag"]  # outermost (the last added) first
    registered.clear()  # a copy: the app keeps its own
    assert len(private.user_middleware(app)) == 2

    def tags() -> list[str]:
        stack = private.build_stack(app)

        async def serve(scope: Any, receive: Any, send: Any) -> None:
            await private.call_with_stack(app, stack, scope, receive, send)

        return TestClient(serve).get("/x").headers.get_list("x-tag")

    assert tags() == ["a", "b"]
    first = private.user_middleware(app)[1]
    private.set_user_middleware(app, [first])
    assert tags() == ["a"]
    private.set_middleware_class(first, _header_middleware("c"))
    assert tags() == ["c"]
    assert private.user_middleware(object()) == []
    assert private.build_stack(len) is len  # a plain ASGI callable is its own stack
