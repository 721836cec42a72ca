"""What the explorer is about to send, and sending it with httpx (streaming aware)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from .._render import size_text

FileTuple = tuple[str, bytes, str]  # filename, content, content type


@dataclass
class RequestSpec:
    """A request in the terms a person writes it: used to send it and to generate code."""

    method: str
    path: str  # with path parameters filled in, e.g. /items/5
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    basic_auth: tuple[str, str] | None = None
    json: Any = None
    has_json: bool = False
    content: str | bytes | None = None
    data: dict[str, str | list[str]] | None = None
    files: list[tuple[str, FileTuple]] | None = None

    def url(self, base_url: str) -> str:
        if self.path.startswith(("http://", "https://")):
            return self.path
        return base_url.rstrip("/") + self.path

    def build(self, client: httpx.Client, base_url: str) -> httpx.Request:
        headers = dict(self.headers)
        if self.basic_auth is not None:
            headers["Authorization"] = basic_header(*self.basic_auth)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return client.build_request(
            self.method,
            self.url(base_url),
            params=self.params or None,
            headers=headers,
            json=self.json if self.has_json else None,
            content=self.content,
            data=self.data or None,
            files=self.files or None,
        )


def basic_header(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return f"Basic {token}"


@dataclass
class Outcome:
    """What one send produced: a response, or an error message for a request that got none."""

    response: httpx.Response | None
    elapsed_ms: float
    error: str = ""
    cut_short: str = ""  # why the body is incomplete (an endless stream, too big, interrupted)


StreamStart = Callable[[httpx.Response], Callable[[bytes], None]]
MAX_BODY_BYTES = 10 * 1024 * 1024


class Sender:
    """A sync httpx client that stops reading a body at a deadline or a size cap.

    `timeout` bounds each wait (connecting, the response head, the next chunk);
    `stream_timeout` (None: same as `timeout`) bounds reading a whole body, so an endless
    stream returns what arrived instead of holding the kernel. Chunks of a streamed body
    are reported as they arrive.
    """

    def __init__(
        self,
        timeout: float = 10.0,
        follow_redirects: bool = True,
        *,
        stream_timeout: float | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._timeout = timeout
        self._follow_redirects = follow_redirects
        self.stream_timeout = stream_timeout
        self.max_body_bytes = max_body_bytes
        self._client: httpx.Client | None = None
        self._transport: _LimitingTransport | None = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._transport = _LimitingTransport()
            self._client = httpx.Client(
                transport=self._transport,
                timeout=self._timeout,
                follow_redirects=self._follow_redirects,
            )
        return self._client

    @property
    def timeout(self) -> float:
        return self._timeout

    @timeout.setter
    def timeout(self, seconds: float) -> None:
        self._timeout = seconds
        if self._client is not None:
            self._client.timeout = httpx.Timeout(seconds)

    @property
    def body_seconds(self) -> float:
        """The longest one body is read for."""
        return self._timeout if self.stream_timeout is None else self.stream_timeout

    def send(self, request: httpx.Request, on_stream: StreamStart | None = None) -> Outcome:
        client = self.client
        assert self._transport is not None
        start = time.perf_counter()
        limits = BodyLimits(
            deadline=time.monotonic() + self.body_seconds,
            seconds=self.body_seconds,
            max_bytes=self.max_body_bytes,
            read_timeout=self._timeout,
            on_stream=on_stream,
        )
        self._transport.limits = limits
        try:
            response = client.send(request)
        except httpx.TimeoutException:
            return Outcome(None, _ms(start), f"Timed out after {self.timeout:g} s: {_what(request)}")
        except httpx.ConnectError as error:
            message = f"Could not connect to {request.url.scheme}://{request.url.netloc.decode()}"
            return Outcome(None, _ms(start), f"{message} ({error}). Is the server running?")
        except Exception as error:  # anything else is still shown, never raised into the cell
            return Outcome(None, _ms(start), f"{type(error).__name__}: {error} ({_what(request)})")
        finally:
            self._transport.limits = None
        return Outcome(response, _ms(start), cut_short=limits.cut_short)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _what(request: httpx.Request) -> str:
    return f"{request.method} {request.url}"


@dataclass
class BodyLimits:
    """How much of a body one send reads, and why it stopped early (empty when it did not)."""

    deadline: float  # time.monotonic()
    seconds: float
    max_bytes: int
    read_timeout: float
    on_stream: StreamStart | None = None
    cut_short: str = ""


class _LimitingTransport(httpx.BaseTransport):
    def __init__(self) -> None:
        self._plain = _transport(verify=False)  # plain http needs no certificates
        self._secure: httpx.HTTPTransport | None = None  # loading CA certificates takes ~100 ms
        self.limits: BodyLimits | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            self._secure = self._secure or _transport(verify=True)
            response = self._secure.handle_request(request)
        else:
            response = self._plain.handle_request(request)
        limits = self.limits
        if limits is None:
            return response
        limits.cut_short = ""  # a redirect's body was read too: only the final one counts
        on_stream = limits.on_stream
        on_chunk = on_stream(response) if on_stream is not None and _is_streamed(response) else None
        stream = _LimitedStream(response.stream, limits, on_chunk)  # type: ignore[arg-type]
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=stream,
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._plain.close()
        if self._secure is not None:
            self._secure.close()


def _transport(verify: bool) -> httpx.HTTPTransport:
    # No keep-alive: the in-kernel server restarts and drops connections after a 500, and a
    # stale pooled connection would turn the next send into a spurious "connection reset".
    return httpx.HTTPTransport(verify=verify, limits=httpx.Limits(max_keepalive_connections=0))


def _is_streamed(response: httpx.Response) -> bool:
    # A body without a length (chunked) may still be coming; an encoded one can't be shown raw.
    headers = response.headers
    return "content-length" not in headers and "content-encoding" not in headers


class _LimitedStream(httpx.SyncByteStream):
    """Yields a body until it ends, the deadline passes, the size cap is reached or the kernel
    is interrupted; then what arrived stands as the whole body and `limits.cut_short` says why."""

    def __init__(
        self, inner: httpx.SyncByteStream, limits: BodyLimits, on_chunk: Callable[[bytes], None] | None
    ) -> None:
        self._inner = inner
        self._limits = limits
        self._on_chunk = on_chunk

    def __iter__(self) -> Iterator[bytes]:
        limits, size = self._limits, 0
        chunks = iter(self._inner)
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            except httpx.ReadTimeout:
                limits.cut_short = f"Nothing more arrived for {limits.read_timeout:g} s (ex.timeout)"
                return
            except httpx.TransportError as error:  # e.g. the server dropped the connection
                limits.cut_short = f"The body broke off ({type(error).__name__}: {error})"
                return
            except KeyboardInterrupt:  # the kernel's stop button: keep what arrived
                limits.cut_short = "Interrupted"
                return
            too_big = size + len(chunk) > limits.max_bytes
            chunk = chunk[: limits.max_bytes - size]
            size += len(chunk)
            if self._on_chunk is not None:
                self._on_chunk(chunk)
            yield chunk
            if too_big:
                limits.cut_short = f"Larger than {size_text(limits.max_bytes)} (ex.max_body_bytes)"
                return
            if time.monotonic() >= limits.deadline:
                limits.cut_short = f"Still arriving after {limits.seconds:g} s (ex.stream_timeout)"
                return

    def close(self) -> None:
        self._inner.close()
