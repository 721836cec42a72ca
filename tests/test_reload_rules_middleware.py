"""kernel_ext/_reload/_rules/middleware.py on bare FastAPI apps: no IPython, no server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from starlette.middleware.base import BaseHTTPMiddleware

from kernel_ext._compat import reset_middleware_stack
from kernel_ext._reload._rules.middleware import MiddlewareSlots, retarget_middleware
from kernel_ext._reload._rules.records import AppState, CellRecord

Next = Callable[[Request], Awaitable[Response]]


def stamp(version: str) -> Callable[[Request, Next], Awaitable[Response]]:
    async def add_version(request: Request, call_next: Next) -> Response:
        response = await call_next(request)
        response.headers["x-v"] = response.headers.get("x-v", "") + version + ";"
        return response

    return add_version


class Tag(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Next) -> Response:
        return await call_next(request)


def make_app() -> FastAPI:
    app = FastAPI()
    app.get("/")(lambda: "ok")
    return app


def run_cell(
    slots: MiddlewareSlots, app: FastAPI, version: str, *, replacing_own: bool = False
) -> CellRecord:
    """A cell running `@app.middleware("http")` with the same function name, settled."""
    reset_middleware_stack(app)  # what the reloader does before each cell
    before = AppState.of(app)
    app.middleware("http")(stamp(version))
    record = CellRecord()
    slots.settle(app, before, record, replacing_own)
    return record


def header(app: FastAPI) -> str:
    return TestClient(app).get("/").headers["x-v"]


def test_a_rerun_replaces_its_middleware_rather_than_stacking_it() -> None:
    slots, app = MiddlewareSlots(), make_app()
    run_cell(slots, app, "v1")
    run_cell(slots, app, "v2")
    assert header(app) == "v2;"
    assert len(app.user_middleware) == 1


def test_the_replacement_keeps_the_replaced_ones_place() -> None:
    slots, app = MiddlewareSlots(), make_app()
    run_cell(slots, app, "v1")
    app.add_middleware(Tag)  # another cell's, in front
    run_cell(slots, app, "v2")
    assert [m.cls for m in app.user_middleware] == [Tag, BaseHTTPMiddleware]  # not in front of Tag
    assert header(app) == "v2;"


def test_deleting_the_replacing_cell_brings_the_earlier_one_back() -> None:
    slots, app = MiddlewareSlots(), make_app()
    run_cell(slots, app, "v1")
    second = run_cell(slots, app, "v2")
    assert slots.drop_previous(second, CellRecord(), [app]) == {id(app)}
    reset_middleware_stack(app)
    assert header(app) == "v1;"


def test_a_modules_reload_replaces_its_own_for_good() -> None:
    slots, app = MiddlewareSlots(), make_app()
    run_cell(slots, app, "v1")
    second = run_cell(slots, app, "v2", replacing_own=True)
    slots.drop_previous(second, CellRecord(), [app])
    assert app.user_middleware == []


def test_middleware_the_cell_still_adds_stays() -> None:
    slots, app = MiddlewareSlots(), make_app()
    first = run_cell(slots, app, "v1")
    assert slots.drop_previous(first, first, [app]) == set()
    assert header(app) == "v1;"


def test_middleware_of_a_redefined_class_is_pointed_at_the_new_class() -> None:
    app = make_app()
    app.add_middleware(Tag)

    class NewTag(Tag):
        pass

    assert retarget_middleware(app, {id(Tag)}, lambda: {id(Tag): NewTag})
    assert app.user_middleware[0].cls is NewTag
    assert not retarget_middleware(app, {id(Tag)}, lambda: {})  # nothing stale any more
