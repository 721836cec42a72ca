"""The one ASGI app uvicorn serves. It forwards each request to the app that is current."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ._fastapi_private import call_with_stack
from ._lifespan import Lifespan
from ._proxy import apply_forwarded_prefix

# True while our server handles a request; the request log routes output by it.
in_request: contextvars.ContextVar[bool] = contextvars.ContextVar("kernel_ext_in_request", default=False)

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

    def __post_init__(self) -> None:
        self.lifespan = Lifespan(self.app)


def build_stack(app: Any) -> ASGIApp:
    builder = getattr(app, "build_middleware_stack", None)
    return builder() if builder is not None else app


class Gateway:
    def __init__(self, app_name: str = "app") -> None:
        self.app_name = app_name
        self.current: Served | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return  # each app's lifespan is driven by the session, not by uvicorn
        apply_forwarded_prefix(scope)  # behind jupyter-server-proxy: /docs must find openapi.json
        served = self.current  # read once: a swap mid-request must not mix two apps
        token = in_request.set(True)
        try:
            if served is None:
                await self._no_app(scope, receive, send)
                return
            if served.lifespan.state:
                scope["state"] = dict(served.lifespan.state)
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

    def rebuild_stack(self) -> None:
        """Pick up middleware and exception handlers added since the stack was built."""
        served = self.current
        if served is not None:
            served.stack = build_stack(served.app)
