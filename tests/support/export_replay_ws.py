"""The proof's WebSocket half: record what cells do over WebSockets, replay it elsewhere.

Notebooks (and the explorer) talk WebSocket through the `websockets` package's synchronous
client. The recorder wraps its `ClientConnection`: each handshake to the live server, each
message sent, each message received and each close becomes an event, numbered in one sequence
with the HTTP requests, so a replay runs them in the order the notebook did. Several
connections interleave as they did (client 1 sends, client 2 receives the broadcast).

A replay opens the same connections, sends the same messages, and where the notebook received
a message, receives one (or notes a timeout, or that the connection closed).
"""

from __future__ import annotations

import base64
import contextlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_HANDSHAKE_HEADERS = frozenset(
    {
        "host",
        "upgrade",
        "connection",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "user-agent",
    }
)
RECEIVE_TIMEOUT = 5.0


@dataclass
class WsEvent:
    seq: int
    conn: int  # which connection: the seq of its handshake
    op: str  # "connect" | "send" | "recv" | "close"
    target: str = ""  # path and query, for "connect"
    headers: list[tuple[str, str]] = field(default_factory=list)
    data: str | bytes | None = None  # for "send" and "recv"
    status: int | None = None  # the handshake's HTTP status, for "connect"


def encode(data: str | bytes | None) -> Any:
    if isinstance(data, bytes):
        return {"b64": base64.b64encode(data).decode()}
    return data


def decode(value: Any) -> str | bytes | None:
    if isinstance(value, dict) and "b64" in value:
        return base64.b64decode(value["b64"])
    return value


def event_record(event: WsEvent) -> dict[str, Any]:
    return {
        "kind": "ws",
        "seq": event.seq,
        "conn": event.conn,
        "op": event.op,
        "target": event.target,
        "headers": [list(pair) for pair in event.headers],
        "data": encode(event.data),
        "status": event.status,
    }


def event_from(record: dict[str, Any]) -> WsEvent:
    return WsEvent(
        record["seq"],
        record["conn"],
        record["op"],
        record.get("target", ""),
        [(k, v) for k, v in record.get("headers", [])],
        decode(record.get("data")),
        record.get("status"),
    )


# --- recording, in the kernel ------------------------------------------------------------------


def install_recorder(
    next_seq: Callable[[], int], write: Callable[[dict[str, Any]], None], ours: Callable[[str], bool]
) -> None:
    """Wrap websockets' sync client; `ours(host_header)` says whether a connection is recorded."""
    try:
        from websockets.exceptions import InvalidStatus
        from websockets.sync.client import ClientConnection
    except ImportError:  # no websockets: nothing to record
        return
    handshake, send, recv, close = (
        ClientConnection.handshake,
        ClientConnection.send,
        ClientConnection.recv,
        ClientConnection.close,
    )

    def record(event: WsEvent) -> None:
        write(event_record(event))

    def recorded_handshake(self: Any, additional_headers: Any = None, *args: Any, **kwargs: Any) -> None:
        status: int | None = None
        try:
            handshake(self, additional_headers, *args, **kwargs)
            status = self.response.status_code
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise
        finally:
            request = getattr(self, "request", None)
            if status is not None and request is not None and ours(request.headers.get("Host", "")):
                seq = next_seq()
                self._kernel_ext_conn = seq
                headers = [
                    (k, v) for k, v in request.headers.raw_items() if k.lower() not in _HANDSHAKE_HEADERS
                ]
                record(WsEvent(seq, seq, "connect", request.path, headers, None, status))

    def recorded_send(self: Any, message: Any, *args: Any, **kwargs: Any) -> None:
        conn = getattr(self, "_kernel_ext_conn", None)
        if conn is not None and isinstance(message, str | bytes):
            record(WsEvent(next_seq(), conn, "send", data=message))
        send(self, message, *args, **kwargs)

    def recorded_recv(self: Any, *args: Any, **kwargs: Any) -> Any:
        message = recv(self, *args, **kwargs)
        conn = getattr(self, "_kernel_ext_conn", None)
        if conn is not None and isinstance(message, str | bytes):
            record(WsEvent(next_seq(), conn, "recv", data=message))
        return message

    def recorded_close(self: Any, *args: Any, **kwargs: Any) -> None:
        conn = getattr(self, "_kernel_ext_conn", None)
        if conn is not None:
            self._kernel_ext_conn = None
            record(WsEvent(next_seq(), conn, "close"))
        close(self, *args, **kwargs)

    ClientConnection.handshake = recorded_handshake  # type: ignore[method-assign]
    ClientConnection.send = recorded_send  # type: ignore[method-assign]
    ClientConnection.recv = recorded_recv  # type: ignore[method-assign]
    ClientConnection.close = recorded_close  # type: ignore[method-assign]


# --- replaying ---------------------------------------------------------------------------------


class Player:
    """Plays WebSocket events against a server; `play` returns what a "connect" or "recv" got:
    (status, data) with status the handshake's, 1 for a message, 0 for none (timeout, closed)."""

    def __init__(self, base_url: str) -> None:
        self.ws_url = base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1).rstrip("/")
        self.connections: dict[int, Any] = {}

    def play(self, event: WsEvent) -> tuple[int, bytes] | None:
        from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
        from websockets.sync.client import connect

        if event.op == "connect":
            options = _connect_options(connect)
            try:
                self.connections[event.conn] = connect(
                    self.ws_url + event.target,
                    additional_headers=event.headers,
                    open_timeout=RECEIVE_TIMEOUT,
                    **options,
                )
            except InvalidStatus as exc:
                return exc.response.status_code, b""
            except (OSError, TimeoutError, WebSocketException) as exc:
                return 0, str(exc).encode()
            return 101, b""
        connection = self.connections.get(event.conn)
        if connection is None:
            return (0, b"not connected") if event.op == "recv" else None
        try:
            if event.op == "send" and event.data is not None:
                connection.send(event.data)
            elif event.op == "recv":
                message = connection.recv(timeout=RECEIVE_TIMEOUT)
                return 1, message.encode() if isinstance(message, str) else message
            elif event.op == "close":
                self.connections.pop(event.conn, None)
                connection.close()
        except TimeoutError:
            return 0, b"nothing arrived"
        except ConnectionClosed:
            self.connections.pop(event.conn, None)
            return (0, b"connection closed") if event.op == "recv" else None
        return None

    def close(self) -> None:
        for connection in self.connections.values():
            with contextlib.suppress(Exception):  # a broken connection: nothing left to close
                connection.close()
        self.connections.clear()


def recorded_answer(event: WsEvent) -> tuple[int, bytes] | None:
    """What the notebook got for the event, in `Player.play`'s terms."""
    if event.op == "connect":
        return event.status or 0, b""
    if event.op == "recv":
        data = event.data
        return 1, data.encode() if isinstance(data, str) else (data or b"")
    return None


def _connect_options(connect: Callable[..., Any]) -> dict[str, Any]:
    # websockets >= 17 wants `legacy=True` to return the connection directly, and `proxy=None`
    # keeps an HTTP(S)_PROXY in the environment away from a local server.
    parameters = inspect.signature(connect).parameters
    return {name: value for name, value in (("legacy", True), ("proxy", None)) if name in parameters}
