"""kernel_ext/_reload/_rules/exception_handlers.py on bare FastAPI apps: no IPython, no server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient

from kernel_ext._reload._rules.exception_handlers import ExceptionHandlerSlots
from kernel_ext._reload._rules.records import CellRecord


class OutOfStock(Exception):
    pass


def answer(text: str) -> Callable[[Request, Exception], Any]:
    async def out_of_stock(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse(text, status_code=409)

    return out_of_stock


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/")
    def buy() -> None:
        raise OutOfStock

    return app


def run_cell(slots: ExceptionHandlerSlots, app: FastAPI, text: str, key: type = OutOfStock) -> CellRecord:
    before = dict(app.exception_handlers)
    app.exception_handler(key)(answer(text))
    record = CellRecord()
    slots.settle(app, before, record, set(), dict, replacing_own=False)
    return record


def body(app: FastAPI) -> str:
    return TestClient(app, raise_server_exceptions=False).get("/").text


def test_the_handler_a_cell_sets_is_its_own() -> None:
    slots, app = ExceptionHandlerSlots(), make_app()
    record = run_cell(slots, app, "A")
    assert [(e.key, e.value) for e in record.handlers] == [(OutOfStock, app.exception_handlers[OutOfStock])]
    assert body(app) == "A"


def test_deleting_the_cell_that_replaced_a_handler_brings_the_earlier_back() -> None:
    slots, app = ExceptionHandlerSlots(), make_app()
    run_cell(slots, app, "A")
    second = run_cell(slots, app, "B")
    assert slots.drop_previous(
        second,
        CellRecord(),
    ) == {id(app.exception_handlers)}
    assert body(app) == "A"


def test_deleting_the_only_cell_that_set_a_handler_removes_it() -> None:
    slots, app = ExceptionHandlerSlots(), make_app()
    record = run_cell(slots, app, "A")
    slots.drop_previous(record, CellRecord())
    assert OutOfStock not in app.exception_handlers


def test_a_handler_set_before_any_cell_comes_back_too() -> None:
    slots, app = ExceptionHandlerSlots(), make_app()
    app.exception_handler(OutOfStock)(answer("before"))
    record = run_cell(slots, app, "A")
    slots.drop_previous(record, CellRecord())
    assert body(app) == "before"


def test_a_handler_keyed_by_a_redefined_class_is_keyed_by_the_new_one() -> None:
    slots, app = ExceptionHandlerSlots(), make_app()
    run_cell(slots, app, "A")

    class NewOutOfStock(Exception):
        pass

    before = dict(app.exception_handlers)
    record = CellRecord()
    changed = slots.settle(
        app, before, record, {id(OutOfStock)}, lambda: {id(OutOfStock): NewOutOfStock}, False
    )
    assert changed
    assert OutOfStock not in app.exception_handlers and NewOutOfStock in app.exception_handlers
    assert record.handlers == []  # still the cell's that set it, not this one's
