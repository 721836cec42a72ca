"""The reading core shared by the explorer and %%http: bodies read up to a deadline or a size."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, StreamingResponse

from kernel_ext._http._read import BodyLimits, Cut, read_body
from tests.support.servers import serve


def reading_app() -> FastAPI:
    app = FastAPI()

    @app.get("/pause")
    def pause() -> StreamingResponse:
        async def two_then_silence() -> AsyncIterator[str]:
            yield "one\n"
            yield "two\n"
            await asyncio.sleep(3600)

        return StreamingResponse(two_then_silence(), media_type="text/plain")

    @app.get("/broken")
    def broken() -> StreamingResponse:
        async def then_fail() -> AsyncIterator[str]:
            yield "part\n"
            await asyncio.sleep(0.05)
            raise RuntimeError("the generator failed")

        return StreamingResponse(then_fail(), media_type="text/plain")

    @app.get("/big", response_class=PlainTextResponse)
    def big() -> str:
        return "x" * 5000

    return app


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve(reading_app()) as base:
        yield base


def read(url: str, path: str, limits: BodyLimits, read_timeout: float = 30) -> httpx.Response:
    with httpx.Client(timeout=read_timeout) as client:
        limits.start()
        response = client.send(client.build_request("GET", url + path), stream=True)
        read_body(response, limits)
        return response


def test_a_pause_is_woken_at_the_deadline_and_keeps_what_arrived(url: str) -> None:
    limits = BodyLimits(0.5)
    response = read(url, "/pause", limits)  # without the wake-up: a 30 s read timeout, STALLED
    assert limits.cut is Cut.DEADLINE
    assert response.text == "one\ntwo\n" and response.is_closed


def test_without_the_wake_up_a_pause_ends_at_the_read_timeout(url: str) -> None:
    limits = BodyLimits(30, wake_at_deadline=False)
    response = read(url, "/pause", limits, read_timeout=0.3)
    assert limits.cut is Cut.STALLED
    assert response.text == "one\ntwo\n"


def test_a_body_over_the_cap_is_cut_at_the_cap(url: str) -> None:
    limits = BodyLimits(30, max_bytes=1000)
    assert read(url, "/big", limits).text == "x" * 1000
    assert limits.cut is Cut.TOO_BIG
    exactly = BodyLimits(30, max_bytes=5000)
    assert len(read(url, "/big", exactly).content) == 5000 and exactly.cut is None


def test_a_body_that_breaks_off_says_so_and_keeps_what_arrived(url: str) -> None:
    limits = BodyLimits(30)
    response = read(url, "/broken", limits)
    assert limits.cut is Cut.BROKE_OFF and isinstance(limits.error, httpx.TransportError)
    assert response.text == "part\n"


def test_streamed_chunks_are_reported_as_they_arrive(url: str) -> None:
    heads: list[int] = []
    chunks: list[bytes] = []

    def on_stream(response: httpx.Response):
        heads.append(response.status_code)
        return chunks.append

    limits = BodyLimits(0.5, on_stream=on_stream)
    response = read(url, "/pause", limits)
    assert heads == [200] and b"".join(chunks) == response.content == b"one\ntwo\n"
    read(url, "/big", BodyLimits(30, on_stream=on_stream))  # a length: not a stream
    assert heads == [200]
