"""Concurrent HTTP clients in their own thread and event loop, recording every outcome."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

# Judges one response: None if acceptable, else a short description of what was wrong.
Check = Callable[[httpx.Response], str | None]


@dataclass
class ClientLog:
    path: str
    answers: list[Any] = field(default_factory=list)  # decoded JSON bodies, in order
    problems: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # connection-level failures


@dataclass
class LoadReport:
    clients: list[ClientLog]

    @property
    def requests(self) -> int:
        return sum(len(c.answers) + len(c.errors) for c in self.clients)

    @property
    def errors(self) -> list[str]:
        return [e for c in self.clients for e in c.errors]

    @property
    def problems(self) -> list[str]:
        return [p for c in self.clients for p in c.problems]

    def summary(self) -> str:
        kinds = Counter(e.split(":")[0] for e in self.errors) + Counter(self.problems)
        return f"{self.requests} requests; {dict(kinds.most_common(8))}"


class Load:
    """`clients` concurrent clients looping on their paths until `stop()`.

    Half keep their connection alive, half close it after each response, so swaps are tested
    both on open connections and on fresh accepts.
    """

    def __init__(self, base_url: str, paths: list[str], check: Check, timeout: float = 10.0) -> None:
        self.base_url = base_url
        self.check = check
        self.timeout = timeout
        self.logs = [ClientLog(path) for path in paths]
        self._tls = ssl.create_default_context()  # built once: each one costs ~0.2 s of CPU
        self._stop = threading.Event()
        self._running = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        self._running.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def count(self) -> int:
        """Responses and errors so far (read from another thread: approximate, never ahead)."""
        return sum(len(log.answers) + len(log.errors) for log in self.logs)

    def stop(self) -> LoadReport:
        self._stop.set()
        self._thread.join(self.timeout + 5)
        return LoadReport(self.logs)

    async def _main(self) -> None:
        tasks = [asyncio.create_task(self._client(log, i % 2 == 1)) for i, log in enumerate(self.logs)]
        await asyncio.sleep(0)
        self._running.set()
        await asyncio.gather(*tasks)

    async def _client(self, log: ClientLog, close: bool) -> None:
        headers = {"Connection": "close"} if close else {}
        client = httpx.AsyncClient(
            base_url=self.base_url, timeout=self.timeout, headers=headers, verify=self._tls
        )
        async with client:
            while not self._stop.is_set():
                try:
                    response = await client.get(log.path)
                except httpx.HTTPError as exc:
                    log.errors.append(f"{type(exc).__name__}: {log.path}: {exc}")
                    await asyncio.sleep(0.01)
                    continue
                problem = self.check(response)
                if problem is not None:
                    log.problems.append(problem)
                log.answers.append(_body(response))


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text
