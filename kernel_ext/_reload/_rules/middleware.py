"""Middleware a re-run cell adds replaces its earlier copy, in that copy's place in the stack.

`app.add_middleware` and `@app.middleware("http")` insert at the front of the app's list, so a
re-run cell would stack a second copy ("v1;v2;" in a header). Two entries are the same
middleware when they have the same class, or the same dispatch function (see `middleware_key`).
Each replacement remembers what it replaced, so deleting its cell brings that one back.
Settling only edits the app's list; building the stack again is the caller's job.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware

from ... import _compat as private
from .._routes import middleware_key
from .._shadows import Shadows
from .records import AppState, CellRecord


class MiddlewareSlots:
    def __init__(self) -> None:
        self.shadows: Shadows[Middleware] = Shadows()  # what each live entry replaced

    def settle(self, app: Starlette, before: AppState, record: CellRecord, replacing_own: bool) -> bool:
        """Record the middleware the cell added to `app`; each takes the place of the entry it
        replaces. `replacing_own`: what it replaces is not to come back (a module's reload).
        True if the list changed."""
        current = private.registered_middleware(app)
        known = {id(m) for m in before.middleware}
        new = [m for m in current if id(m) not in known]
        if not new:
            return False
        record.middleware.extend((app, m) for m in new)
        # add_middleware inserts at the front, so the first of equal keys is the newest. It takes
        # the slot of the one it replaces: a fresh run would have put it there.
        newest: dict[Hashable, Middleware] = {}
        for m in new:
            newest.setdefault(middleware_key(m), m)
        slot: dict[int, Middleware | None] = {}  # id(old) -> what takes its place (None: dropped)
        placed: set[int] = set()
        for m in current:
            replacement = newest.get(middleware_key(m)) if id(m) in known else None
            if replacement is None:
                continue
            if id(replacement) in placed:
                slot[id(m)] = None
            else:
                slot[id(m)] = replacement
                placed.add(id(replacement))
                if not replacing_own:
                    self.shadows.push(replacement, m)
        private.set_user_middleware(app, _in_slots(current, slot, known, placed))
        return True

    def drop_previous(self, previous: CellRecord, record: CellRecord, apps: Iterable[Starlette]) -> set[int]:
        """Middleware a re-run or deleted cell no longer adds goes; what it replaced comes back.
        Returns the ids of the apps of `apps` whose list changed."""
        keep = {id(m) for _, m in record.middleware}
        gone: dict[int, dict[int, Middleware | None]] = {}  # id(app) -> id(entry) -> below
        for app, m in previous.middleware:
            if id(m) in keep:
                continue
            below, serving = self.shadows.remove(m)
            if serving:
                gone.setdefault(id(app), {})[id(m)] = below
        changed: set[int] = set()
        for app in apps:
            replacement = gone.get(id(app), {})
            registered = private.registered_middleware(app)
            settled = [replacement.get(id(m), m) for m in registered]
            remaining = [m for m in settled if m is not None]
            if len(remaining) == len(registered) and all(
                a is b for a, b in zip(remaining, registered, strict=True)
            ):
                continue
            private.set_user_middleware(app, remaining)
            changed.add(id(app))
        return changed


def retarget_middleware(
    app: Starlette, stale_types: Collection[int], current: Callable[[], Mapping[int, Any]]
) -> bool:
    """Middleware added as a class that has been redefined since: a fresh run would add the new
    class. Changed in place, so records and replacement keys still know the entry. `current()`
    maps id(old class) -> its current version. True if any entry changed."""
    stale = [m for m in private.registered_middleware(app) if id(m.cls) in stale_types]
    if not stale:
        return False
    newest = current()
    changed = False
    for m in stale:
        new = newest.get(id(m.cls))
        if isinstance(new, type):
            private.set_middleware_class(m, new)
            changed = True
    return changed


def _in_slots(
    current: list[Middleware], slot: dict[int, Middleware | None], known: set[int], placed: set[int]
) -> list[Middleware]:
    """`current` with each replaced entry's slot given to its replacement (or emptied), and the
    replacements' own entries at the front dropped."""
    settled: list[Middleware] = []
    for m in current:
        if id(m) in slot:
            taker = slot[id(m)]
            if taker is not None:
                settled.append(taker)
        elif id(m) in known or id(m) not in placed:
            settled.append(m)
    return settled
