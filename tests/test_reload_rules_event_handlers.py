"""kernel_ext/_reload/_rules/event_handlers.py on bare FastAPI apps: no IPython, no server."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from kernel_ext._reload._rules.event_handlers import drop_previous_events, settle_events
from kernel_ext._reload._rules.records import AppState, CellRecord


def on_event(app: FastAPI, event: str) -> Callable[[Any], Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # on_event is deprecated, still used
        return app.on_event(event)


def make_handler(name: str) -> Callable[[], None]:
    def handler() -> None:
        pass

    handler.__qualname__ = name
    return handler


def run_cell(app: FastAPI, cell_id: str | None, *names: str, served: bool = True) -> tuple[CellRecord, list]:
    """What a cell adding startup handlers `names` to `app` leaves, settled."""
    before = AppState.of(app)
    for name in names:
        on_event(app, "startup")(make_handler(name))
    record = CellRecord()
    due = settle_events(app, before, record, cell_id, served=served)
    return record, due


def test_the_handlers_a_cell_added_are_its_own() -> None:
    app = FastAPI()
    record, _ = run_cell(app, "c1", "fill")
    assert [e.value for e in record.events] == app.router.on_startup
    assert [e.key for e in record.events] == ["on_startup"]


def test_a_rerun_replaces_its_handler_rather_than_stacking_it() -> None:
    app = FastAPI()
    first, _ = run_cell(app, "c1", "fill")
    second, _ = run_cell(app, "c1", "fill")
    drop_previous_events(first, second)
    assert app.router.on_startup == [second.events[0].value]


def test_a_deleted_cell_takes_its_handlers_and_leaves_the_others() -> None:
    app = FastAPI()
    mine, _ = run_cell(app, "c1", "fill")
    other, _ = run_cell(app, "c2", "warm")
    drop_previous_events(mine, CellRecord())
    assert app.router.on_startup == [other.events[0].value]


def test_without_a_cell_id_a_handler_of_the_same_name_is_replaced() -> None:
    # nbclient sends no cell id: a re-run is recognised by the handler's name.
    app = FastAPI()
    run_cell(app, None, "fill")
    record, _ = run_cell(app, None, "fill")
    assert app.router.on_startup == [record.events[0].value]


def test_an_app_first_seen_now_brings_its_handlers_as_they_are() -> None:
    app = FastAPI()
    on_event(app, "shutdown")(make_handler("close"))
    record = CellRecord()
    assert settle_events(app, None, record, "c1", served=True) == []
    assert record.events == []


def test_startup_handlers_added_to_the_served_app_are_due_now() -> None:
    # Its lifespan is past startup: the caller runs them, as a fresh run would have.
    app = FastAPI()
    record, due = run_cell(app, "c1", "fill")
    assert due == [record.events[0].value]
    _, due = run_cell(app, "c2", "other", served=False)
    assert due == []


def test_startup_handlers_are_not_due_where_the_lifespan_ignores_them() -> None:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield

    app = FastAPI(lifespan=lifespan)  # FastAPI then never runs on_event handlers
    _, due = run_cell(app, "c1", "fill")
    assert due == []
