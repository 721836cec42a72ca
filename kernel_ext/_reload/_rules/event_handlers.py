"""`@app.on_event("startup" / "shutdown")` handlers: a re-run cell replaces its own.

FastAPI appends each handler to `app.router.on_startup` / `on_shutdown`, so re-running a cell
would stack a second copy. The handlers a cell added are recorded; when the cell runs again
(or is deleted), those it no longer adds are taken out of the list.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from ... import _compat as private
from .records import EVENT_LISTS, AppState, CellRecord, Registration


def settle_events(
    app: Starlette, before: AppState | None, record: CellRecord, cell_id: str | None, served: bool
) -> list[Any]:
    """Record the handlers the cell added to `app`. Returns the startup handlers that the served
    app's lifespan, already past its startup, would otherwise never run."""
    router = getattr(app, "router", None)
    due: list[Any] = []
    for name in EVENT_LISTS:
        handlers = getattr(router, name, None)
        if not isinstance(handlers, list):
            continue
        if before is None:  # an app first seen now: what it has is not this cell's
            continue
        known = {id(h) for h in before.events.get(name, ())}
        new = [h for h in handlers if id(h) not in known]
        if not new:
            continue
        if cell_id is None:  # no cell to own them: a handler of the same name is replaced
            names = {getattr(h, "__qualname__", None) for h in new}
            handlers[:] = [h for h in handlers if id(h) not in known or h.__qualname__ not in names]
        record.events.extend(Registration(handlers, name, h) for h in new)
        if name == "on_startup" and served and private.runs_event_handlers(app):
            due += new
    return due


def drop_previous_events(previous: CellRecord, record: CellRecord) -> None:
    """Event handlers a re-run or deleted cell no longer adds: a re-run replaces, not stacks."""
    keep = {id(e) for e in record.events}
    for entry in previous.events:
        if id(entry) not in keep:
            entry.table[:] = [h for h in entry.table if h is not entry.value]
