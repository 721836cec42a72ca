"""uvicorn in a daemon thread with its own event loop.

Phases, as in uvicorn's own server: start (bind in the caller's thread, so a taken port is a
clean error there) → serve (thread: uvicorn's startup → main_loop → shutdown) → stop
(`should_exit`, then `force_exit` if requests are still in flight).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import uvicorn

from .. import _compat
from .._errors import KernelExtError

T = TypeVar("T")

DEFAULT_PORT = 8000
PORT_ENV = "KERNEL_EXT_PORT"
STOP_GRACE_SECONDS = 1  # an int: uvicorn types timeout_graceful_shutdown as int | None
ACCEPTED_GRACE_SECONDS = 0.05


class ServerError(KernelExtError, RuntimeError):
    """A one-line, user-facing reason the server could not start."""


class _Server(uvicorn.Server):
    """uvicorn's server, except that shutdown stops accepting a moment before it closes idle
    connections. One accepted just before may not have sent its request yet; closing it then
    drops that request (the client sees a reset), where a moment later it would be answered."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        _compat.stop_accepting(self)
        await asyncio.sleep(ACCEPTED_GRACE_SECONDS)
        await super().shutdown(sockets)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # Lets a restart rebind at once while old connections sit in TIME_WAIT; a port another
    # process listens on still fails.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def bind_for(host: str, requested: int | None) -> socket.socket:
    """Bind the requested port, else $KERNEL_EXT_PORT, else 8000 or the next free one."""
    env_port = os.environ.get(PORT_ENV)
    if requested is None and env_port:
        try:
            requested = int(env_port)
        except ValueError:
            raise ServerError(f"{PORT_ENV}={env_port!r} is not a port number.") from None
    if not host:
        raise ServerError("The host is empty; give an address such as 127.0.0.1.")
    if requested is not None:
        if not 0 <= requested <= 65535:
            raise ServerError(f"Port {requested} is not a port number (0-65535; 0 picks a free one).")
        try:
            return bind(host, requested)
        except (OSError, OverflowError) as exc:
            raise ServerError(_bind_failure(host, requested, exc)) from None
    for port in range(DEFAULT_PORT, DEFAULT_PORT + 100):
        with contextlib.suppress(OSError):
            return bind(host, port)
    try:
        return bind(host, 0)
    except OSError as exc:
        raise ServerError(_bind_failure(host, 0, exc)) from None


def _bind_failure(host: str, port: int, exc: OSError | OverflowError) -> str:
    if getattr(exc, "errno", None) == errno.EADDRINUSE:
        return (
            f"Port {port} on {host} is already in use by another process. "
            f"Stop that process, or choose another port: %api start --port N "
            f"(or set {PORT_ENV})."
        )
    return f"Cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc}."


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class ServerThread:
    def __init__(self, app: Any, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server: uvicorn.Server | None = None
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self.server is not None

    def start(
        self,
        timeout: float = 10.0,
        *,
        before_serving: Callable[[], Awaitable[None]] | None = None,
        sock: socket.socket | None = None,
    ) -> None:
        """Bind (or take over `sock`), then serve. `before_serving` runs on the server's loop
        before the first request is accepted; connections wait in the listen backlog meanwhile.
        """
        if sock is None:
            sock = bind_for(self.host, self.requested_port)
        self._sock = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,
            timeout_graceful_shutdown=STOP_GRACE_SECONDS,
            ws_ping_interval=None,
        )
        self.server = _Server(config)
        self.loop = _new_loop()
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(sock, started, before_serving), name="kernel_ext-server", daemon=True
        )
        self._thread.start()
        if not started.wait(timeout) or not self.server.started:
            self.stop()
            raise ServerError(self.error or f"The server did not start within {timeout:.0f} s.")

    def _serve(
        self,
        sock: socket.socket,
        started: threading.Event,
        before_serving: Callable[[], Awaitable[None]] | None,
    ) -> None:
        assert self.loop is not None and self.server is not None
        asyncio.set_event_loop(self.loop)
        watcher = self.loop.create_task(self._signal_when_started(started))
        try:
            if before_serving is not None:
                self.loop.run_until_complete(before_serving())
            self.loop.run_until_complete(self.server.serve(sockets=[sock]))
        except BaseException as exc:  # includes uvicorn's SystemExit: it must end here
            self.error = f"The server stopped: {type(exc).__name__}: {exc}"
        finally:
            watcher.cancel()
            started.set()
            sock.close()
            with contextlib.suppress(Exception):
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    async def _signal_when_started(self, started: threading.Event) -> None:
        assert self.server is not None
        while not self.server.started:
            await asyncio.sleep(0.002)
        started.set()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the server's loop from the kernel thread and wait for it."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(
        self, timeout: float = STOP_GRACE_SECONDS + 0.5, *, keep_socket: bool = False
    ) -> socket.socket | None:
        """Stop serving. With keep_socket, return a duplicate of the listening socket, so a
        successor can take over the port while new connections wait in the backlog."""
        if self.server is None or self._thread is None:
            return None
        kept = self._sock.dup() if keep_socket and self._sock is not None else None
        self.server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.server.force_exit = True
            self._thread.join(1.0)
        self.server = None
        self._sock = None
        return kept
