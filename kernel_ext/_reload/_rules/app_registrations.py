"""Middleware and exception handlers on every app the notebook holds, settled together.

An app reads both when it builds its middleware stack, so a change to either means building the
stack again. The served app's stack is the gateway's to rebuild (the caller is told); a
sub-app's is reset here, and the sub-app builds it again on its next request.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from starlette.applications import Starlette

from ... import _compat as private
from .exception_handlers import ExceptionHandlerSlots
from .middleware import MiddlewareSlots, retarget_middleware
from .records import AppState, CellRecord


class AppRegistrations:
    def __init__(self) -> None:
        self.middleware = MiddlewareSlots()
        self.handlers = ExceptionHandlerSlots()

    def settle(
        self,
        apps: Iterable[Starlette],
        served: Any,
        before: Mapping[int, AppState],
        record: CellRecord,
        stale_types: Collection[int],
        current: Callable[[], Mapping[int, Any]],
        replacing_own: bool,
    ) -> bool:
        """Record what the cell registered on each app (`before`: id(app) -> its state before
        the cell). `stale_types`, `current` and `replacing_own` are as the two rules take them.
        True if the served app's stack changed."""
        served_changed = False
        for app in apps:
            # An app first seen now (made by this cell, or imported from a module) brings what
            # it has as it is: only what a cell adds to an app it saw before is that cell's.
            state = before.get(id(app)) or AppState.of(app)
            changed = self.middleware.settle(app, state, record, replacing_own)
            changed |= retarget_middleware(app, stale_types, current)
            changed |= self.handlers.settle(app, state.handlers, record, stale_types, current, replacing_own)
            if app is served:
                served_changed = changed
            elif changed:
                private.reset_middleware_stack(app)
        return served_changed

    def drop_previous(
        self, apps: Iterable[Starlette], served: Any, previous: CellRecord, record: CellRecord
    ) -> bool:
        """Middleware and exception handlers a re-run or deleted cell no longer registers go.
        True if the served app's stack changed."""
        apps = list(apps)
        changed_apps = self.middleware.drop_previous(previous, record, apps)
        changed_tables = self.handlers.drop_previous(previous, record)
        served_changed = False
        for app in apps:
            if id(app) not in changed_apps and id(app.exception_handlers) not in changed_tables:
                continue
            if app is served:
                served_changed = True
            else:
                private.reset_middleware_stack(app)
        return served_changed
