"""Replaced definitions, held weakly: known while something still holds them, then forgotten.

A re-run cell replaces a class or a function; hot reload keeps facts about the old version (its
name, whether it was a model or a dependency, which warnings mention it) keyed by `id(old)`. The
old version itself is held only by a weak reference, so once nothing else holds it (no route, no
model that nests it, no name in the notebook) it is collected, and `collected()` then hands
back its id so those facts go too. Without this, every edit kept its old classes, functions and
routes alive for the rest of the session.

The weak reference's callback runs wherever the collector does (possibly on the server thread,
in the middle of a hook), so it only queues the id; the hooks drain the queue when it is safe.
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

Holder = Callable[[], Any]


class OldVersions:
    def __init__(self) -> None:
        self._holders: dict[int, Holder] = {}  # id(old) -> a weak reference to it (or a strong one)
        self._names: dict[int, str] = {}  # id(old) -> the name it was bound to
        self._by_name: dict[str, dict[int, Holder]] = {}
        self._dead: deque[int] = deque()  # filled by weakref callbacks, on any thread

    def add(self, old: Any, name: str) -> None:
        key = id(old)
        if key in self._names and self._names[key] != name:  # the id of one collected meanwhile
            self._by_name[self._names[key]].pop(key, None)
        self._holders[key] = self._by_name.setdefault(name, {})[key] = _holder(old, key, self._dead)
        self._names[key] = name

    def name_of(self, old_id: int) -> str:
        return self._names[old_id]

    def __contains__(self, old_id: int) -> bool:
        return old_id in self._names

    def __len__(self) -> int:
        return len(self._names)

    def names(self) -> list[str]:
        return list(self._by_name)

    def versions(self, name: str) -> list[Any]:
        """The old versions of `name` still alive, oldest first."""
        alive = (holder() for holder in self._by_name.get(name, {}).values())
        return [old for old in alive if old is not None]

    def collected(self) -> list[int]:
        """Ids of old versions collected since the last call; they are forgotten here."""
        gone = []
        while self._dead:
            key = self._dead.popleft()
            holder = self._holders.get(key)
            if holder is None or holder() is not None:  # already forgotten, or the id was reused
                continue
            del self._holders[key]
            name = self._names.pop(key)
            versions = self._by_name[name]
            del versions[key]
            if not versions:
                del self._by_name[name]
            gone.append(key)
        return gone


def _holder(old: Any, key: int, dead: deque[int]) -> Holder:
    try:
        return weakref.ref(old, lambda _ref: dead.append(key))
    except TypeError:  # not weakly referenceable (rare for a callable): kept for good
        return lambda: old
