"""`{{...}}` in `.http` requests: file variables, values from earlier named responses, and the
system variables of VS Code REST Client and JetBrains HTTP client (`{{$uuid}}`, `{{$datetime ...}}`).

`Resolver.check` finds undefined or malformed placeholders before anything is sent; `Resolver`
fills them in as the requests run.
"""

from __future__ import annotations

import json
import os
import random
import re
import string
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dateutil.relativedelta import relativedelta

if TYPE_CHECKING:
    import jsonpath

from ._file import (
    _NAME,
    _PLACEHOLDER,
    HttpFile,
    HttpSyntaxError,
    Template,
    _Response,
)

_SYSTEM_VARIABLES = (
    "$guid, $uuid, $random.uuid, $timestamp [OFFSET UNIT], $isoTimestamp, "
    "$datetime rfc1123|iso8601|'FORMAT' [OFFSET UNIT], $localDatetime ..., $randomInt [MIN MAX], "
    "$random.integer(MIN, MAX), $random.float(MIN, MAX), $random.alphabetic(N), "
    "$random.alphanumeric(N), $random.hexadecimal(N), $random.email, $processEnv NAME, $env.NAME, "
    "$dotenv NAME"
)


# ---------------------------------------------------------------- variables


@dataclass(frozen=True)
class _RequestRef:
    """`login.response.body.$.token` and friends."""

    request: str
    part: str  # "response" or "request"
    section: str  # "body" or "headers"
    selector: str  # "*", a JSONPath, or a header name
    query: jsonpath.JSONPath | None = field(default=None, compare=False)


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
    query = _json_path(selector, template, expr) if section == "body" and selector != "*" else None
    return _RequestRef(request, part, section, selector, query)


def _json_path(path: str, template: Template, expr: str) -> jsonpath.JSONPath:
    """A JSONPath query (RFC 9535: `$.a.b[0]["c d"]`, `$.items[*].id`, filters...)."""
    import jsonpath  # ~0.1 s: only cells that read a response body pay it

    if not path.startswith("$"):
        raise template.error(
            f"in '{{{{{expr}}}}}': a body selector is '*' or a JSONPath starting with '$'", expr
        )
    try:
        query = jsonpath.compile(path)
    except jsonpath.JSONPathError as exc:
        reason = str(exc).splitlines()[0]
        raise template.error(f"in '{{{{{expr}}}}}': invalid JSONPath ({reason})", expr) from None
    if isinstance(query, jsonpath.CompoundJSONPath):  # `|` and `&` are python-jsonpath's own
        raise template.error(f"in '{{{{{expr}}}}}': invalid JSONPath (one query, no | or &)", expr)
    return query


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


# What a response value reads as while checking a request before that response exists.
STAND_IN = "0"


@dataclass
class _Lookup:
    responses: Mapping[str, _Response] | None  # None: checking, before anything is sent
    earlier: set[str]  # the names a `{{name.response...}}` may refer to
    waits: bool = False  # a value came from a response that does not exist yet


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
                self.preview(template, earlier)
            if spec.name:
                earlier.add(spec.name)

    def preview(self, template: Template, earlier_names: Iterable[str]) -> tuple[str, bool]:
        """`template` resolved before any response exists, each response value read as
        `STAND_IN`; and whether there was such a value."""
        lookup = _Lookup(None, set(earlier_names))
        return self._substitute(template, lookup, ()), lookup.waits

    def resolve(self, template: Template, responses: Mapping[str, _Response]) -> str:
        return self._substitute(template, _Lookup(responses, set(responses)), ())

    def _substitute(self, template: Template, lookup: _Lookup, stack: tuple[str, ...]) -> str:
        values = {expr: self._value(expr, template, lookup, stack) for expr in placeholders(template)}
        return _PLACEHOLDER.sub(lambda m: values[m.group(1).strip()], template.text)

    def _value(self, expr: str, template: Template, lookup: _Lookup, stack: tuple[str, ...]) -> str:
        parsed = _parse_expression(expr, template)
        if isinstance(parsed, _RequestRef):
            return _request_value(parsed, expr, template, lookup)
        if parsed.startswith("$"):
            return _system_value(parsed, template, lambda name: self._value(name, template, lookup, stack))
        if parsed in self.variables:
            if parsed in stack:
                cycle = " -> ".join((*stack, parsed))
                raise template.error(f"variable '{parsed}' refers to itself ({cycle})", parsed)
            return self._substitute(self.variables[parsed], lookup, (*stack, parsed))
        if parsed in self.externals:
            return format_value(self.externals[parsed])
        raise template.error(
            f"undefined variable '{parsed}': define it with '@{parsed} = value' or as a Python variable",
            parsed,
        )


def _request_value(ref: _RequestRef, expr: str, template: Template, lookup: _Lookup) -> str:
    if ref.request not in lookup.earlier:
        raise template.error(
            f"'{{{{{expr}}}}}' refers to request '{ref.request}', but no earlier request "
            f"is named that (add '# @name {ref.request}' above it)",
            expr,
        )
    if lookup.responses is None:
        lookup.waits = True
        return STAND_IN
    response = lookup.responses[ref.request]
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
    assert ref.query is not None  # a body selector other than '*'
    return format_value(_first_match(document, ref.query, template, expr))


def _request_text(request: Any) -> str:
    content = getattr(request, "content", b"")
    return content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)


def _first_match(document: Any, query: jsonpath.JSONPath, template: Template, expr: str) -> Any:
    """The first value `query` selects, as REST Client takes it; else where the query stops."""
    match = query.match(document)
    if match is not None:
        return match.obj
    raise template.error(f"'{{{{{expr}}}}}': {_where_it_stops(document, query)}", expr)


def _where_it_stops(document: Any, query: jsonpath.JSONPath) -> str:
    # The longest prefix of the query that selects something, and the step after it.
    import jsonpath

    here, value = "$", document
    for depth, segment in enumerate(query.segments, 1):
        match = jsonpath.match("$" + "".join(map(str, query.segments[:depth])), document)
        if match is None:
            return _missing_step(here, value, str(segment))
        here, value = _dotted(match.path), match.obj
    return f"nothing matches {query}"


def _missing_step(here: str, value: Any, step: str) -> str:
    name = re.fullmatch(r"\['(.*)'\]", step)
    index = re.fullmatch(r"\[(-?\d+)\]", step)
    if isinstance(value, dict) and name:
        keys = ", ".join(map(str, value)) or "none"
        return f"no key '{name.group(1)}' at {here} (keys: {keys})"
    if isinstance(value, list) and index:
        return f"{here} has {len(value)} items, no index {index.group(1)}"
    if not isinstance(value, dict | list):
        return f"{here} is {_kind(value)}, cannot take {step[1:-1] if name or index else step}"
    return f"nothing at {here} matches {step}"


def _dotted(normalized: str) -> str:
    """`$['user']['roles'][1]` as `$.user.roles[1]`: how people write it."""
    return re.sub(r"\['([A-Za-z_]\w*)'\]", r".\1", normalized)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return f"the value {json.dumps(value)}"


def _shorten(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- system variables
# REST Client: $guid, $timestamp, $datetime, $localDatetime, $randomInt, $processEnv, $dotenv.
# JetBrains: $uuid, $random.*, $isoTimestamp, $randomInt without bounds, $env.NAME.

_OFFSET = r"(?:\s+(-?\d+)\s+(y|Q|M|w|d|h|m|s|ms))?"
_TIMESTAMP = re.compile(rf"\$timestamp{_OFFSET}")
_DATETIME = re.compile(rf"\$(datetime|localDatetime)\s+(rfc1123|iso8601|'[^']+'|\"[^\"]+\"){_OFFSET}")
_RANDOM_INT = re.compile(r"\$randomInt(?:\s+(-?\d+)\s+(-?\d+))?")
_RANDOM_CALL = re.compile(r"\$random\.(integer|float|alphabetic|alphanumeric|hexadecimal)(?:\((.*)\))?")
_ENV = re.compile(r"\$(?:processEnv|env)\s+(%?)(\w+)|\$env\.(\w+)")
_DOTENV = re.compile(r"\$dotenv\s+(%?)([\w.-]+)")
_MONTHS = [
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
]
_WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_ALPHABET = {
    "alphabetic": string.ascii_letters,
    "alphanumeric": string.ascii_letters + string.digits + "_",
    "hexadecimal": "0123456789abcdef",
}


def _new_uuid() -> str:
    return str(uuid.uuid4())


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso_utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_PLAIN: dict[str, Callable[[], str]] = {
    "$guid": _new_uuid,
    "$uuid": _new_uuid,
    "$random.uuid": _new_uuid,
    "$isoTimestamp": lambda: _iso_utc(_utc_now()),
    "$random.email": lambda: "".join(random.choices(string.ascii_lowercase, k=10)) + "@example.com",
}


def _system_value(expr: str, template: Template, variable: Callable[[str], str]) -> str:
    """`{{$...}}`; `variable` looks up a plain name (for `$processEnv %NAME`)."""
    if expr in _PLAIN:
        return _PLAIN[expr]()
    for pattern, value in _SYSTEM_FORMS:
        match = pattern.fullmatch(expr)
        if match is not None:
            return value(match, template, variable)
    raise template.error(
        f"unknown or malformed system variable '{{{{{expr}}}}}' (supported: {_SYSTEM_VARIABLES})",
        expr,
    )


def _malformed(template: Template, expr: str, hint: str) -> HttpSyntaxError:
    return template.error(f"malformed system variable '{{{{{expr}}}}}': {hint}", expr)


def _timestamp(match: re.Match[str], template: Template, variable: Callable[[str], str]) -> str:
    return str(int(_shifted(_utc_now(), match.group(1), match.group(2)).timestamp()))


def _datetime(match: re.Match[str], template: Template, variable: Callable[[str], str]) -> str:
    kind, form, amount, unit = match.groups()
    local = kind == "localDatetime"
    moment = _shifted(datetime.now().astimezone() if local else _utc_now(), amount, unit)
    if form == "iso8601":
        return moment.isoformat(timespec="milliseconds") if local else _iso_utc(moment)
    if form == "rfc1123":
        return (
            _moment_format(moment, "ddd, DD MMM YYYY HH:mm:ss ZZ")
            if local
            else format_datetime(moment, usegmt=True)
        )
    return _moment_format(moment, form[1:-1])


def _random_int(match: re.Match[str], template: Template, variable: Callable[[str], str]) -> str:
    if match.group(1) is None:
        return str(random.randrange(0, 1000))
    low, high = int(match.group(1)), int(match.group(2))
    if low >= high:
        raise _malformed(template, match.group(0), f"{low} is not below {high} (MAX is excluded)")
    return str(random.randrange(low, high))


def _random_call(match: re.Match[str], template: Template, variable: Callable[[str], str]) -> str:
    kind, arguments = match.group(1), (match.group(2) or "").strip()
    words = [word.strip() for word in arguments.split(",")] if arguments else []
    try:
        if kind in _ALPHABET:
            (length,) = map(int, words)
            if length < 1:
                raise ValueError
            return "".join(random.choices(_ALPHABET[kind], k=length))
        low, high = map(float if kind == "float" else int, words or ["0", "1000"])
    except ValueError:
        form = "(LENGTH), LENGTH > 0" if kind in _ALPHABET else "(MIN, MAX)"
        raise _malformed(template, match.group(0), f"write $random.{kind}{form}") from None
    if low >= high:
        raise _malformed(template, match.group(0), f"{low:g} is not below {high:g} (MAX is excluded)")
    if kind == "float":
        return str(random.uniform(low, high))
    return str(random.randrange(int(low), int(high)))


def _environment(match: re.Match[str], template: Template, variable: Callable[[str], str]) -> str:
    indirect, name, dotted = match.groups()
    name = dotted or (variable(name) if indirect else name)
    value = os.environ.get(name)
    if value is None:
        raise template.error(f"environment variable '{name}' is not set", match.group(0))
    return value


def _dotenv(match: re.Match[str], template: Template, variable: Callable[[str], str]) -> str:
    indirect, name = match.groups()
    name = variable(name) if indirect else name
    path = Path(".env").resolve()
    try:
        from dotenv import dotenv_values
    except ImportError:  # pragma: no cover - python-dotenv comes with uvicorn[standard]
        raise template.error(
            "$dotenv needs python-dotenv: pip install python-dotenv", match.group(0)
        ) from None
    if not path.is_file():
        raise template.error(f"$dotenv: there is no {path}", match.group(0))
    value = dotenv_values(path).get(name)
    if value is None:
        raise template.error(f"$dotenv: '{name}' is not set in {path}", match.group(0))
    return value


_SystemForm = Callable[[re.Match[str], Template, Callable[[str], str]], str]
_SYSTEM_FORMS: list[tuple[re.Pattern[str], _SystemForm]] = [
    (_TIMESTAMP, _timestamp),
    (_DATETIME, _datetime),
    (_RANDOM_INT, _random_int),
    (_RANDOM_CALL, _random_call),
    (_ENV, _environment),
    (_DOTENV, _dotenv),
]


# REST Client's offset units.
_OFFSET_UNITS = {
    "y": relativedelta(years=1),
    "Q": relativedelta(months=3),
    "M": relativedelta(months=1),
    "w": relativedelta(weeks=1),
    "d": relativedelta(days=1),
    "h": relativedelta(hours=1),
    "m": relativedelta(minutes=1),
    "s": relativedelta(seconds=1),
    "ms": relativedelta(microseconds=1000),
}


def _shifted(moment: datetime, amount: str | None, unit: str | None) -> datetime:
    """`moment` moved by an offset such as `-1 d` (units y Q M w d h m s ms, as in REST Client).
    Months and years keep the day where the month has it, else its last day (Jan 31 + 1 M)."""
    if amount is None or unit is None:
        return moment
    return moment + _OFFSET_UNITS[unit] * int(amount)


# The format tokens of moment.js (REST Client's `{{$datetime 'DD-MM-YYYY'}}`); `[text]` is literal.
# Not arrow's formatter: its tokens look the same but some differ from moment.js's (`Z` and `ZZ`
# are swapped, `d` counts ISO weekdays from Monday = 1), and REST Client documents moment's.
_MOMENT_TOKEN = re.compile(
    r"\[([^\]]*)\]|YYYY|YY|Q|MMMM|MMM|MM|M|DDDD|DDD|Do|DD|D|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s"
    r"|SSS|SS|S|A|a|ZZ|Z|X|x"
)


def _moment_format(moment: datetime, pattern: str) -> str:
    return _MOMENT_TOKEN.sub(lambda match: _moment_token(moment, match), pattern)


def _moment_token(moment: datetime, match: re.Match[str]) -> str:
    token = match.group(0)
    if match.group(1) is not None:
        return match.group(1)
    hour12 = moment.hour % 12 or 12
    weekday = (moment.weekday() + 1) % 7  # moment.js counts from Sunday
    day_of_year = moment.timetuple().tm_yday
    offset = moment.strftime("%z") or "+0000"
    values: dict[str, Callable[[], str]] = {
        "YYYY": lambda: f"{moment.year:04d}",
        "YY": lambda: f"{moment.year % 100:02d}",
        "Q": lambda: str((moment.month - 1) // 3 + 1),
        "MMMM": lambda: _MONTHS[moment.month - 1],
        "MMM": lambda: _MONTHS[moment.month - 1][:3],
        "MM": lambda: f"{moment.month:02d}",
        "M": lambda: str(moment.month),
        "DDDD": lambda: f"{day_of_year:03d}",
        "DDD": lambda: str(day_of_year),
        "Do": lambda: _ordinal(moment.day),
        "DD": lambda: f"{moment.day:02d}",
        "D": lambda: str(moment.day),
        "dddd": lambda: _WEEKDAYS[weekday],
        "ddd": lambda: _WEEKDAYS[weekday][:3],
        "dd": lambda: _WEEKDAYS[weekday][:2],
        "d": lambda: str(weekday),
        "HH": lambda: f"{moment.hour:02d}",
        "H": lambda: str(moment.hour),
        "hh": lambda: f"{hour12:02d}",
        "h": lambda: str(hour12),
        "mm": lambda: f"{moment.minute:02d}",
        "m": lambda: str(moment.minute),
        "ss": lambda: f"{moment.second:02d}",
        "s": lambda: str(moment.second),
        "SSS": lambda: f"{moment.microsecond // 1000:03d}",
        "SS": lambda: f"{moment.microsecond // 10000:02d}",
        "S": lambda: str(moment.microsecond // 100000),
        "A": lambda: "AM" if moment.hour < 12 else "PM",
        "a": lambda: "am" if moment.hour < 12 else "pm",
        "ZZ": lambda: offset,
        "Z": lambda: f"{offset[:3]}:{offset[3:]}",
        "X": lambda: str(int(moment.timestamp())),
        "x": lambda: str(int(moment.timestamp() * 1000)),
    }
    return values[token]()


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"
