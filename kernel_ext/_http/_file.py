"""Parse the `.http` request format (VS Code REST Client, JetBrains HTTP client).

    @host = http://127.0.0.1:8000
    # @name login
    POST /token
    Content-Type: application/x-www-form-urlencoded

    username=alice&password=secret

    ### the text after ### is a title
    GET {{host}}/users/me
    Authorization: Bearer {{login.response.body.$.access_token}}

Parsing checks the whole text before anything is sent: a malformed block or an undefined
variable raises `HttpSyntaxError` naming the line. Values that depend on earlier responses are
looked up while the requests run (`Resolver`, in _vars.py).

JetBrains response handlers (`> {% ... %}`, `> handler.js`) and pre-request scripts
(`< {% ... %}`) are recognised and left out of the request, with a note that they are not run;
`>> file` / `>>! file` (save the response body) are kept for the runner.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .._errors import KernelExtError

METHODS = frozenset(
    {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT"}
    | {"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK"}
)

_NAME = r"[A-Za-z_][\w-]*"
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VARIABLE_DEF = re.compile(rf"@({_NAME})\s*=\s*(.*)")
_DIRECTIVE = re.compile(r"(?:#|//)\s*@([\w-]+)\s*(?:=\s*)?(.*)")
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
_TOKEN = re.compile(r"(?:\{\{.*?\}\}|\S)+")
# `< path` (sent as is), `<@ path` (variables substituted), `<@latin1 path` (read in that encoding)
_BODY_FILE = re.compile(r"<(?:(@)(\w+)?)?\s+(.+?)")
_HTTP_VERSION = re.compile(r"HTTP/\d(?:\.\d)?", re.IGNORECASE)
# JetBrains: scripts (not run here), saving the response, a reference to an earlier response.
_SCRIPT_BLOCK = re.compile(r"[<>]\s*\{%")
_SCRIPT_FILE = re.compile(r"[<>]\s+\S+\.js")
_SAVE_RESPONSE = re.compile(r">>(!)?\s+(.+)")
_RESPONSE_REFERENCE = re.compile(r"<>\s+\S.*")


class HttpCellError(KernelExtError):
    """An error the user caused in an `%%http` cell: the cell fails with just this message."""


class HttpSyntaxError(HttpCellError):
    """Malformed `.http` text, pointing at the offending line (numbered as shown in the cell)."""

    def __init__(self, message: str, line_no: int | None = None, line: str | None = None) -> None:
        self.message = message
        self.line_no = line_no
        self.line = line
        super().__init__(message)

    def __str__(self) -> str:
        where = f"line {self.line_no}: " if self.line_no is not None else ""
        text = f"\n    {self.line.strip()}" if self.line and self.line.strip() else ""
        return f"{where}{self.message}{text}"


class HttpVariableError(HttpSyntaxError):
    """A `{{variable}}` that is undefined, malformed, or missing from a response."""

    def __init__(self, message: str, variable: str, line_no: int | None, line: str | None) -> None:
        self.variable = variable
        super().__init__(message, line_no, line)


@dataclass(frozen=True)
class Template:
    """A piece of text that may hold `{{...}}` placeholders, with the source line it came from."""

    text: str
    line_no: int
    source: str
    earlier_cell: bool = False  # an `@name = value` remembered from an earlier cell

    def error(self, message: str, variable: str | None = None) -> HttpSyntaxError:
        line_no: int | None = self.line_no
        if self.earlier_cell:
            line_no, message = None, f"{message} (in a variable defined in an earlier %%http cell)"
        if variable is None:
            return HttpSyntaxError(message, line_no, self.source)
        return HttpVariableError(message, variable, line_no, self.source)


@dataclass(frozen=True)
class BodyInclude:
    """`< path`: a file's bytes go into the body; `<@ path` substitutes its `{{...}}` first."""

    path: Template
    substitutes: bool = False
    encoding: str = "utf-8"


def body_include(template: Template) -> BodyInclude | None:
    """The file include a body line spells (`< ./photo.png`), or None for an ordinary line."""
    match = _BODY_FILE.fullmatch(template.text.strip())
    if match is None:
        return None
    substitutes, encoding, path = match.group(1) is not None, match.group(2), match.group(3)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise template.error(f"unknown encoding '{encoding}' (e.g. '<@latin1 ./file.txt')") from None
    return BodyInclude(Template(path, template.line_no, template.source), substitutes, encoding or "utf-8")


@dataclass(frozen=True)
class SaveResponse:
    """`>> path` saves the response body (a free name `path-1.ext` if it exists); `>>! path` overwrites."""

    path: Template
    overwrite: bool


@dataclass
class HttpRequestSpec:
    """One request block, still holding its placeholders."""

    method: str
    url: list[Template]  # the request line's URL, then any `?`/`&` continuation lines
    line_no: int
    headers: list[tuple[str, Template]] = field(default_factory=list)
    body: list[Template] = field(default_factory=list)
    body_file: BodyInclude | None = None  # a body that is a single `< path` line
    save_response: SaveResponse | None = None
    name: str | None = None
    name_source: Template = field(default_factory=lambda: Template("", 0, ""))
    title: str | None = None
    follow_redirects: bool = True
    expect: Template | None = None  # `# @expect STATUS [JSON]`, checked by the runner
    timeout: float | None = None  # `# @timeout 5` (JetBrains), seconds; else the cell's --timeout

    def templates(self) -> Iterator[Template]:
        yield from self.url
        yield from (value for _, value in self.headers)
        yield from self.body
        if self.body_file is not None:
            yield self.body_file.path
        if self.save_response is not None:
            yield self.save_response.path

    def header(self, name: str) -> Template | None:
        return next((v for k, v in reversed(self.headers) if k.lower() == name.lower()), None)


@dataclass
class HttpFile:
    requests: list[HttpRequestSpec]
    variables: dict[str, Template]
    notes: list[str] = field(default_factory=list)  # what the user should know, shown once


class _Response(Protocol):
    """What variable lookup needs from a response (an `httpx.Response` fits)."""

    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def text(self) -> str: ...
    @property
    def request(self) -> Any: ...


# ---------------------------------------------------------------- parsing


def parse_http(text: str, *, first_line_no: int = 1) -> HttpFile:
    """Parse `.http` text. `first_line_no` is the number shown for the text's first line.

    Text with `@name = value` lines but no request is fine (it defines variables)."""
    variables: dict[str, Template] = {}
    requests: list[HttpRequestSpec] = []
    names: dict[str, int] = {}
    scripts: list[int] = []
    for title, block in _blocks(text, first_line_no):
        spec = _parse_block(block, title, variables, scripts)
        if spec is None:
            continue
        if spec.name is not None:
            if spec.name in names:
                raise spec.name_source.error(
                    f"request name '{spec.name}' is already used on line {names[spec.name]}"
                )
            names[spec.name] = spec.name_source.line_no
        requests.append(spec)
    if not requests and not variables:
        raise HttpSyntaxError("no request found: write a request line such as 'GET /items'")
    return HttpFile(requests, variables, [_scripts_note(scripts)] if scripts else [])


def _scripts_note(line_numbers: list[int]) -> str:
    where = "line" if len(line_numbers) == 1 else "lines"
    return (
        f"{where} {', '.join(map(str, line_numbers))}: JavaScript handlers ('> {{% ... %}}', "
        "'> file.js', '< {% ... %}') are not run here, so what they set or test does not happen. "
        "To reuse a value from a response, name the request ('# @name login') and write "
        "{{login.response.body.$.token}} or {{login.response.headers.Location}}; to check a "
        'response, put \'# @expect 200 {"key": "value"}\' above the request.'
    )


def _blocks(text: str, first_line_no: int) -> Iterator[tuple[str | None, list[tuple[int, str]]]]:
    title: str | None = None
    block: list[tuple[int, str]] = []
    for no, line in enumerate(text.splitlines(), start=first_line_no):
        if line.lstrip().startswith("###"):
            yield title, block
            title, block = line.strip().lstrip("#").strip() or None, []
        else:
            block.append((no, line))
    yield title, block


def _is_comment(stripped: str) -> bool:
    return stripped.startswith(("#", "//"))


@dataclass
class _Preamble:
    name: Template | None = None
    follow_redirects: bool = True
    expect: Template | None = None
    timeout: float | None = None


def _parse_block(
    block: list[tuple[int, str]], title: str | None, variables: dict[str, Template], scripts: list[int]
) -> HttpRequestSpec | None:
    preamble = _Preamble()
    index = 0
    while index < len(block):
        no, line = block[index]
        stripped = line.strip()
        if _is_script(stripped):  # a JetBrains pre-request script
            scripts.append(no)
            index = _script_end(block, index) + 1
            continue
        index += 1
        if not stripped:
            continue
        if _is_comment(stripped):
            _directive(stripped, no, line, preamble)
        elif stripped.startswith("@"):
            _variable(stripped, no, line, variables)
        else:
            spec = _request_line(stripped, no, line)
            spec.title = title
            if preamble.name is not None:
                spec.name, spec.name_source = preamble.name.text, preamble.name
            spec.follow_redirects = preamble.follow_redirects
            spec.expect = preamble.expect
            spec.timeout = preamble.timeout
            _rest_of_request(spec, block[index:], scripts)
            return spec
    return None


def _is_script(stripped: str) -> bool:
    """`> {% ... %}` / `< {% ... %}` or `> handler.js` / `< script.js`."""
    return _SCRIPT_BLOCK.match(stripped) is not None or _SCRIPT_FILE.fullmatch(stripped) is not None


def _script_end(lines: list[tuple[int, str]], start: int) -> int:
    """The index of the line that ends the script starting at `lines[start]`."""
    no, line = lines[start]
    if _SCRIPT_BLOCK.match(line.strip()) is None:
        return start  # a script file: one line
    first = line[line.index("{%") + 2 :]
    for index in range(start, len(lines)):
        if "%}" in (first if index == start else lines[index][1]):
            return index
    raise HttpSyntaxError("this script block is never closed: end it with a '%}' line", no, line)


def _directive(stripped: str, no: int, line: str, preamble: _Preamble) -> None:
    match = _DIRECTIVE.fullmatch(stripped)
    if match is None:
        return  # a plain comment
    key, value = match.group(1).lower(), match.group(2).strip()
    if key == "name":
        if not re.fullmatch(_NAME, value):
            raise HttpSyntaxError(
                "'@name' needs a name made of letters, digits, '_' or '-', e.g. '# @name login'",
                no,
                line,
            )
        preamble.name = Template(value, no, line)
    elif key == "no-redirect":
        preamble.follow_redirects = False
    elif key == "expect":
        if not value:
            raise HttpSyntaxError("'@expect' needs a status, e.g. '# @expect 200'", no, line)
        preamble.expect = Template(value, no, line)
    elif key == "timeout":
        preamble.timeout = _seconds(value, no, line)


def _seconds(value: str, no: int, line: str) -> float:
    """`5`, `500 ms`, `2 m` (JetBrains' units) in seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|m)?", value)
    if match is None or float(match.group(1)) <= 0:
        raise HttpSyntaxError(
            "'@timeout' needs a positive duration: '# @timeout 5' (s), '500 ms', '2 m'", no, line
        )
    return float(match.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[match.group(2) or "s"]


def _variable(stripped: str, no: int, line: str, variables: dict[str, Template]) -> None:
    match = _VARIABLE_DEF.fullmatch(stripped)
    if match is None:
        raise HttpSyntaxError("malformed variable: expected '@name = value'", no, line)
    variables[match.group(1)] = Template(match.group(2).strip(), no, line)


def _request_line(stripped: str, no: int, line: str) -> HttpRequestSpec:
    tokens = _TOKEN.findall(stripped)
    method = "GET"
    if len(tokens) >= 2 and tokens[0].upper() in METHODS:
        method, tokens = tokens[0].upper(), tokens[1:]
    elif len(tokens) >= 2 and re.fullmatch(r"[A-Za-z]+", tokens[0]):
        raise HttpSyntaxError(
            f"unknown HTTP method '{tokens[0]}' (expected one of GET, POST, PUT, PATCH, DELETE, "
            "HEAD, OPTIONS, ...)",
            no,
            line,
        )
    if len(tokens) == 2 and _HTTP_VERSION.fullmatch(tokens[1]):
        tokens = tokens[:1]
    if len(tokens) != 1:
        raise HttpSyntaxError("expected 'METHOD URL [HTTP/1.1]' (write spaces in a URL as %20)", no, line)
    target = tokens[0]
    if not (target.startswith(("/", "{{")) or re.match(r"https?://", target, re.IGNORECASE)):
        raise HttpSyntaxError(
            "expected a request line: a path starting with '/' or a full http(s):// URL, "
            "optionally after a method (GET /items)",
            no,
            line,
        )
    return HttpRequestSpec(method, [Template(target, no, line)], no)


def _rest_of_request(spec: HttpRequestSpec, lines: list[tuple[int, str]], scripts: list[int]) -> None:
    tail = next((i for i, (_, line) in enumerate(lines) if _starts_tail(line.strip())), len(lines))
    lines, after = lines[:tail], lines[tail:]
    in_body = False
    body_start = 0
    for index, (no, line) in enumerate(lines):
        stripped = line.strip()
        if in_body:
            continue
        if not stripped:
            in_body, body_start = True, index + 1
        elif not spec.headers and stripped.startswith(("?", "&")):
            spec.url.append(Template(stripped, no, line))
        elif _is_comment(stripped):
            if _DIRECTIVE.fullmatch(stripped):
                raise HttpSyntaxError("put '# @...' directives above the request line", no, line)
        else:
            spec.headers.append(_header(stripped, no, line))
    if in_body:
        _body(spec, lines[body_start:])
    _tail(spec, after, scripts)


def _starts_tail(stripped: str) -> bool:
    """Where the lines after a request's body begin: a response handler, `>> file`, `<> file`."""
    return (
        (stripped.startswith(">") and _is_script(stripped))
        or _SAVE_RESPONSE.fullmatch(stripped) is not None
        or _RESPONSE_REFERENCE.fullmatch(stripped) is not None
    )


def _tail(spec: HttpRequestSpec, lines: list[tuple[int, str]], scripts: list[int]) -> None:
    index = 0
    while index < len(lines):
        no, line = lines[index]
        stripped = line.strip()
        save = _SAVE_RESPONSE.fullmatch(stripped)
        if stripped.startswith(">") and _is_script(stripped):
            scripts.append(no)
            index = _script_end(lines, index)
        elif save is not None:
            spec.save_response = SaveResponse(Template(save.group(2).strip(), no, line), save.group(1) == "!")
        elif stripped and not _is_comment(stripped) and not _RESPONSE_REFERENCE.fullmatch(stripped):
            if _looks_like_request_line(line):
                raise HttpSyntaxError(
                    "this looks like a new request: separate requests with a '###' line", no, line
                )
            raise HttpSyntaxError(
                "after a response handler, expected another one ('> {% ... %}'), '>> file' or "
                "'###' and the next request",
                no,
                line,
            )
        index += 1


def _header(stripped: str, no: int, line: str) -> tuple[str, Template]:
    name, colon, value = stripped.partition(":")
    if not colon or not _HEADER_NAME.fullmatch(name.strip()):
        raise HttpSyntaxError("expected a header 'Name: value', or a blank line before the body", no, line)
    return name.strip(), Template(value.strip(), no, line)


def _body(spec: HttpRequestSpec, lines: list[tuple[int, str]]) -> None:
    while lines and not lines[-1][1].strip():
        lines = lines[:-1]
    if not lines:
        return
    for no, line in lines:
        if _looks_like_request_line(line):
            raise HttpSyntaxError(
                "this looks like a new request inside the previous one's body: "
                "separate requests with a '###' line",
                no,
                line,
            )
    spec.body = [Template(line, no, line) for no, line in lines]
    if len(spec.body) == 1:
        spec.body_file = body_include(spec.body[0])
        if spec.body_file is not None:
            spec.body = []


def _looks_like_request_line(line: str) -> bool:
    tokens = line.split()
    return (
        1 < len(tokens) <= 3
        and tokens[0] in METHODS
        and (tokens[1].startswith("/") or re.match(r"https?://", tokens[1]) is not None)
    )
