"""What the explorer is about to send, and sending it with httpx (streaming aware)."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from .._http._read import BodyLimits, Cut, StreamStart, read_body, size_text

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
            params=tuple(self.params) or None,  # a tuple: httpx's list type is invariant
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

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                transport=_PlainOrSecure(),
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
        start = time.perf_counter()
        # The deadline is checked as chunks arrive: a body that stalls is reported as stalled
        # (after ex.timeout), not as still arriving.
        limits = BodyLimits(
            self.body_seconds, self.max_body_bytes, wake_at_deadline=False, on_stream=on_stream
        ).start()
        try:
            response = client.send(request, stream=True)
        except httpx.TimeoutException:
            return Outcome(None, _ms(start), f"Timed out after {self.timeout:g} s: {_what(request)}")
        except httpx.ConnectError as error:
            message = f"Could not connect to {request.url.scheme}://{request.url.netloc.decode()}"
            return Outcome(None, _ms(start), f"{message} ({error}). Is the server running?")
        except Exception as error:  # anything else is still shown, never raised into the cell
            return Outcome(None, _ms(start), f"{type(error).__name__}: {error} ({_what(request)})")
        except KeyboardInterrupt:  # the kernel's stop button, before the response began
            return Outcome(None, _ms(start), f"Interrupted while waiting for the response: {_what(request)}")
        read_body(response, limits)
        return Outcome(response, _ms(start), cut_short=self._why_cut(limits))

    def _why_cut(self, limits: BodyLimits) -> str:
        if limits.cut is Cut.DEADLINE:
            return f"Still arriving after {limits.seconds:g} s (ex.stream_timeout)"
        if limits.cut is Cut.STALLED:
            return f"Nothing more arrived for {self._timeout:g} s (ex.timeout)"
        if limits.cut is Cut.TOO_BIG:
            return f"Larger than {size_text(self.max_body_bytes)} (ex.max_body_bytes)"
        if limits.cut is Cut.BROKE_OFF:
            return f"The body broke off ({type(limits.error).__name__}: {limits.error})"
        if limits.cut is Cut.INTERRUPTED:
            return "Interrupted"
        return ""

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _what(request: httpx.Request) -> str:
    return f"{request.method} {request.url}"


class _PlainOrSecure(httpx.BaseTransport):
    def __init__(self) -> None:
        self._plain = _transport(verify=False)  # plain http needs no certificates
        self._secure: httpx.HTTPTransport | None = None  # loading CA certificates takes ~100 ms

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            self._secure = self._secure or _transport(verify=True)
            return self._secure.handle_request(request)
        return self._plain.handle_request(request)

    def close(self) -> None:
        self._plain.close()
        if self._secure is not None:
            self._secure.close()


def _transport(verify: bool) -> httpx.HTTPTransport:
    # No keep-alive: the in-kernel server restarts and drops connections after a 500, and a
    # stale pooled connection would turn the next send into a spurious "connection reset".
    return httpx.HTTPTransport(verify=verify, limits=httpx.Limits(max_keepalive_connections=0))
