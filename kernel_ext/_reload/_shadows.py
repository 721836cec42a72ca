"""What each live definition replaced, so that taking it away brings the older one back.

Cell A defines GET /x, cell B redefines it: B's route serves in A's slot. If B is then deleted, or
edited to define something else, a fresh run would serve A's route again; so the reloader keeps,
for each replacement, the entry it replaced. Each slot's history is a doubly linked list: an entry
that becomes obsolete (its cell re-ran without it, or was deleted) is spliced out, so whatever is
brought back is always an entry that a live cell still defines.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Shadows(Generic[T]):
    def __init__(self) -> None:
        self._below: dict[int, T] = {}  # id(entry) -> the entry it replaced
        self._above: dict[int, T] = {}  # id(entry) -> the entry that replaced it

    def push(self, new: T, old: T) -> None:
        """`new` took `old`'s place."""
        self._below[id(new)] = old
        self._above[id(old)] = new

    def replace(self, old: T, new: T) -> None:
        """`new` stands for `old` from now on (the same slot, rebuilt): it takes its history."""
        below = self._below.pop(id(old), None)
        above = self._above.pop(id(old), None)
        if below is not None:
            self._below[id(new)] = below
            self._above[id(below)] = new
        if above is not None:
            self._above[id(new)] = above
            self._below[id(above)] = new

    def remove(self, entry: T) -> tuple[T | None, bool]:
        """`entry` is obsolete: splice it out of its slot's history.

        Returns the entry it had replaced (None if none), and whether `entry` was serving (no
        newer entry had replaced it). Only a serving entry's replacement is to be brought back.
        """
        below = self._below.pop(id(entry), None)
        above = self._above.pop(id(entry), None)
        if above is not None:
            if below is not None:
                self._below[id(above)] = below
                self._above[id(below)] = above
            else:
                self._below.pop(id(above), None)
        elif below is not None:
            self._above.pop(id(below), None)
        return below, above is None

    def __len__(self) -> int:
        return len(self._below)
