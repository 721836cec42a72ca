"""A WebSocket client session: connect, send text or JSON, collect what arrives, close."""

from __future__ import annotations

import inspect
import json
import queue
import threading
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection, connect

# websockets ≥ 17 wants `legacy=True` to return the connection directly (no warning), and
# `proxy=None` keeps an HTTP(S)_PROXY in the environment away from the local server.
_CONNECT_OPTIONS: dict[str, Any] = {
    name: value
    for name, value in (("legacy", True), ("proxy", None))
    if name in inspect.signature(connect).parameters
}

Message = str | bytes
LogEntry = tuple[str, str]  # ("→" | "←" | "·", text)


class WebSocketSession:
    """One connection at a time; received messages are kept in `messages` and a queue."""

    def __init__(self, on_log: Callable[[LogEntry], None]) -> None:
        self.messages: list[Message] = []
        self.log: list[LogEntry] = []
        self._on_log = on_log
        self._queue: queue.Queue[Message] = queue.Queue()
        self._conn: ClientConnection | None = None
        self._thread: threading.Thread | None = None

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def connect(self, url: str, headers: dict[str, str], timeout: float) -> str | None:
        """Open a connection; returns an error message instead of raising."""
        self.close()
        try:
            self._conn = connect(url, additional_headers=headers, open_timeout=timeout, **_CONNECT_OPTIONS)
        except InvalidStatus as error:
            return self.fail(f"Handshake rejected with HTTP {error.response.status_code}: {url}")
        except (OSError, TimeoutError, WebSocketException) as error:
            return self.fail(f"Could not connect to {url}: {error}")
        self._note("·", f"connected to {url}")
        self._thread = threading.Thread(target=self._receive_loop, args=(self._conn,), daemon=True)
        self._thread.start()
        return None

    def send(self, data: Any) -> str | None:
        if self._conn is None:
            return self.fail("Not connected: call ws_connect() first")
        message: Message = data if isinstance(data, str | bytes) else json.dumps(data)
        try:
            self._conn.send(message)
        except (ConnectionClosed, OSError) as error:
            self._conn = None
            return self.fail(f"Send failed, the connection is closed ({error})")
        self._note("→", _text(message))
        return None

    def receive(self, timeout: float) -> Message | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def _receive_loop(self, conn: ClientConnection) -> None:
        try:
            for message in conn:
                self.messages.append(message)
                self._queue.put(message)
                self._note("←", _text(message))
        except ConnectionClosed:
            pass
        code = conn.close_code
        reason = conn.close_reason or ""
        self._note("·", f"closed (code {code}{', ' + reason if reason else ''})")
        if self._conn is conn:
            self._conn = None

    def fail(self, message: str) -> str:
        """Log an error line and return it."""
        self._note("✗", message)
        return message

    def _note(self, direction: str, text: str) -> None:
        entry = (direction, text)
        self.log.append(entry)
        self._on_log(entry)


def _text(message: Message) -> str:
    if isinstance(message, bytes):
        return f"<{len(message)} bytes> {message[:64]!r}"
    return message
