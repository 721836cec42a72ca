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
looked up while the requests run (`Resolver`).
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

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
_BODY_FILE = re.compile(r"<(@)?\s+(.+?)")
_HTTP_VERSION = re.compile(r"HTTP/\d(?:\.\d)?", re.IGNORECASE)
_SYSTEM_VARIABLES = "$guid, $uuid, $timestamp, $randomInt MIN MAX, $processEnv NAME, $env NAME"


class HttpCellError(Exception):
    """An error the user caused in an `%%http` cell.

    IPython shows `_render_traceback_` instead of a traceback, so the cell fails (nbmake sees an
    error output) with just this message.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


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

    def error(self, message: str, variable: str | None = None) -> HttpSyntaxError:
        if variable is None:
            return HttpSyntaxError(message, self.line_no, self.source)
        return HttpVariableError(message, variable, self.line_no, self.source)


@dataclass
class HttpRequestSpec:
    """One request block, still holding its placeholders."""

    method: str
    url: list[Template]  # the request line's URL, then any `?`/`&` continuation lines
    line_no: int
    headers: list[tuple[str, Template]] = field(default_factory=list)
    body: list[Template] = field(default_factory=list)
    body_file: Template | None = None  # `< path` (raw) or `<@ path` (placeholders substituted)
    body_file_substitutes: bool = False
    name: str | None = None
    name_source: Template = field(default_factory=lambda: Template("", 0, ""))
    title: str | None = None
    follow_redirects: bool = True
    expect: Template | None = None  # `# @expect STATUS [JSON]`, checked by the runner

    def templates(self) -> Iterator[Template]:
        yield from self.url
        yield from (value for _, value in self.headers)
        yield from self.body
        if self.body_file is not None:
            yield self.body_file

    def header(self, name: str) -> Template | None:
        return next((v for k, v in reversed(self.headers) if k.lower() == name.lower()), None)


@dataclass
class HttpFile:
    requests: list[HttpRequestSpec]
    variables: dict[str, Template]


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
    """Parse `.http` text. `first_line_no` is the number shown for the text's first line."""
    variables: dict[str, Template] = {}
    requests: list[HttpRequestSpec] = []
    names: dict[str, int] = {}
    for title, block in _blocks(text, first_line_no):
        spec = _parse_block(block, title, variables)
        if spec is None:
            continue
        if spec.name is not None:
            if spec.name in names:
                raise spec.name_source.error(
                    f"request name '{spec.name}' is already used on line {names[spec.name]}"
                )
            names[spec.name] = spec.name_source.line_no
        requests.append(spec)
    if not requests:
        raise HttpSyntaxError("no request found: write a request line such as 'GET /items'")
    return HttpFile(requests, variables)


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


def _parse_block(
    block: list[tuple[int, str]], title: str | None, variables: dict[str, Template]
) -> HttpRequestSpec | None:
    preamble = _Preamble()
    for index, (no, line) in enumerate(block):
        stripped = line.strip()
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
            _rest_of_request(spec, block[index + 1 :])
            return spec
    return None


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


def _rest_of_request(spec: HttpRequestSpec, lines: list[tuple[int, str]]) -> None:
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


def _header(stripped: str, no: int, line: str) -> tuple[str, Template]:
    name, colon, value = stripped.partition(":")
    if not colon or not _HEADER_NAME.fullmatch(name.strip()):
        raise HttpSyntaxError("expected a header 'Name: value', or a blank line before the body", no, line)
    return name.strip(), Template(value.strip(), no, line)


def _body(spec: HttpRequestSpec, lines: list[tuple[int, str]]) -> None:
    while lines and not lines[-1][1].strip():
        lines = lines[:-1]
    for no, line in lines:
        if _looks_like_request_line(line):
            raise HttpSyntaxError(
                "this looks like a new request inside the previous one's body: "
                "separate requests with a '###' line",
                no,
                line,
            )
    include = _BODY_FILE.fullmatch(lines[0][1].strip()) if len(lines) == 1 else None
    if include is not None:
        spec.body_file_substitutes = include.group(1) is not None
        spec.body_file = Template(include.group(2), lines[0][0], lines[0][1])
        return
    spec.body = [Template(line, no, line) for no, line in lines]


def _looks_like_request_line(line: str) -> bool:
    tokens = line.split()
    return (
        1 < len(tokens) <= 3
        and tokens[0] in METHODS
        and (tokens[1].startswith("/") or re.match(r"https?://", tokens[1]) is not None)
    )


# ---------------------------------------------------------------- variables


@dataclass(frozen=True)
class _RequestRef:
    """`login.response.body.$.token` and friends."""

    request: str
    part: str  # "response" or "request"
    section: str  # "body" or "headers"
    selector: str  # "*", a JSONPath, or a header name
    steps: tuple[str | int, ...] = ()


def _parse_expression(expr: str, template: Template) -> str | _RequestRef:
    """A plain variable name, a `$system` variable (kept as text), or a request reference."""
    if expr.startswith("$"):
        return expr
    if re.fullmatch(_NAME, expr):
        return expr
    match = re.fullmatch(rf"({_NAME})\.(response|request)\.(body|headers)\.(.+)", expr)
    if match is None:
        head = re.match(_NAME, expr)
        hint = (
            f"; to use a response write e.g. {{{{{head.group(0)}.response.body.$.id}}}}"
            if head and expr[len(head.group(0)) :].startswith(".")
            else ""
        )
        raise template.error(f"invalid variable '{{{{{expr}}}}}'{hint}", expr)
    request, part, section, selector = match.groups()
    steps: tuple[str | int, ...] = ()
    if section == "body" and selector != "*":
        steps = _json_path(selector, template, expr)
    return _RequestRef(request, part, section, selector, steps)


def _json_path(path: str, template: Template, expr: str) -> tuple[str | int, ...]:
    """Parse the JSONPath subset `$.a.b[0]["c d"]` into steps."""
    if not path.startswith("$"):
        raise template.error(
            f"in '{{{{{expr}}}}}': a body selector is '*' or a JSONPath starting with '$'", expr
        )
    steps: list[str | int] = []
    rest = path[1:]
    token = re.compile(r"\.([^.\[\]]+)|\[(-?\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
    while rest:
        match = token.match(rest)
        if match is None:
            raise template.error(
                f"in '{{{{{expr}}}}}': unsupported JSONPath near '{rest}' (supported: $.key, $[0], $['key'])",
                expr,
            )
        key, index, quoted1, quoted2 = match.groups()
        steps.append(
            int(index) if index is not None else next(s for s in (key, quoted1, quoted2) if s is not None)
        )
        rest = rest[match.end() :]
    return tuple(steps)


def placeholders(template: Template) -> Iterator[str]:
    """The expressions inside `{{...}}` in `template`, checking the braces are balanced."""
    leftover = _PLACEHOLDER.sub("", template.text)
    if "{{" in leftover:
        raise template.error("unclosed '{{' (a variable is written {{name}})")
    for match in _PLACEHOLDER.finditer(template.text):
        yield match.group(1).strip()


def format_value(value: Any) -> str:
    """How a Python value or a JSON value is written into a request."""
    if isinstance(value, str):
        return value
    if hasattr(value, "model_dump_json"):
        return str(value.model_dump_json())
    if value is None or isinstance(value, bool | int | float | list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


class Resolver:
    """Substitutes `{{...}}`: file variables, then `externals` (Python variables), then responses.

    With `responses=None` it only checks that everything could be resolved (names defined,
    referenced requests named earlier, environment variables set) and sends nothing.
    """

    def __init__(self, variables: Mapping[str, Template], externals: Mapping[str, Any]) -> None:
        self.variables = variables
        self.externals = externals

    def check(self, http: HttpFile, earlier_names: Iterable[str] = ()) -> None:
        """`earlier_names`: named responses from before this text (e.g. previous cells)."""
        earlier = set(earlier_names)
        for spec in http.requests:
            for template in spec.templates():
                self._substitute(template, None, earlier, ())
            if spec.name:
                earlier.add(spec.name)

    def resolve(self, template: Template, responses: Mapping[str, _Response]) -> str:
        return self._substitute(template, responses, set(responses), ())

    def _substitute(
        self,
        template: Template,
        responses: Mapping[str, _Response] | None,
        earlier: set[str],
        stack: tuple[str, ...],
    ) -> str:
        values = {
            expr: self._value(expr, template, responses, earlier, stack) for expr in placeholders(template)
        }
        return _PLACEHOLDER.sub(lambda m: values[m.group(1).strip()], template.text)

    def _value(
        self,
        expr: str,
        template: Template,
        responses: Mapping[str, _Response] | None,
        earlier: set[str],
        stack: tuple[str, ...],
    ) -> str:
        parsed = _parse_expression(expr, template)
        if isinstance(parsed, _RequestRef):
            return _request_value(parsed, expr, template, responses, earlier)
        if parsed.startswith("$"):
            return _system_value(parsed, template)
        if parsed in self.variables:
            if parsed in stack:
                cycle = " -> ".join((*stack, parsed))
                raise template.error(f"variable '{parsed}' refers to itself ({cycle})", parsed)
            return self._substitute(self.variables[parsed], responses, earlier, (*stack, parsed))
        if parsed in self.externals:
            return format_value(self.externals[parsed])
        raise template.error(
            f"undefined variable '{parsed}': define it with '@{parsed} = value' or as a Python variable",
            parsed,
        )


def _request_value(
    ref: _RequestRef,
    expr: str,
    template: Template,
    responses: Mapping[str, _Response] | None,
    earlier: set[str],
) -> str:
    if ref.request not in earlier:
        raise template.error(
            f"'{{{{{expr}}}}}' refers to request '{ref.request}', but no earlier request "
            f"is named that (add '# @name {ref.request}' above it)",
            expr,
        )
    if responses is None:
        return ""
    response = responses[ref.request]
    message = response if ref.part == "response" else response.request
    if ref.section == "headers":
        value = message.headers.get(ref.selector)
        if value is None:
            raise template.error(
                f"'{{{{{expr}}}}}': no header '{ref.selector}' in the {ref.part} of '{ref.request}'",
                expr,
            )
        return str(value)
    text = message.text if ref.part == "response" else _request_text(message)
    if ref.selector == "*":
        return text
    try:
        document = json.loads(text)
    except ValueError:
        raise template.error(
            f"'{{{{{expr}}}}}': the {ref.part} body of '{ref.request}' is not JSON: {_shorten(text)}",
            expr,
        ) from None
    return format_value(_walk(document, ref.steps, template, expr))


def _request_text(request: Any) -> str:
    content = getattr(request, "content", b"")
    return content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)


def _walk(document: Any, steps: tuple[str | int, ...], template: Template, expr: str) -> Any:
    here = "$"
    for step in steps:
        if isinstance(step, int) and isinstance(document, list):
            if not -len(document) <= step < len(document):
                raise template.error(
                    f"'{{{{{expr}}}}}': {here} has {len(document)} items, no index {step}", expr
                )
            document, here = document[step], f"{here}[{step}]"
        elif isinstance(step, str) and isinstance(document, dict):
            if step not in document:
                keys = ", ".join(map(str, document)) or "none"
                raise template.error(f"'{{{{{expr}}}}}': no key '{step}' at {here} (keys: {keys})", expr)
            document, here = document[step], f"{here}.{step}"
        else:
            raise template.error(f"'{{{{{expr}}}}}': {here} is {_kind(document)}, cannot take {step!r}", expr)
    return document


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return f"the value {json.dumps(value)}"


def _shorten(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


_SYSTEM: dict[str, Callable[[list[str]], str | None]] = {
    "$guid": lambda args: str(uuid.uuid4()) if not args else None,
    "$uuid": lambda args: str(uuid.uuid4()) if not args else None,
    "$timestamp": lambda args: str(int(time.time())) if not args else None,
}


def _system_value(expr: str, template: Template) -> str:
    name, *args = expr.split()
    if name in _SYSTEM:
        value = _SYSTEM[name](args)
        if value is not None:
            return value
    elif name == "$randomInt" and len(args) == 2 and all(re.fullmatch(r"-?\d+", a) for a in args):
        low, high = int(args[0]), int(args[1])
        if low < high:
            return str(random.randrange(low, high))
    elif _env_variable(name, args) is not None:
        variable = _env_variable(name, args) or ""
        value = os.environ.get(variable)
        if value is None:
            raise template.error(f"environment variable '{variable}' is not set", expr)
        return value
    raise template.error(
        f"unknown or malformed system variable '{{{{{expr}}}}}' (supported: {_SYSTEM_VARIABLES})",
        expr,
    )


def _env_variable(name: str, args: list[str]) -> str | None:
    """`$processEnv NAME`, `$env NAME` (REST Client) or `$env.NAME` (JetBrains)."""
    if name in ("$processEnv", "$env") and len(args) == 1:
        return args[0]
    if name.startswith("$env.") and len(name) > 5 and not args:
        return name[5:]
    return None
