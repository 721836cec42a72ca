"""The gateway: 503 before an app, and /openapi.json never rendered from a half-updated app."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from kernel_ext._compat import build_stack
from kernel_ext._serving._gateway import Gateway, Served


def get(gateway: Gateway, path: str) -> httpx.Response:
    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=gateway)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get(path)

    return asyncio.run(fetch())


def test_no_app_is_a_503_saying_what_to_define() -> None:
    gateway = Gateway("api")
    response = get(gateway, "/")
    assert response.status_code == 503 and "api = FastAPI()" in response.json()["detail"]


def broken_openapi_app() -> tuple[FastAPI, list[bool]]:
    app = FastAPI()
    broken = [False]
    original = app.openapi

    def openapi() -> dict:
        if broken[0]:
            app.openapi_schema = None
            raise KeyError("half-updated routes")
        return original()

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/x")
    def x() -> int:
        return 1

    return app, broken


def test_openapi_during_a_cell_answers_with_the_last_schema_that_rendered() -> None:
    app, broken = broken_openapi_app()
    gateway = Gateway()
    gateway.current = Served(app, build_stack(app))
    assert "/x" in get(gateway, "/openapi.json").json()["paths"]
    broken[0] = True
    gateway.cell_running = True
    response = get(gateway, "/openapi.json")
    assert response.status_code == 200 and "/x" in response.json()["paths"]


def test_openapi_failing_outside_a_cell_is_a_real_error() -> None:
    app, broken = broken_openapi_app()
    gateway = Gateway()
    gateway.current = Served(app, build_stack(app))
    get(gateway, "/openapi.json")
    broken[0] = True
    try:
        response = get(gateway, "/openapi.json")
    except KeyError:
        return  # raised through the ASGI transport: not masked
    assert response.status_code == 500
