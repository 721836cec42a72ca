"""What the reloader keeps per cell, and what settling one cell reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Router

from ... import _compat

MISSING = object()  # a name the namespace did not hold (None is a value like any other)
EVENT_LISTS = ("on_startup", "on_shutdown")


@dataclass
class AppState:
    """An app's middleware and handlers as they were before a cell: what the cell added is the
    difference. Copies, since the cell mutates the app's own lists and dicts."""

    app: Starlette
    middleware: list[Middleware]
    handlers: dict[Any, Any]
    events: dict[str, list[Any]] = field(default_factory=dict)  # on_startup/on_shutdown copies

    @classmethod
    def of(cls, app: Starlette) -> AppState:
        router = getattr(app, "router", None)
        events = {name: list(getattr(router, name, None) or ()) for name in EVENT_LISTS}
        return cls(app, _compat.registered_middleware(app), dict(app.exception_handlers), events)


@dataclass
class CellRecord:
    """What one cell registered on its last successful run."""

    routes: list[tuple[Router, BaseRoute]] = field(default_factory=list)
    middleware: list[tuple[Starlette, Middleware]] = field(default_factory=list)
    handlers: list[Registration] = field(default_factory=list)  # exception handlers
    events: list[Registration] = field(default_factory=list)  # on_event startup/shutdown


@dataclass(eq=False)
class Registration:
    """One value a cell put in a keyed table (exception handlers) or a list (event handlers)."""

    table: Any
    key: Any
    value: Any


@dataclass
class Changes:
    routes: int = 0
    rebuilt: int = 0
    middleware: bool = False
    warnings: list[str] = field(default_factory=list)
    startup: list[Any] = field(default_factory=list)  # handlers the running app has yet to run
    lifespan: bool = False  # the served app's lifespan read a name the cell rebound: run it again
    # Routes this cell took over from another live cell: (route, that cell's id).
    conflicts: list[tuple[BaseRoute, str]] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.routes or self.rebuilt or self.middleware)
