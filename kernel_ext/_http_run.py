"""Run `%%http` cells: parse everything, then send the requests in order with httpx.

Expectations (`--expect STATUS [JSON]` on the magic line, `# @expect STATUS [JSON]` above a
request) compare the status (`200`, or a class such as `2xx`) and, optionally, the JSON body as a
*subset*: every key of an expected object must be present with a matching value (extra keys are
fine); an expected list matches the actual list's first items position by position (a longer
actual list is fine, so `[]` matches any list); other values must be equal, and `true`/`1` differ.

Within a cell, requests share cookies and follow redirects (`# @no-redirect` turns that off). A
JSON body without a `Content-Type` is sent as `application/json`. Responses named with
`# @name` stay available to later cells, as REST Client keeps them for the whole file.
"""

from __future__ import annotations

import argparse
import functools
import html
import json
import shlex
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx

from kernel_ext._http_file import (
    HttpCellError,
    HttpFile,
    HttpRequestSpec,
    HttpSyntaxError,
    Resolver,
    Template,
    parse_http,
)

DEFAULT_OUTPUT = "_http"
DEFAULT_TIMEOUT = 30.0
_MISSING: Any = object()


class HttpUsageError(HttpCellError):
    """Bad arguments on the `%%http` line."""


class HttpRequestError(HttpCellError):
    """The request could not be sent or got no response (connection refused, timeout, bad URL)."""


class HttpExpectationError(HttpCellError):
    """A response differed from `--expect` / `# @expect`."""


# ---------------------------------------------------------------- expectations


@dataclass(frozen=True)
class Expectation:
    status: str  # "200" or "2xx"
    body: Any = _MISSING

    def failure(self, response: httpx.Response) -> str | None:
        """Why `response` does not meet the expectation, or None when it does."""
        got = str(response.status_code)
        if not all(e in ("x", g) for e, g in zip(self.status.lower(), got, strict=True)):
            return f"expected status {self.status}, got {got}{_body_hint(response)}"
        if self.body is _MISSING:
            return None
        try:
            actual = response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content-type")
            return f"expected a JSON body, got {kind}{_body_hint(response)}"
        difference = first_difference(self.body, actual)
        if difference is None:
            return None
        return f"status {got} as expected, but the body differs at {difference}"


def parse_expectation(status: str, body: str | None) -> Expectation:
    """Raises ValueError with a message fit for the user."""
    if not (len(status) == 3 and status[0] in "12345" and _digits_or_x(status[1:])):
        raise ValueError(f"expected a status such as 200 or 2xx, got '{status}'")
    if body is None or not body.strip():
        return Expectation(status.lower())
    try:
        return Expectation(status.lower(), json.loads(body))
    except ValueError as exc:
        raise ValueError(
            f'invalid JSON {body!r} ({exc}); on the magic line quote it: --expect 200 \'{{"name": "x"}}\''
        ) from None


def _digits_or_x(text: str) -> bool:
    return text.isdigit() or text.lower() == "xx"


def first_difference(expected: Any, actual: Any, path: str = "$") -> str | None:
    """The first place where `actual` does not contain `expected` (subset semantics), or None."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {_json(actual)}"
        for key, value in expected.items():
            child = f"{path}.{key}" if key.isidentifier() else f"{path}[{json.dumps(key)}]"
            if key not in actual:
                return f"{child}: missing (keys: {', '.join(actual) or 'none'})"
            difference = first_difference(value, actual[key], child)
            if difference is not None:
                return difference
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{path}: expected a list, got {_json(actual)}"
        if len(actual) < len(expected):
            return f"{path}: expected at least {len(expected)} items, got {len(actual)}"
        for index, value in enumerate(expected):
            difference = first_difference(value, actual[index], f"{path}[{index}]")
            if difference is not None:
                return difference
        return None
    if isinstance(expected, bool) != isinstance(actual, bool) or expected != actual:
        return f"{path}: expected {_json(expected)}, got {_json(actual)}"
    return None


def _json(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _body_hint(response: httpx.Response, limit: int = 200) -> str:
    text = " ".join(response.text.split())
    if not text:
        return ""
    return f"; body: {text if len(text) <= limit else text[: limit - 1] + '…'}"


# ---------------------------------------------------------------- the magic line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise HttpUsageError(f"{message}\n{self.format_usage().strip()}")

    def print_help(self, file: Any = None) -> None:
        pass  # `-h`: `exit` below shows the help instead, as the cell's message

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        # Never let SystemExit reach IPython.
        raise HttpUsageError(message or self.format_help())


def http_arg_parser() -> argparse.ArgumentParser:
    """The `%%http` line's arguments; `format_help()` is the magic's help text."""
    parser = _Parser(
        prog="%%http",
        description="Send the cell's requests (.http format: VS Code REST Client / JetBrains) "
        "to the in-kernel server, or to full URLs.",
    )
    parser.add_argument(
        "-o",
        "--output",
        default=DEFAULT_OUTPUT,
        metavar="NAME",
        help=f"variable that receives the responses (default {DEFAULT_OUTPUT}): the last "
        "response, plus .responses (all) and [name] (named with '# @name')",
    )
    parser.add_argument(
        "--expect",
        nargs="+",
        metavar=("STATUS", "JSON"),
        help="fail the cell unless the last response has this status (200, 2xx) and, "
        "optionally, contains this JSON (quote it: '{\"id\": 1}')",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"per request (default {DEFAULT_TIMEOUT:g})",
    )
    return parser


@dataclass(frozen=True)
class _Options:
    output: str
    expect: Expectation | None
    timeout: float


def _parse_line(line: str) -> _Options:
    try:
        args = http_arg_parser().parse_args(shlex.split(line))
    except ValueError as exc:  # shlex: unbalanced quotes
        raise HttpUsageError(f"cannot split the magic line: {exc}") from None
    if not args.output.isidentifier():
        raise HttpUsageError(f"-o/--output needs a Python variable name, got '{args.output}'")
    if args.timeout <= 0:
        raise HttpUsageError("--timeout must be positive")
    expect = None
    if args.expect:
        status, *body = args.expect
        try:
            expect = parse_expectation(status, " ".join(body) if body else None)
        except ValueError as exc:
            raise HttpUsageError(f"--expect: {exc}") from None
    return _Options(args.output, expect, args.timeout)


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Exchange:
    """One sent request and its response."""

    spec: HttpRequestSpec
    response: httpx.Response
    elapsed_ms: float


class HttpCellResult:
    """What an `%%http` cell stores: behaves like its last response (`.status_code`, `.json()`,
    `.headers`...), with `.responses` (all of them, in order), `[i]` and `["name"]`."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []

    @property
    def responses(self) -> list[httpx.Response]:
        return [exchange.response for exchange in self.exchanges]

    @property
    def named(self) -> dict[str, httpx.Response]:
        return {e.spec.name: e.response for e in self.exchanges if e.spec.name is not None}

    @property
    def response(self) -> httpx.Response:
        if not self.exchanges:
            raise AttributeError("no response was received")
        return self.exchanges[-1].response

    @property
    def elapsed_ms(self) -> float:
        return self.exchanges[-1].elapsed_ms if self.exchanges else 0.0

    def __getattr__(self, name: str) -> Any:
        # Only public names: IPython probes `_repr_*_` and `_ipython_*` attributes.
        if name.startswith("_") or name == "exchanges":
            raise AttributeError(name)
        return getattr(self.response, name)

    def __getitem__(self, key: int | str) -> httpx.Response:
        if isinstance(key, int):
            return self.responses[key]
        named = self.named
        if key not in named:
            raise KeyError(f"no request named {key!r} (named: {', '.join(named) or 'none'})")
        return named[key]

    def __len__(self) -> int:
        return len(self.exchanges)

    def __iter__(self) -> Iterator[httpx.Response]:
        return iter(self.responses)

    def __repr__(self) -> str:
        return "\n\n".join(_text(exchange) for exchange in self.exchanges) or "<no responses>"

    def _repr_html_(self) -> str:
        return "".join(_html(exchange) for exchange in self.exchanges)


def _html(exchange: Exchange) -> str:
    title = f"<div><b>{html.escape(exchange.spec.title)}</b></div>" if exchange.spec.title else ""
    try:
        from kernel_ext._render import response_html
    except ImportError:
        return title + _fallback_html(exchange)
    return title + response_html(exchange.response, exchange.elapsed_ms)


def _text(exchange: Exchange) -> str:
    response = exchange.response
    label = f"{response.request.method} {response.request.url}"
    if exchange.spec.title:
        label = f"### {exchange.spec.title}\n{label}"
    try:
        from kernel_ext._render import response_text
    except ImportError:
        return f"{label}\n{_fallback_text(exchange)}"
    return f"{label}\n{response_text(response, exchange.elapsed_ms)}".rstrip()


def _pretty_body(response: httpx.Response) -> str:
    try:
        return json.dumps(response.json(), indent=2, ensure_ascii=False)
    except ValueError:
        return response.text


def _fallback_text(exchange: Exchange) -> str:
    response = exchange.response
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    status = f"HTTP {response.status_code} {response.reason_phrase}"
    head = f"{status} · {exchange.elapsed_ms:.1f} ms"
    return f"{head}\n{headers}\n\n{_pretty_body(response)}".rstrip()


def _fallback_html(exchange: Exchange) -> str:
    response = exchange.response
    color = {2: "#1a7f37", 3: "#0969da", 4: "#bc4c00", 5: "#cf222e"}.get(
        response.status_code // 100, "#57606a"
    )
    headers = "".join(
        f"<tr><td><code>{html.escape(k)}</code></td><td><code>{html.escape(v)}</code></td></tr>"
        for k, v in response.headers.items()
    )
    label = f"{response.request.method} {response.request.url}"
    return (
        '<div class="kernel-ext-http" style="margin:4px 0">'
        f'<b style="color:{color}">{response.status_code} {html.escape(response.reason_phrase)}'
        f"</b> <code>{html.escape(label)}</code> <small>{exchange.elapsed_ms:.1f} ms</small>"
        f"<details><summary>headers</summary><table>{headers}</table></details>"
        f"<pre>{html.escape(_pretty_body(response))}</pre></div>"
    )


# ---------------------------------------------------------------- sending


@dataclass(frozen=True)
class _Prepared:
    spec: HttpRequestSpec
    expect: Expectation | None


def prepare(
    http: HttpFile, user_ns: Mapping[str, Any], earlier: Mapping[str, httpx.Response]
) -> list[_Prepared]:
    """Check the whole cell before anything is sent."""
    Resolver(http.variables, user_ns).check(http, earlier)
    return [_Prepared(spec, _cell_expectation(spec.expect)) for spec in http.requests]


def _cell_expectation(template: Template | None) -> Expectation | None:
    if template is None:
        return None
    status, _, body = template.text.partition(" ")
    try:
        return parse_expectation(status, body or None)
    except ValueError as exc:
        raise template.error(f"@expect: {exc}") from None


def send_requests(
    http: HttpFile,
    *,
    base_url: str | None,
    user_ns: Mapping[str, Any],
    timeout: float = DEFAULT_TIMEOUT,
    into: HttpCellResult | None = None,
) -> HttpCellResult:
    """Send every request in order; responses named with `# @name` feed later `{{...}}`,
    in this cell and, through `remembered_responses(user_ns)`, in later cells."""
    named = remembered_responses(user_ns)
    prepared = prepare(http, user_ns, named)
    result = into if into is not None else HttpCellResult()
    resolver = Resolver(http.variables, user_ns)
    with httpx.Client(timeout=timeout, verify=_ssl_context()) as client:
        for item in prepared:
            request = _build(client, item.spec, resolver, named, base_url)
            response, elapsed_ms = _send(client, request, item.spec)
            result.exchanges.append(Exchange(item.spec, response, elapsed_ms))
            if item.spec.name is not None:
                named[item.spec.name] = response
            _check(item.expect, response)
    return result


# Named responses per user namespace (one per kernel), like REST Client keeps them per file.
_REMEMBERED: dict[int, tuple[Mapping[str, Any], dict[str, httpx.Response]]] = {}
_REMEMBERED_NAMESPACES = 8


def remembered_responses(user_ns: Mapping[str, Any]) -> dict[str, httpx.Response]:
    """The latest response for each `# @name`, across the cells run with this namespace."""
    entry = _REMEMBERED.get(id(user_ns))
    if entry is None or entry[0] is not user_ns:
        while len(_REMEMBERED) >= _REMEMBERED_NAMESPACES:
            del _REMEMBERED[next(iter(_REMEMBERED))]
        entry = _REMEMBERED[id(user_ns)] = (user_ns, {})
    return entry[1]


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # httpx builds a fresh one per Client, which costs ~120 ms: too much per cell.
    return httpx.create_ssl_context()


def _build(
    client: httpx.Client,
    spec: HttpRequestSpec,
    resolver: Resolver,
    named: Mapping[str, httpx.Response],
    base_url: str | None,
) -> httpx.Request:
    url = "".join(resolver.resolve(part, named).strip() for part in spec.url)
    headers = [(name, resolver.resolve(value, named)) for name, value in spec.headers]
    content = _content(spec, resolver, named)
    if content and spec.header("content-type") is None and _is_json(content):
        headers.append(("Content-Type", "application/json"))
    try:
        return client.build_request(
            spec.method, _absolute(url, base_url, spec), headers=headers, content=content
        )
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
        raise HttpSyntaxError(f"invalid request: {exc}", spec.line_no, spec.url[0].source) from None


def _absolute(url: str, base_url: str | None, spec: HttpRequestSpec) -> str:
    if url.lower().startswith(("http://", "https://")):
        return url
    if not url.startswith("/"):
        raise HttpSyntaxError(
            f"the URL resolved to '{url}': expected a path starting with '/' or a full URL",
            spec.line_no,
            spec.url[0].source,
        )
    if not base_url:
        raise HttpRequestError(
            f"{spec.method} {url}: no in-kernel server to send a relative path to "
            "(run %load_ext kernel_ext, or write a full http:// URL)"
        )
    return base_url.rstrip("/") + url


def _content(spec: HttpRequestSpec, resolver: Resolver, named: Mapping[str, httpx.Response]) -> bytes | None:
    if spec.body_file is not None:
        return _file_content(spec, resolver, named)
    if not spec.body:
        return None
    lines = [resolver.resolve(line, named) for line in spec.body]
    content_type = spec.header("content-type")
    if content_type is not None and "x-www-form-urlencoded" in content_type.text.lower():
        # REST Client lets a form body span lines (`&b=2` on the next line).
        return "".join(line.strip() for line in lines).encode()
    return "\n".join(lines).encode()


def _file_content(spec: HttpRequestSpec, resolver: Resolver, named: Mapping[str, httpx.Response]) -> bytes:
    assert spec.body_file is not None
    path = Path(resolver.resolve(spec.body_file, named)).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise spec.body_file.error(f"cannot read the body file: {exc.strerror}: {path}") from None
    if not spec.body_file_substitutes:
        return data
    text = Template(data.decode("utf-8", "replace"), spec.body_file.line_no, spec.body_file.source)
    return resolver.resolve(text, named).encode()


def _is_json(content: bytes) -> bool:
    if content.lstrip()[:1] not in (b"{", b"["):
        return False
    try:
        json.loads(content)
    except ValueError:
        return False
    return True


def _send(
    client: httpx.Client, request: httpx.Request, spec: HttpRequestSpec
) -> tuple[httpx.Response, float]:
    label = f"{request.method} {request.url}"
    started = time.perf_counter()
    try:
        response = client.send(request, follow_redirects=spec.follow_redirects)
    except httpx.ConnectError:
        raise HttpRequestError(f"{label}: could not connect; is the server running?") from None
    except httpx.TimeoutException:
        raise HttpRequestError(
            f"{label}: no response within {client.timeout.read:g} s (see --timeout)"
        ) from None
    except httpx.HTTPError as exc:
        raise HttpRequestError(f"{label}: {type(exc).__name__}: {exc}") from None
    return response, (time.perf_counter() - started) * 1000


def _check(expect: Expectation | None, response: httpx.Response) -> None:
    failure = expect.failure(response) if expect is not None else None
    if failure is not None:
        path = response.request.url.raw_path.decode("ascii", "replace")
        raise HttpExpectationError(f"{response.request.method} {path}: {failure}")


# ---------------------------------------------------------------- the magic's entry point


def run_http_cell(line: str, cell: str, *, base_url: str | None, user_ns: dict[str, Any]) -> HttpCellResult:
    """Everything `%%http` does: parse the line and the cell, send, store, return for display.

    The result is stored in `user_ns[-o NAME]` even when a later request or an expectation
    fails, so the responses received can be inspected. Errors are `HttpCellError`s: let them
    propagate; IPython shows their message without a traceback.
    """
    options = _parse_line(line)
    # Line numbers as the user sees them: the %%http line is line 1.
    http = parse_http(cell, first_line_no=2)
    result = HttpCellResult()
    try:
        send_requests(http, base_url=base_url, user_ns=user_ns, timeout=options.timeout, into=result)
    finally:
        if result.exchanges:
            user_ns[options.output] = result
    _check(options.expect, result.response)
    return result
