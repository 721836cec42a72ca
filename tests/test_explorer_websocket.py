"""kernel_ext._explorer._websocket: connect, send text/JSON, see messages, close."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, WebSocket

from kernel_ext._explorer import Explorer, ExplorerError
from tests.support.explorer_app import demo_app
from tests.support.servers import serve
from tests.support.waiting import wait_for


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FastAPI, str]]:
    app = demo_app()

    @app.websocket("/ws-auth")
    async def guarded(websocket: WebSocket) -> None:
        auth = websocket.headers.get("authorization", "")
        if auth != "Bearer good":
            await websocket.close(code=1008)
            return
        await websocket.accept()
        await websocket.send_json({"hello": "you"})
        await websocket.close(code=1000, reason="bye")

    with serve(app) as url:
        yield app, url


def test_connect_send_text_and_json_receive_close(ex: Explorer) -> None:
    ex.select("WS", "/ws/{room}")
    ex.set(room="lobby", name="ann")
    assert ex.send_button.description == "Connect" and ex.ws_area.children == (ex.ws_box,)
    assert ex.ws_connect()
    assert not ex.ws_send_button.disabled
    assert ex.ws_send("hi")
    assert ex.ws_send({"n": 1})
    assert ex.ws_receive() == "lobby/ann: hi"
    assert ex.ws_receive() == 'lobby/ann: {"n": 1}'
    assert ex.ws_messages == ["lobby/ann: hi", 'lobby/ann: {"n": 1}']
    ex.ws_close()
    assert ex.ws_send_button.disabled
    directions = [d for d, _ in ex.ws.log]
    assert directions[0] == "·" and directions[-1] == "·" and directions.count("→") == 2
    assert "closed (code 1000)" in ex.ws.log[-1][1]
    assert "→ hi" in ex.ws_log.value and "← lobby/ann: hi" in ex.ws_log.value


def test_widget_path(ex: Explorer) -> None:
    ex.select("WS", "/ws/{room}")
    ex.form.find("room").typed.value = "r2"
    ex.send_button.click()  # Connect
    assert ex.ws.connected
    ex.ws_message.value = '{"a": [1]}'
    ex.ws_send_button.click()
    assert ex.ws_receive() == 'r2/anon: {"a": [1]}'
    ex.ws_close_button.click()
    assert not ex.ws.connected


def test_headers_and_auth_go_into_the_handshake(ex: Explorer) -> None:
    ex.select("WS", "/ws-auth")
    assert not ex.ws_connect()
    assert "Handshake rejected with HTTP 403" in ex.ws.log[-1][1]
    ex.auth_bearer("good")
    assert ex.ws_connect()
    assert ex.ws_receive() == '{"hello":"you"}'
    wait_for(lambda: not ex.ws.connected, what="the socket to close")
    assert ex.ws.log[-1] == ("·", "closed (code 1000, bye)")


def test_send_without_connection_is_reported(ex: Explorer) -> None:
    ex.select("WS", "/ws/{room}")
    assert not ex.ws_send("x")
    assert ex.ws.log[-1] == ("✗", "Not connected: call ws_connect() first")
    assert ex.ws_receive(timeout=0.05) is None


def test_unknown_route_is_reported_not_raised(ex: Explorer, server: tuple[FastAPI, str]) -> None:
    _, url = server
    error = ex.ws.connect(url.replace("http", "ws") + "/no-such-socket", {}, 2.0)
    assert error is not None and "Handshake rejected with HTTP 403" in error


def test_websocket_methods_need_a_websocket_route(ex: Explorer) -> None:
    ex.select("GET", "/text")
    with pytest.raises(ExplorerError, match="Select a WebSocket route first"):
        ex.ws_connect()
    ex.select("WS", "/ws/{room}")
    with pytest.raises(ExplorerError, match="use ws_connect"):
        ex.send()


def test_close_closes_the_socket(server: tuple[FastAPI, str]) -> None:
    app, url = server
    ex = Explorer(lambda: app, url)
    ex.select("WS", "/ws/{room}")
    ex.ws_connect()
    ex.close()
    assert not ex.ws.connected and ex.closed
