"""Bodies the explorer stops reading: endless streams, stalls, huge bodies, an interrupt."""

from __future__ import annotations

import _thread
import asyncio
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, StreamingResponse

from kernel_ext._explorer import Explorer
from tests.support.servers import serve
from tests.support.waiting import wait_for


def limits_app() -> FastAPI:
    app = FastAPI()
    app.state.streams_ended = 0  # /events streams whose client hung up

    @app.get("/events")
    def events(every: float = 0.1) -> StreamingResponse:
        async def forever() -> AsyncIterator[str]:
            n = 0
            try:
                while True:
                    yield f"data: {n}\n\n"
                    n += 1
                    await asyncio.sleep(every)
            finally:
                app.state.streams_ended += 1

        return StreamingResponse(forever(), media_type="text/event-stream")

    @app.get("/stall")
    def stall() -> StreamingResponse:
        async def one_then_nothing() -> AsyncIterator[str]:
            yield "first\n"
            await asyncio.sleep(30)
            yield "never\n"

        return StreamingResponse(one_then_nothing(), media_type="text/plain")

    @app.get("/big", response_class=PlainTextResponse)
    def big() -> str:
        return "x" * 5000

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FastAPI, str]]:
    app = limits_app()
    with serve(app) as url:
        yield app, url


@contextmanager
def hangs_up(app: FastAPI) -> Iterator[None]:
    """The block sends one /events request: afterwards the server sees its client go away."""
    ended = app.state.streams_ended
    yield
    wait_for(lambda: app.state.streams_ended > ended, what="the explorer to close the stream")


def test_an_endless_stream_stops_at_the_timeout_and_keeps_what_arrived(
    ex: Explorer, server: tuple[FastAPI, str]
) -> None:
    ex.select("GET", "/events")
    ex.timeout = 1
    with hangs_up(server[0]):
        r = ex.send()
    assert r is not None and r.status_code == 200
    assert r.text.startswith("data: 0\n\ndata: 1\n\n")
    assert "Still arriving after 1 s (ex.stream_timeout): stopped reading; showing the" in ex.output_text
    assert "data: 1" in ex.output_text
    assert ex.history[-1].cut_short and "cut short" in ex.history.select.options[0][0]


def test_stream_timeout_is_separate_from_the_wait_for_each_chunk(
    ex: Explorer, server: tuple[FastAPI, str]
) -> None:
    ex.select("GET", "/events")
    ex.timeout, ex.stream_timeout = 10, 0.5
    with hangs_up(server[0]):
        r = ex.send()
    assert r is not None and "Still arriving after 0.5 s" in ex.output_text  # not after 10 s
    ex.stream_timeout = None
    assert ex.stream_timeout is None


def test_the_send_button_is_not_held_by_an_endless_stream(ex: Explorer, server: tuple[FastAPI, str]) -> None:
    ex.select("GET", "/events")
    ex.timeout = 1
    with hangs_up(server[0]):
        ex.send_button.click()
    assert ex.output_text.startswith("Still arriving after 1 s")
    assert "HTTP 200 OK" in ex.output_text


def test_a_stalled_body_keeps_what_arrived(ex: Explorer) -> None:
    ex.select("GET", "/stall")
    ex.timeout = 0.5
    r = ex.send()
    assert r is not None and r.text == "first\n"
    assert ex.output_text.startswith("Nothing more arrived for 0.5 s (ex.timeout)")


def test_a_body_over_the_size_cap_is_cut(ex: Explorer) -> None:
    ex.select("GET", "/big")
    ex.max_body_bytes = 1000
    r = ex.send()
    assert r is not None and r.text == "x" * 1000
    assert ex.output_text.startswith("Larger than 1000 B (ex.max_body_bytes)")
    ex.max_body_bytes = 5000  # exactly the body's size: nothing is cut
    assert len(ex.send().text) == 5000
    assert "cut short" not in ex.history.select.options[0][0]


def test_interrupting_the_kernel_stops_the_stream_and_shows_what_arrived(ex: Explorer) -> None:
    ex.select("GET", "/events")
    ex.timeout, ex.stream_timeout = 5, 30
    streaming = threading.Event()
    ex.output.observe(lambda change: streaming.set(), "children")  # the live view is up

    def press_stop() -> None:  # what the kernel's stop button does, once the body is arriving
        if streaming.wait(20):
            time.sleep(0.3)
            _thread.interrupt_main()

    # interrupt_main() does nothing while SIGINT is ignored, as something run earlier in the same
    # test process may have left it: the kernel's stop button relies on Python's own handler.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    stopper = threading.Thread(target=press_stop, daemon=True)
    stopper.start()
    try:
        r = ex.send()
    finally:
        stopper.join()
        signal.signal(signal.SIGINT, previous)
    assert r is not None and r.text.startswith("data: 0\n\n")
    assert ex.output_text.startswith("Interrupted: stopped reading; showing the")


def test_the_live_view_says_how_long_it_reads(ex: Explorer) -> None:
    pages: list[str] = []
    ex.output.observe(lambda c: pages.extend(getattr(w, "value", "") for w in c["new"]), "children")
    ex.select("GET", "/events")
    ex.timeout, ex.stream_timeout = 5, 0.3
    ex.send()
    assert any("Read for up to 0.3 s (ex.stream_timeout)" in page for page in pages)


def test_a_test_cell_for_a_cut_response_streams_and_asserts_the_status(ex: Explorer) -> None:
    ex.select("GET", "/events")
    ex.stream_timeout = 0.3
    ex.send()
    code = ex.copy_as("test")
    assert "with httpx.stream(" in code and "assert response.status_code == 200" in code
    assert "response.text" not in code and "response.content" not in code
    namespace: dict[str, object] = {}
    exec(code, namespace)  # returns: the test never reads the endless body
