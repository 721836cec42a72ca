"""The request log: access records kept as tuples, formatted as uvicorn's lines when read."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
from fastapi import FastAPI

from kernel_ext._compat import build_stack
from kernel_ext._serving._gateway import Gateway, Served
from kernel_ext._serving._requestlog import LogCapture, RequestLog, RequestLogHandler, format_access


def serve(log: RequestLog, app: object | None, *paths: str) -> list[int]:
    gateway = Gateway(record_access=log.access)
    if app is not None:
        gateway.current = Served(app, build_stack(app))

    async def fetch() -> list[int]:
        transport = httpx.ASGITransport(app=gateway, raise_app_exceptions=False, client=("10.0.0.5", 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return [(await client.get(path)).status_code for path in paths]

    return asyncio.run(fetch())


def test_an_access_line_reads_like_uvicorns() -> None:
    line = format_access((0.0, ("127.0.0.1", 5000), "GET", b"/items/7", b"q=x", "1.1", 200))
    assert line.endswith(' INFO    uvicorn.access: 127.0.0.1:5000 - "GET /items/7?q=x HTTP/1.1" 200')
    assert '"GET /a%22b HTTP/1.1"' in format_access((0.0, None, "GET", b'/a"b', b"", "1.1", 404))


def test_access_records_and_text_keep_their_order() -> None:
    log = RequestLog()
    log.write("printed in the endpoint\n")
    log.access((0.0, ("127.0.0.1", 1), "GET", b"/p", b"", "1.1", 200))
    log.write("Traceback...\nZeroDivisionError: kaboom")
    lines = log.lines()
    assert lines[0] == "printed in the endpoint"
    assert lines[1].endswith('"GET /p HTTP/1.1" 200')
    assert lines[2:] == ["Traceback...", "ZeroDivisionError: kaboom"]


def test_a_live_view_gets_each_access_line_as_it_happens() -> None:
    log, seen = RequestLog(), []
    log.add_sink(seen.append)
    log.access((0.0, None, "POST", b"/x", b"", "1.1", 201))
    assert len(seen) == 1 and seen[0].endswith('"POST /x HTTP/1.1" 201\n')


def test_the_gateway_records_every_request_with_its_status() -> None:
    app = FastAPI()

    @app.get("/ok")
    def ok() -> int:
        return 1

    @app.get("/boom")
    def boom() -> int:
        raise ZeroDivisionError("kaboom")

    log = RequestLog()
    assert serve(log, app, "/ok?a=1", "/missing", "/boom") == [200, 404, 500]
    assert [line.split("uvicorn.access: ")[1] for line in log.lines()] == [
        '10.0.0.5:4242 - "GET /ok?a=1 HTTP/1.1" 200',
        '10.0.0.5:4242 - "GET /missing HTTP/1.1" 404',
        '10.0.0.5:4242 - "GET /boom HTTP/1.1" 500',
    ]


def test_a_500_that_uvicorn_sends_itself_is_recorded() -> None:
    """An app that raises before it starts a response: uvicorn answers 500 past our `send`."""

    async def raw(scope: dict, receive: object, send: object) -> None:
        raise RuntimeError("before any response")

    async def silent(scope: dict, receive: object, send: object) -> None:
        return None  # never starts a response

    async def call(app: object) -> None:
        gateway = Gateway(record_access=log.access)
        gateway.current = Served(app, app)
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/r",
            "raw_path": b"/r",
            "query_string": b"",
            "headers": [],
        }

        async def send(message: dict) -> None:
            raise AssertionError("nothing is sent")

        with contextlib.suppress(RuntimeError):
            await gateway(scope, None, send)

    for app in (raw, silent):
        log = RequestLog()
        asyncio.run(call(app))
        assert [line.rsplit(" ", 1)[1] for line in log.lines()] == ["500"]


def test_no_app_yet_is_recorded_as_a_503() -> None:
    log = RequestLog()
    assert serve(log, None, "/") == [503]
    assert log.lines()[0].endswith('"GET / HTTP/1.1" 503')


def test_uvicorns_own_access_logger_is_left_without_handlers() -> None:
    """uvicorn checks `hasHandlers()` per connection and then skips its LogRecord per request."""
    capture = LogCapture(RequestLog())
    capture.install()
    try:
        access = logging.getLogger("uvicorn.access")
        # (pytest adds its own capture handlers to loggers that do not propagate; a kernel has none)
        assert not access.propagate and not any(isinstance(h, RequestLogHandler) for h in access.handlers)
        assert logging.getLogger("uvicorn.error").hasHandlers()
    finally:
        capture.uninstall()
