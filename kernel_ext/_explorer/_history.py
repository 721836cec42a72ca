"""Requests sent from the explorer, newest last; any one can be sent again."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from ._request import RequestSpec

MAX_ENTRIES = 200


@dataclass
class Entry:
    spec: RequestSpec
    response: httpx.Response | None
    elapsed_ms: float
    error: str = ""
    sent_at: float = field(default_factory=time.time)
    cut_short: str = ""  # why only part of the body was read
    count: int | None = None  # the execution count of the last cell run when it was sent

    @property
    def request_key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        """What makes two entries the same request, for diffing their responses."""
        return (self.spec.method, self.spec.path, tuple(self.spec.params))

    @property
    def status_code(self) -> int | None:
        return self.response.status_code if self.response is not None else None

    def label(self, index: int) -> str:
        clock = time.strftime("%H:%M:%S", time.localtime(self.sent_at))
        outcome = str(self.status_code) if self.response is not None else "error"
        if self.cut_short:
            outcome += ", cut short"
        cell = f", In [{self.count}]" if self.count is not None else ""
        return (
            f"#{index} {clock} {self.spec.method} {self.spec.path} → {outcome} "
            f"({self.elapsed_ms:.0f} ms{cell})"
        )


class History:
    """The entries, oldest first; `listeners` are called after each change (the panel redraws)."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.listeners: list[Callable[[], None]] = []

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)
        del self.entries[:-MAX_ENTRIES]
        self._changed()

    def clear(self) -> None:
        self.entries.clear()
        self._changed()

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()

    def previous(self, index: int) -> int | None:
        """The newest entry before `index` that sent the same request, if any."""
        key = self.entries[index].request_key
        for earlier in range(index - 1, -1, -1):
            if self.entries[earlier].request_key == key:
                return earlier
        return None

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> Entry:
        return self.entries[index]
