"""Drive one app's ASGI lifespan by hand, so apps can be swapped while the server keeps running."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import Message

from .._compat import lifespan_app
from .._errors import KernelExtError


class LifespanError(KernelExtError, RuntimeError):
    """The app's lifespan failed at startup or shutdown; the message says how."""


class Lifespan:
    """startup() runs the app's lifespan up to its `yield`; shutdown() runs the rest."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        self._started = asyncio.Event()
        self._finished = asyncio.Event()
        self._failure: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        self._task = asyncio.create_task(self._run())
        await self._queue.put({"type": "lifespan.startup"})
        await asyncio.wait(
            [asyncio.ensure_future(self._started.wait()), self._task],
            return_when=asyncio.FIRST_COMPLETED,
        )
        if self._failure:
            raise LifespanError(self._failure)

    async def shutdown(self) -> None:
        if self._task is None or self._task.done():
            return
        await self._queue.put({"type": "lifespan.shutdown"})
        await self._finished.wait()
        if self._failure:
            raise LifespanError(self._failure)

    async def _run(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
            "app": self.app,
        }
        try:
            await lifespan_app(self.app)(scope, self._queue.get, self._send)
        except BaseException as exc:  # the user's lifespan code raised
            if not self._finished.is_set():
                self._failure = f"{type(exc).__name__}: {exc}"
        finally:
            self._started.set()
            self._finished.set()

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind.endswith(".failed"):
            self._failure = message.get("message") or kind
        if kind.startswith("lifespan.startup"):
            self._started.set()
        elif kind.startswith("lifespan.shutdown"):
            self._finished.set()
