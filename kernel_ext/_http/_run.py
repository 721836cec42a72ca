"""Run `%%http` cells: parse everything, then send the requests in order with httpx.

Expectations (`--expect STATUS [JSON]` on the magic line, `# @expect STATUS [JSON]` above a
request) compare the status (`200`, or a class such as `2xx`) and, optionally, the JSON body as a
*subset*: every key of an expected object must be present with a matching value (extra keys are
fine); an expected list matches the actual list's first items position by position (a longer
actual list is fine, so `[]` matches any list); other values must be equal, and `true`/`1` differ.

Within a cell, requests share cookies and follow redirects (`# @no-redirect` turns that off). A
JSON body without a `Content-Type` is sent as `application/json`; a multipart body is sent with
CRLF line ends, its `< ./file` lines replaced by the files' bytes; `Authorization: Basic user
password` (or `user:password`) is base64-encoded. In a notebook the cells play the role of one
`.http` file: responses named with `# @name` and `@name = value` variables stay available to later
cells (a later cell may redefine a variable).

Every request whose values do not wait for an earlier response is built before anything is sent,
so a malformed one fails the cell with nothing sent; the others get what can be checked early.
`--timeout` bounds each exchange: a body still arriving then (a stream that never ends) is cut
off, and what arrived is shown with a note.
"""

from __future__ import annotations

import argparse
import base64
import functools
import html
import itertools
import json
import shlex
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

import httpx
from IPython.core.magic_arguments import MagicArgumentParser

from .._changes._responsediff import ResponseDiff, diff_responses
from .._render import response_html, response_text
from ._file import (
    BodyInclude,
    HttpCellError,
    HttpFile,
    HttpRequestSpec,
    HttpSyntaxError,
    Template,
    body_include,
    parse_http,
)
from ._memory import HttpMemory
from ._read import BodyLimits, Cut, read_body
from ._vars import Resolver

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


class _Parser(MagicArgumentParser):
    # IPython's parser for magics; errors are HttpUsageErrors, which fail the cell under nbmake
    # where IPython's own UsageError does not (see kernel_ext/_magics.py).
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(formatter_class=argparse.HelpFormatter, add_help=True, **kwargs)

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
        "--diff",
        action="store_true",
        help="for each named request ('# @name'), show how its response differs from the one "
        "that name got last time (status, headers, JSON body); also in .diffs",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"per request (default {DEFAULT_TIMEOUT:g}): the response must start within it, and a "
        "body still arriving then (a stream) is cut off and shown as far as it came",
    )
    return parser


@dataclass(frozen=True)
class _Options:
    output: str
    expect: Expectation | None
    timeout: float
    diff: bool = False


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
    return _Options(args.output, expect, args.timeout, args.diff)


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Exchange:
    """One sent request and its response."""

    spec: HttpRequestSpec
    response: httpx.Response
    elapsed_ms: float
    notes: tuple[str, ...] = ()  # e.g. the body was cut off, or saved to a file


class HttpCellResult:
    """What an `%%http` cell stores: behaves like its last response (`.status_code`, `.json()`,
    `.headers`...), with `.responses` (all of them, in order), `[i]` and `["name"]`."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self.diffs: list[ResponseDiff] = []  # with --diff: each named response against its last

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
        parts = [_text(exchange) for exchange in self.exchanges] + [repr(d) for d in self.diffs]
        return "\n\n".join(parts) or "<no responses>"

    def _repr_html_(self) -> str:
        return "".join(_html(exchange) for exchange in self.exchanges) + "".join(
            d._repr_html_() for d in self.diffs
        )


def _html(exchange: Exchange) -> str:
    title = f"<div><b>{html.escape(exchange.spec.title)}</b></div>" if exchange.spec.title else ""
    notes = "".join(f"<div style='color:#b45309'>⚠ {html.escape(note)}</div>" for note in exchange.notes)
    return title + notes + response_html(exchange.response, exchange.elapsed_ms)


def _text(exchange: Exchange) -> str:
    response = exchange.response
    label = f"{response.request.method} {response.request.url}"
    if exchange.spec.title:
        label = f"### {exchange.spec.title}\n{label}"
    label += "".join(f"\nnote: {note}" for note in exchange.notes)
    return f"{label}\n{response_text(response, exchange.elapsed_ms)}".rstrip()


# ---------------------------------------------------------------- sending


@dataclass(frozen=True)
class _Prepared:
    spec: HttpRequestSpec
    expect: Expectation | None


# A template's text and whether it holds a value from a response that does not exist yet.
_Text = Callable[[Template], tuple[str, bool]]


def prepare(
    http: HttpFile,
    resolver: Resolver,
    client: httpx.Client,
    earlier: Mapping[str, httpx.Response],
    base_url: str | None,
) -> list[_Prepared]:
    """Check the whole cell before anything is sent: build every request, in order, with
    response values not yet known read as a stand-in (and what hangs on them left unchecked)."""
    names = set(earlier)
    prepared = []
    for spec in http.requests:
        expect = _cell_expectation(spec.expect)
        _build(client, spec, _previewer(resolver, names), base_url)
        if spec.name is not None:
            names.add(spec.name)
        prepared.append(_Prepared(spec, expect))
    return prepared


def _previewer(resolver: Resolver, names: set[str]) -> _Text:
    return lambda template: resolver.preview(template, names)


def _resolver_for(resolver: Resolver, named: Mapping[str, httpx.Response]) -> _Text:
    return lambda template: (resolver.resolve(template, named), False)


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
    count: int | None = None,
    memory: HttpMemory | None = None,
) -> HttpCellResult:
    """Send every request in order; responses named with `# @name` feed later `{{...}}`,
    in this cell and, through `memory` (the session's), in later cells (so do `@variables`)."""
    memory = HttpMemory() if memory is None else memory
    resolver = Resolver({**memory.variables, **http.variables}, user_ns)
    result = into if into is not None else HttpCellResult()
    with httpx.Client(timeout=timeout, verify=_ssl_context()) as client:
        prepared = prepare(http, resolver, client, memory.responses, base_url)
        memory.remember_variables(http.variables)
        for item in prepared:
            text = _resolver_for(resolver, memory.responses)
            request = _build(client, item.spec, text, base_url)
            assert request is not None  # every response it refers to has arrived
            response, elapsed_ms, notes = _send(client, request, item.spec, item.spec.timeout or timeout)
            if item.spec.save_response is not None:
                notes.append(_save(item.spec, response, text))
            result.exchanges.append(Exchange(item.spec, response, elapsed_ms, tuple(notes)))
            if item.spec.name is not None:
                memory.responses[item.spec.name] = response
                memory.counts[item.spec.name] = count
            _check(item.expect, response)
    return result


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # httpx builds a fresh one per Client, which costs ~120 ms: too much per cell.
    return httpx.create_ssl_context()


def _build(
    client: httpx.Client, spec: HttpRequestSpec, text: _Text, base_url: str | None
) -> httpx.Request | None:
    """The request `spec` describes. Errors name the offending line. None when a value it needs
    waits for a response (only while checking, before anything is sent)."""
    url = _url(spec, text, base_url)
    headers = [_header(name, value, text) for name, value in spec.headers]
    content_type = next((value for name, value in reversed(headers) if name.lower() == "content-type"), None)
    content, waits = _content(spec, text, content_type)
    if spec.save_response is not None:
        text(spec.save_response.path)
    if url is None or waits:
        return None
    if content and content_type is None and _is_json(content):
        headers.append(("Content-Type", "application/json"))
    try:
        return client.build_request(
            spec.method,
            url,
            headers=headers,
            content=content,
            timeout=spec.timeout or httpx.USE_CLIENT_DEFAULT,
        )
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
        raise HttpSyntaxError(f"invalid request: {exc}", spec.line_no, spec.url[0].source) from None


def _url(spec: HttpRequestSpec, text: _Text, base_url: str | None) -> str | None:
    parts = [text(part) for part in spec.url]
    url = "".join(value.strip() for value, _ in parts)
    if any(waits for _, waits in parts) and not url.lower().startswith(("/", "http://", "https://")):
        return None  # the URL itself comes from a response: nothing to check yet
    absolute = _absolute(url, base_url, spec)
    try:
        httpx.URL(absolute)
    except httpx.InvalidURL as exc:
        raise spec.url[0].error(f"invalid URL {absolute}: {exc}") from None
    return absolute


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


# ---------------------------------------------------------------- headers

_PRINTABLE_ASCII = "".join(chr(code) for code in range(0x20, 0x7F) if chr(code) != "%")


def _header(name: str, template: Template, text: _Text) -> tuple[str, str]:
    value, _ = text(template)
    if name.lower() == "authorization":
        value = _basic_credentials(value)
    problem = _header_value_problem(value)
    if problem is not None:
        raise template.error(f"header '{name}': {problem}")
    return name, value


def _basic_credentials(value: str) -> str:
    """`Basic alice secret` or `Basic alice:secret` as REST Client and JetBrains send it:
    base64-encoded. A single token without ':' is taken as already encoded."""
    scheme, _, credentials = value.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "basic" or not credentials:
        return value
    user, space, password = credentials.partition(" ")
    if ":" not in user:
        if not space:
            return value
        credentials = f"{user}:{password.strip()}"
    return f"{scheme} {base64.b64encode(credentials.encode()).decode('ascii')}"


def _header_value_problem(value: str) -> str | None:
    for char in value:
        if char != "\t" and (char < " " or char == "\x7f"):
            return f"the value holds the control character {char!r}; a header value is one line of text"
        if not char.isascii():
            return (
                f"header values must be ASCII, and '{char}' is not: percent-encode it "
                f"({quote(value, safe=_PRINTABLE_ASCII)}) or send it in the body"
            )
    return None


# ---------------------------------------------------------------- bodies


def _content(spec: HttpRequestSpec, text: _Text, content_type: str | None) -> tuple[bytes | None, bool]:
    """The body, and whether it waits for a response."""
    if spec.body_file is not None:
        return _included(spec.body_file, text)
    if not spec.body:
        return None, False
    if content_type is not None and content_type.lower().startswith("multipart/"):
        return _multipart(spec.body, text)
    lines = [text(line) for line in spec.body]
    waits = any(line_waits for _, line_waits in lines)
    if content_type is not None and "x-www-form-urlencoded" in content_type.lower():
        # REST Client lets a form body span lines (`&b=2` on the next line).
        return "".join(line.strip() for line, _ in lines).encode(), waits
    return "\n".join(line for line, _ in lines).encode(), waits


def _multipart(body: list[Template], text: _Text) -> tuple[bytes, bool]:
    """Lines joined with CRLF, as multipart requires; `< ./file` lines become the file's bytes."""
    parts: list[bytes] = []
    waits = False
    for line in body:
        include = body_include(line)
        if include is not None:
            data, part_waits = _included(include, text)
        else:
            value, part_waits = text(line)
            data = value.encode()
        parts.append(data)
        waits = waits or part_waits
    return b"\r\n".join(parts), waits


def _included(include: BodyInclude, text: _Text) -> tuple[bytes, bool]:
    path_text, waits = text(include.path)
    if waits:
        return b"", True
    path = Path(path_text).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise include.path.error(f"cannot read the file: {exc.strerror}: {path}") from None
    if not include.substitutes:
        return data, False
    decoded = data.decode(include.encoding, "replace")
    content, waits = text(Template(decoded, include.path.line_no, include.path.source))
    return content.encode(), waits


def _is_json(content: bytes) -> bool:
    if content.lstrip()[:1] not in (b"{", b"["):
        return False
    try:
        json.loads(content)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- exchanging


def _send(
    client: httpx.Client, request: httpx.Request, spec: HttpRequestSpec, timeout: float
) -> tuple[httpx.Response, float, list[str]]:
    """The response with its body read (cut off after `timeout`), the time taken, notes."""
    label = f"{request.method} {request.url}"
    started = time.perf_counter()
    limits = BodyLimits(timeout).start()
    try:
        response = client.send(request, follow_redirects=spec.follow_redirects, stream=True)
    except httpx.ConnectError:
        raise HttpRequestError(f"{label}: could not connect; is the server running?") from None
    except httpx.TimeoutException:
        raise HttpRequestError(f"{label}: no response within {timeout:g} s (see --timeout)") from None
    except (httpx.HTTPError, OSError) as exc:
        raise HttpRequestError(f"{label}: {type(exc).__name__}: {exc}") from None
    read_body(response, limits)
    if limits.cut is Cut.INTERRUPTED:
        raise KeyboardInterrupt
    if limits.cut is Cut.BROKE_OFF:  # not a cut the user asked for: the request failed
        raise HttpRequestError(f"{label}: {type(limits.error).__name__}: {limits.error}")
    notes = []
    if limits.cut is not None:  # the deadline passed, or the stream paused as long
        notes.append(
            f"cut off after {timeout:g} s with the body still arriving: showing the "
            f"{len(response.content):,} bytes received (--timeout SECONDS waits longer)"
        )
    return response, (time.perf_counter() - started) * 1000, notes


def _save(spec: HttpRequestSpec, response: httpx.Response, text: _Text) -> str:
    """`>> path` / `>>! path`: write the response body to a file, as JetBrains does."""
    assert spec.save_response is not None
    path_text, _ = text(spec.save_response.path)
    path = Path(path_text).expanduser()
    if not spec.save_response.overwrite:
        path = _free_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(response.content)
    except OSError as exc:
        raise spec.save_response.path.error(f"cannot save the response: {exc.strerror}: {path}") from None
    return f"saved the response body to {path}"


def _free_path(path: Path) -> Path:
    """`path`, or `name-1.ext`, `name-2.ext`... when it exists (`>>!` overwrites instead)."""
    if not path.exists():
        return path
    candidates = (path.with_name(f"{path.stem}-{n}{path.suffix}") for n in itertools.count(1))
    return next(candidate for candidate in candidates if not candidate.exists())


def _check(expect: Expectation | None, response: httpx.Response) -> None:
    failure = expect.failure(response) if expect is not None else None
    if failure is not None:
        path = response.request.url.raw_path.decode("ascii", "replace")
        raise HttpExpectationError(f"{response.request.method} {path}: {failure}")


def _diffs(
    result: HttpCellResult,
    earlier: Mapping[str, httpx.Response],
    counts: Mapping[str, int | None],
    count: int | None,
) -> list[ResponseDiff]:
    found = []
    for exchange in result.exchanges:
        name = exchange.spec.name
        if name is None:
            continue
        request = exchange.response.request
        label = f"{name}: {request.method} {request.url.raw_path.decode('ascii', 'replace')}"
        before = earlier.get(name)
        if before is None:
            found.append(ResponseDiff(label, note="the first response under this name: nothing to compare"))
            continue
        found.append(diff_responses(label, before, exchange.response, counts.get(name), count))
    return found


# ---------------------------------------------------------------- the magic's entry point


def run_http_cell(
    line: str,
    cell: str,
    *,
    base_url: str | None,
    user_ns: dict[str, Any],
    count: int | None = None,
    memory: HttpMemory | None = None,
) -> HttpCellResult | None:
    """Everything `%%http` does: parse the line and the cell, send, store, return for display.

    The result is stored in `user_ns[-o NAME]` even when a later request or an expectation
    fails, so the responses received can be inspected. Errors are `HttpCellError`s: let them
    propagate; IPython shows their message without a traceback. `memory` carries named
    responses and variables to later cells (the session's); without it nothing carries over.
    """
    options = _parse_line(line)
    # Line numbers as the user sees them: the %%http line is line 1.
    http = parse_http(cell, first_line_no=2)
    if options.expect is not None and not http.requests:
        raise HttpUsageError("--expect needs a request in the cell, and it only defines variables")
    if options.diff and not any(r.name for r in http.requests):
        raise HttpUsageError("--diff compares named requests: put '# @name NAME' above a request")
    for note in http.notes:
        print(f"note: {note}")
    result = HttpCellResult()
    memory = HttpMemory() if memory is None else memory
    earlier, earlier_counts = dict(memory.responses), dict(memory.counts)
    try:
        send_requests(
            http,
            base_url=base_url,
            user_ns=user_ns,
            timeout=options.timeout,
            into=result,
            count=count,
            memory=memory,
        )
        if options.diff:
            result.diffs = _diffs(result, earlier, earlier_counts, count)
    finally:
        if result.exchanges:
            user_ns[options.output] = result
    if not http.requests:
        return None  # a cell of `@name = value` lines: remembered for later cells
    _check(options.expect, result.response)
    return result
