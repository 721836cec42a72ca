"""Reading a response body up to a deadline or a size: what arrived stands as the whole body.

The one reading core of the explorer and `%%http`. A response sent with `stream=True` is read
through a limited stream, so its own `read()` stores what arrived (public httpx API only);
`BodyLimits.cut` says why a body is incomplete, and each caller words that its own way.
"""

from __future__ import annotations

import contextlib
import enum
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx

# Called with a streamed response's head; returns what to call with each chunk as it arrives.
StreamStart = Callable[[httpx.Response], Callable[[bytes], None]]


class Cut(enum.Enum):
    """Why a body stopped before its end."""

    DEADLINE = "still arriving at the deadline"
    STALLED = "nothing arrived within the read timeout"
    TOO_BIG = "larger than the size cap"
    BROKE_OFF = "the connection broke"
    INTERRUPTED = "the kernel was interrupted"


@dataclass
class BodyLimits:
    """How long and how much of one body to read; after the read, why it stopped early.

    `wake_at_deadline`: a read waiting for the next chunk is woken at the deadline (the socket
    is shut), so a stream that pauses ends on time. Without it the deadline is checked as
    chunks arrive, and a pause ends at the client's read timeout (`Cut.STALLED`).
    """

    seconds: float
    max_bytes: int | None = None
    wake_at_deadline: bool = True
    on_stream: StreamStart | None = None
    deadline: float = 0.0  # time.monotonic(); set by `start`
    cut: Cut | None = None
    error: Exception | None = None  # what broke the body off (Cut.BROKE_OFF)

    def start(self) -> BodyLimits:
        """Start the clock: call it when the request is sent."""
        self.deadline = time.monotonic() + self.seconds
        return self

    def stop(self, cut: Cut, error: Exception | None = None) -> None:
        self.cut, self.error = cut, error


def read_body(response: httpx.Response, limits: BodyLimits) -> bytes:
    """Read the body of a response sent with `stream=True` within `limits` (started when the
    request was sent), and close it. What arrived becomes `response.content`; `limits.cut`
    says why it is incomplete. Never raises for the body: a broken one is `Cut.BROKE_OFF`."""
    limits.cut, limits.error = None, None
    on_stream = limits.on_stream
    on_chunk = on_stream(response) if on_stream is not None and is_streamed(response) else None
    assert isinstance(response.stream, httpx.SyncByteStream)  # a sync client's
    # `stream` is the response's public byte stream: reading through the wrapper lets
    # `read()` store the body as far as it got.
    response.stream = _LimitedStream(response.stream, limits, on_chunk, _socket_of(response))
    try:
        return response.read()
    finally:
        response.close()


def size_text(count: int) -> str:
    """A byte count as people read it: 512 B, 1.5 KB, 10.0 MB."""
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KB"
    return f"{count / 1024 / 1024:.1f} MB"


def is_streamed(response: httpx.Response) -> bool:
    # A body without a length (chunked) may still be coming; an encoded one can't be shown raw.
    headers = response.headers
    return "content-length" not in headers and "content-encoding" not in headers


class _LimitedStream(httpx.SyncByteStream):
    """Yields a body until it ends, the deadline passes, the size cap is reached, the
    connection breaks or the kernel is interrupted; then `limits.cut` says which."""

    def __init__(
        self,
        inner: httpx.SyncByteStream,
        limits: BodyLimits,
        on_chunk: Callable[[bytes], None] | None,
        sock: socket.socket | None,
    ) -> None:
        self._inner = inner
        self._limits = limits
        self._on_chunk = on_chunk
        self._socket = sock if limits.wake_at_deadline else None

    def __iter__(self) -> Iterator[bytes]:
        with _Watchdog(self._socket, self._limits.deadline) as watchdog:
            yield from self._chunks(watchdog)

    def _chunks(self, watchdog: _Watchdog) -> Iterator[bytes]:
        limits, size = self._limits, 0
        chunks = iter(self._inner)
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            except httpx.TransportError as error:  # a read timeout, a dropped connection
                limits.stop(_cause(error, watchdog), error)
                return
            except KeyboardInterrupt:  # the kernel's stop button: keep what arrived
                limits.stop(Cut.INTERRUPTED)
                return
            cap = limits.max_bytes
            too_big = cap is not None and size + len(chunk) > cap
            if cap is not None:
                chunk = chunk[: cap - size]
            size += len(chunk)
            if self._on_chunk is not None:
                self._on_chunk(chunk)
            yield chunk
            if too_big:
                limits.stop(Cut.TOO_BIG)
                return
            if time.monotonic() >= limits.deadline:
                limits.stop(Cut.DEADLINE)
                return

    def close(self) -> None:
        self._inner.close()


def _cause(error: httpx.TransportError, watchdog: _Watchdog) -> Cut:
    if watchdog.fired:  # the socket was shut under the read
        return Cut.DEADLINE
    return Cut.STALLED if isinstance(error, httpx.ReadTimeout) else Cut.BROKE_OFF


class _Watchdog:
    """Shuts the response's socket at the deadline, to wake a read that would otherwise wait
    for a chunk that may never come (a stream that never ends, or pauses)."""

    def __init__(self, sock: socket.socket | None, deadline: float) -> None:
        self.fired = False
        self._socket = sock
        self._lock = threading.Lock()
        self._done = False
        self._timer = threading.Timer(max(deadline - time.monotonic(), 0.05), self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        if self._socket is not None:
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            if self._done or self._socket is None:
                return
            self.fired = True
            with contextlib.suppress(OSError):  # already closed
                # The plain socket's shutdown, also under TLS: SSLSocket.shutdown would drop
                # its SSL object while the reading thread still uses it.
                socket.socket.shutdown(self._socket, socket.SHUT_RDWR)


def _socket_of(response: httpx.Response) -> socket.socket | None:
    # httpcore's documented "network_stream" extension; absent for other transports.
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    return sock if isinstance(sock, socket.socket) else None
