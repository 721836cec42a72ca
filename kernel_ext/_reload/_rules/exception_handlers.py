"""Exception handlers: the last registration wins, and deleting it brings the earlier back.

`app.exception_handler(Exc)` writes a dict entry, so a re-run replaces by itself. What needs a
rule: a handler keyed by a class the notebook has since redefined (a fresh run would key it by
the new class), and a cell edited or deleted so that it no longer sets a handler (the value an
earlier live cell set comes back, as a fresh run would leave it).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from starlette.applications import Starlette

from .._shadows import Shadows
from .records import MISSING, CellRecord, Registration


class ExceptionHandlerSlots:
    def __init__(self) -> None:
        self.shadows: Shadows[Registration] = Shadows()  # what each live entry replaced
        self.live: dict[tuple[int, Any], Registration] = {}  # (id(table), key) -> entry serving

    def settle(
        self,
        app: Starlette,
        before: Mapping[Any, Any],
        record: CellRecord,
        stale_types: Collection[int],
        current: Callable[[], Mapping[int, Any]],
        replacing_own: bool,
    ) -> bool:
        """Record the handlers the cell set on `app` (`before`: its handlers before the cell).
        `stale_types` are ids of redefined classes; `current()` maps them to the new ones.
        True if the app's handlers differ from `before`."""
        now = app.exception_handlers
        rekeyed = self._rekey(now, stale_types, current)
        for key, value in now.items():
            if before.get(key, MISSING) is value or id(key) in rekeyed:
                continue
            entry = Registration(now, key, value)
            record.handlers.append(entry)
            live = self.live.get((id(now), key))
            if live is None and key in before:  # from before any cell we watched
                live = Registration(now, key, before[key])
            if live is not None and not replacing_own:
                self.shadows.push(entry, live)
            self.live[(id(now), key)] = entry
        return len(now) != len(before) or any(before.get(k) is not v for k, v in now.items())

    def _rekey(
        self, now: dict[Any, Any], stale_types: Collection[int], current: Callable[[], Mapping[int, Any]]
    ) -> set[int]:
        """Key by the new class the handlers keyed by a redefined one. Returns the new keys' ids:
        those entries stay their own cell's, not this cell's."""
        stale = [k for k in now if id(k) in stale_types]
        newest = current() if stale else {}
        rekeyed: set[int] = set()
        for key in stale:
            handler = now.pop(key)
            entry = self.live.pop((id(now), key), None)
            new = newest.get(id(key))
            if isinstance(new, type) and new not in now:
                now[new] = handler
                rekeyed.add(id(new))
                if entry is not None:
                    entry.key = new
                    self.live[(id(now), new)] = entry
        return rekeyed

    def drop_previous(self, previous: CellRecord, record: CellRecord) -> set[int]:
        """Handlers a re-run or deleted cell no longer sets: the older value comes back.

        Returns the ids of the handler dicts changed."""
        keep = {id(e) for e in record.handlers}
        changed: set[int] = set()
        for entry in previous.handlers:
            if id(entry) in keep:
                continue
            below, serving = self.shadows.remove(entry)
            table = entry.table
            if not serving or table.get(entry.key, MISSING) is not entry.value:
                continue
            if below is not None:
                table[entry.key] = below.value
                self.live[(id(table), entry.key)] = below
            else:
                del table[entry.key]
                self.live.pop((id(table), entry.key), None)
            changed.add(id(table))
        return changed
