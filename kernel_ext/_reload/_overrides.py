"""`app.dependency_overrides` that also knows which dependencies were redefined.

Routes keep the `Depends(old)` they were created with. Hot reload maps each old version to the
newest in `reloaded`, kept apart from the user's own entries: `clear()` or printing the dict only
touches what the user put there. FastAPI looks an override up once, with `.get(call, call)`; this
`.get` follows the chain through both, so a user's override of the newest version (new → fake)
also reaches routes that still hold an old one (old → new → fake).

`reloaded` holds each old version weakly: its mapping lasts as long as something (a route's
`Depends`, an outer dependency, the notebook) still holds the old version, and goes with it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

_NONE = object()


class Redirects:
    """old version -> its newest version, for as long as the old version lives."""

    def __init__(self) -> None:
        # id(old) -> (a weak reference to old, the newest version). FastAPI asks once per
        # dependency per request, so a lookup is one dict get and one call.
        self._entries: dict[int, tuple[Callable[[], Any], Any]] = {}

    def __setitem__(self, old: Any, new: Any) -> None:
        key = id(old)
        entries = self._entries
        try:
            # Runs as `old` is collected, before its id can be reused: popping is safe.
            ref: Callable[[], Any] = weakref.ref(old, lambda _ref: entries.pop(key, None))
        except TypeError:  # not weakly referenceable: kept, as before
            ref = lambda: old  # noqa: E731
        entries[key] = (ref, new)

    def target(self, old: Any) -> Any:
        """The newest version `old` maps to, or `_NONE`."""
        entry = self._entries.get(id(old))
        if entry is None or entry[0]() is not old:
            return _NONE
        return entry[1]

    def __contains__(self, old: Any) -> bool:
        return self.target(old) is not _NONE

    def __getitem__(self, old: Any) -> Any:
        target = self.target(old)
        if target is _NONE:
            raise KeyError(old)
        return target

    def __len__(self) -> int:
        return len(self._entries)


class ChainedOverrides(dict[Any, Any]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reloaded = Redirects()

    def get(self, key: Any, default: Any = None) -> Any:
        value, found, seen = key, False, {id(key)}
        while True:
            if _holds(self, value):
                value = dict.__getitem__(self, value)  # the user's entry wins
            elif (target := self.reloaded.target(value)) is not _NONE:
                value = target
            else:
                break
            found = True
            if id(value) in seen:
                break
            seen.add(id(value))
        return value if found else default

    def __bool__(self) -> bool:
        # FastAPI skips override lookups when the dict is falsy.
        return dict.__len__(self) > 0 or len(self.reloaded) > 0


def _holds(mapping: dict[Any, Any], key: Any) -> bool:
    try:
        return dict.__contains__(mapping, key)
    except TypeError:  # an unhashable callable can't be a key
        return False
