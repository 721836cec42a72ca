"""What the explorer is about to send, and sending it with httpx (streaming aware)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

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


StreamStart = Callable[[httpx.Response], Callable[[bytes], None]]


class Sender:
    """A sync httpx client whose transport reports chunks of a streamed body as they arrive."""

    def __init__(self, timeout: float = 10.0, follow_redirects: bool = True) -> None:
        self._timeout = timeout
        self._follow_redirects = follow_redirects
        self._client: httpx.Client | None = None
        self._transport: _TeeTransport | None = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._transport = _TeeTransport()
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

    def send(self, request: httpx.Request, on_stream: StreamStart | None = None) -> Outcome:
        client = self.client
        assert self._transport is not None
        self._transport.on_stream = on_stream
        start = time.perf_counter()
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
            self._transport.on_stream = None
        return Outcome(response, _ms(start))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _what(request: httpx.Request) -> str:
    return f"{request.method} {request.url}"


class _TeeTransport(httpx.BaseTransport):
    def __init__(self) -> None:
        self._plain = _transport(verify=False)  # plain http needs no certificates
        self._secure: httpx.HTTPTransport | None = None  # loading CA certificates takes ~100 ms
        self.on_stream: StreamStart | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            self._secure = self._secure or _transport(verify=True)
            response = self._secure.handle_request(request)
        else:
            response = self._plain.handle_request(request)
        if self.on_stream is None or not _is_streamed(response):
            return response
        on_chunk = self.on_stream(response)
        stream = _TeeStream(response.stream, on_chunk)  # type: ignore[arg-type]
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


class _TeeStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, on_chunk: Callable[[bytes], None]) -> None:
        self._inner = inner
        self._on_chunk = on_chunk

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._on_chunk(chunk)
            yield chunk

    def close(self) -> None:
        self._inner.close()
