"""The one ASGI app uvicorn serves. It forwards each request to the app that is current."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._compat import build_stack, call_with_stack
from ._hostcheck import LOOPBACK_NAMES, HostPolicy, refused_host
from ._lifespan import Lifespan
from ._proxy import apply_forwarded_prefix

# True while our server handles a request; the request log routes output by it.
in_request: contextvars.ContextVar[bool] = contextvars.ContextVar("kernel_ext_in_request", default=False)

OPENAPI_WAIT_STEP = 0.01  # seconds
OPENAPI_WAIT_STEPS = 500  # at most 5 s for a running cell before rendering anyway

NO_APP_MESSAGE = (
    "kernel_ext is running but no app is defined yet. In a cell, run: "
    "from fastapi import FastAPI; app = FastAPI()"
)


@dataclass
class Served:
    """One app as served: its middleware stack and its running lifespan."""

    app: Any
    stack: ASGIApp
    lifespan: Lifespan = field(init=False)
    last_openapi: list[Message] | None = None  # the last /openapi.json response that rendered

    def __post_init__(self) -> None:
        self.lifespan = Lifespan(self.app)


# (time, client, method, raw path, query string, HTTP version, status): see RequestLog.access.
AccessRecorder = Callable[[tuple[Any, ...]], None]


class Gateway:
    def __init__(self, app_name: str = "app", record_access: AccessRecorder | None = None) -> None:
        self.app_name = app_name
        self.current: Served | None = None
        self.cell_running = False  # set by the session's hooks
        self.host_policy = HostPolicy(LOOPBACK_NAMES)  # the session sets it for its bind address
        self.record_access = record_access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return  # each app's lifespan is driven by the session, not by uvicorn
        if scope["type"] != "http" or self.record_access is None:
            await self._serve(scope, receive, send)
            return
        recorder = _AccessLine(scope, send, self.record_access)
        try:
            await self._serve(scope, receive, recorder)
        except Exception:
            recorder.failed()  # uvicorn answers 500 itself, past our `send`
            raise
        else:
            if not recorder.started:
                recorder.failed()  # likewise: "ASGI callable returned without starting response"

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = refused_host(self.host_policy, scope)
        if refused is not None:
            await self.host_policy.refuse(scope, receive, send, refused)
            return
        apply_forwarded_prefix(scope)  # behind jupyter-server-proxy: /docs must find openapi.json
        served = self.current  # read once: a swap mid-request must not mix two apps
        token = in_request.set(True)
        try:
            if served is None:
                await self._no_app(scope, receive, send)
                return
            if served.lifespan.state:
                scope["state"] = dict(served.lifespan.state)
            if self._is_openapi(served, scope):
                await self._openapi(served, scope, receive, send)
                return
            await call_with_stack(served.app, served.stack, scope, receive, send)
        finally:
            in_request.reset(token)

    async def _no_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013, "reason": "no app defined"})
            return
        message = NO_APP_MESSAGE.replace("app = FastAPI()", f"{self.app_name} = FastAPI()")
        response = JSONResponse({"detail": message}, status_code=503)
        await response(scope, receive, send)

    @staticmethod
    def _is_openapi(served: Served, scope: Scope) -> bool:
        url = getattr(served.app, "openapi_url", None)
        return bool(url) and scope["type"] == "http" and scope["path"] == scope.get("root_path", "") + url

    async def _openapi(self, served: Served, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI cannot render a schema from a half-updated app: a running cell may have
        appended a second version of a route or model, and the hook may swap the route list
        between the two passes rendering makes. Then answer with the last schema that rendered,
        or render again once the cell has finished."""
        during_cell = self.cell_running
        messages, failure = await self._render_openapi(served, scope, receive)
        if failure is not None or messages[0].get("status") != 200:
            if (during_cell or self.cell_running) and served.last_openapi is not None:
                messages, failure = served.last_openapi, None
            else:
                for _ in range(OPENAPI_WAIT_STEPS):
                    if not self.cell_running:
                        break
                    await asyncio.sleep(OPENAPI_WAIT_STEP)
                messages, failure = await self._render_openapi(served, scope, receive)
        for message in messages:
            await send(message)
        if failure is not None:
            raise failure

    @staticmethod
    async def _render_openapi(
        served: Served, scope: Scope, receive: Receive
    ) -> tuple[list[Message], Exception | None]:
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        try:
            await call_with_stack(served.app, served.stack, scope, receive, keep)
        except Exception as exc:
            return messages, exc
        if messages and messages[0].get("status") == 200:
            served.last_openapi = messages
        return messages, None

    def rebuild_stack(self) -> None:
        """Pick up middleware and exception handlers added since the stack was built."""
        served = self.current
        if served is not None:
            served.stack = build_stack(served.app)


class _AccessLine:
    """The `send` an app gets: on the response's start, it records the access line (as
    uvicorn's access logger would, at the same moment) and passes every message on."""

    __slots__ = ("record", "scope", "send", "started")

    def __init__(self, scope: Scope, send: Send, record: AccessRecorder) -> None:
        self.scope, self.send, self.record, self.started = scope, send, record, False

    async def __call__(self, message: Message) -> None:
        if not self.started and message["type"] == "http.response.start":
            self.started = True
            self._record(message["status"])
        await self.send(message)

    def failed(self) -> None:
        if not self.started:
            self.started = True
            self._record(500)

    def _record(self, status: int) -> None:
        scope = self.scope
        self.record(
            (
                time.time(),
                scope.get("client"),
                scope["method"],
                scope.get("raw_path") or scope["path"].encode(),
                scope.get("query_string", b""),
                scope.get("http_version", "1.1"),
                status,
            )
        )
