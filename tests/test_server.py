import socket

import httpx
import pytest

from kernel_ext._serving import _server as _server
from kernel_ext._serving._server import PORT_ENV, ServerError, ServerThread, bind_for
from tests.support.ports import free_port, port_is_free


async def hello(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hi"})


@pytest.fixture
def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def test_requested_port_taken_is_a_one_line_error_naming_it(listener: int) -> None:
    with pytest.raises(ServerError) as info:
        bind_for("127.0.0.1", listener)
    message = str(info.value)
    assert str(listener) in message and "already in use" in message and "\n" not in message


def test_environment_port_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv(PORT_ENV, str(port))
    sock = bind_for("127.0.0.1", None)
    assert sock.getsockname()[1] == port
    sock.close()


def test_bad_environment_port_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PORT_ENV, "eighty")
    with pytest.raises(ServerError, match="not a port number"):
        bind_for("127.0.0.1", None)


def test_default_port_taken_moves_to_the_next(monkeypatch: pytest.MonkeyPatch, listener: int) -> None:
    monkeypatch.delenv(PORT_ENV, raising=False)
    monkeypatch.setattr(_server, "DEFAULT_PORT", listener)
    sock = bind_for("127.0.0.1", None)
    assert sock.getsockname()[1] != listener
    sock.close()


def test_server_thread_serves_and_stop_frees_the_port() -> None:
    server = ServerThread(hello, port=free_port())
    server.start()
    assert server.running
    assert httpx.get(f"http://127.0.0.1:{server.port}/").text == "hi"
    server.stop()
    assert port_is_free(server.port)


def test_restart_on_the_same_port_right_away() -> None:
    server = ServerThread(hello, port=free_port())
    server.start()
    httpx.get(f"http://127.0.0.1:{server.port}/")
    server.stop()
    again = ServerThread(hello, port=server.port)
    again.start()
    assert httpx.get(f"http://127.0.0.1:{again.port}/").text == "hi"
    again.stop()


def test_a_failing_serve_never_raises_systemexit_into_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    async def exit_like_uvicorn(self, sockets=None):
        raise SystemExit(1)

    monkeypatch.setattr(_server.uvicorn.Server, "serve", exit_like_uvicorn)
    server = ServerThread(hello, port=free_port())
    with pytest.raises(ServerError, match="SystemExit"):
        server.start(timeout=5)
