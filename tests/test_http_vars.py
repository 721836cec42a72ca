"""`{{variable}}` resolution: file variables, named responses, system variables (no network)."""

from __future__ import annotations

import dataclasses
import json
import re
import time
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from kernel_ext._http._file import HttpSyntaxError, HttpVariableError, Template, parse_http
from kernel_ext._http._vars import STAND_IN, Resolver, _moment_format, _shifted
from tests.support.http_files import checked


def resolve(text: str, template_text: str, externals=None, responses=None) -> str:
    http = parse_http(text)
    return Resolver(http.variables, externals or {}).resolve(
        Template(template_text, 1, template_text), responses or {}
    )


@pytest.mark.parametrize(
    ("text", "variable", "line_no", "needle"),
    [
        ("GET /{{nope}}", "nope", 1, "undefined variable 'nope'"),
        ("@a = {{b}}\nGET /{{a}}", "b", 1, "undefined variable 'b'"),
        ("@a = {{b}}\n@b = x{{a}}\nGET /{{a}}", "a", 2, "refers to itself (a -> b -> a)"),
        ("GET /x\nAuth: {{login.response.body.$.t}}", "login.response.body.$.t", 2, "login"),
        ("GET /x\n\n{{obj.attr}}", "obj.attr", 3, "invalid variable"),
        ("GET /{{login.response.body.token}}", "login.response.body.token", 1, "JSONPath"),
        ("GET /{{$nope}}", "$nope", 1, "unknown or malformed system variable"),
        ("GET /{{$randomInt 5}}", "$randomInt 5", 1, "system variable"),
        ("GET /{{$processEnv KERNEL_EXT_SURELY_UNSET}}", "$processEnv", 1, "is not set"),
    ],
)
def test_undefined_or_bad_variables(text: str, variable: str, line_no: int, needle: str) -> None:
    with pytest.raises(HttpVariableError) as info:
        checked(text)
    assert needle in str(info.value)
    assert info.value.variable.startswith(variable)
    assert info.value.line_no == line_no


def test_a_request_may_only_use_earlier_named_responses() -> None:
    text = "GET /a\nX: {{b.response.headers.Location}}\n###\n# @name b\nGET /b\n"
    with pytest.raises(HttpVariableError, match="no earlier request is named that"):
        checked(text)
    checked("# @name b\nGET /b\n###\nGET /a\nX: {{b.response.headers.Location}}\n")


def test_unclosed_braces() -> None:
    with pytest.raises(HttpSyntaxError, match=r"unclosed '\{\{'"):
        checked("GET /a\nX: {{oops\n")


def test_file_variables_python_variables_and_precedence(monkeypatch) -> None:
    monkeypatch.setenv("KERNEL_EXT_TEST_HTTP", "from-env")
    text = "@host = http://h:1\n@base = {{host}}/api\n@shadow = file\nGET /"
    externals = {"shadow": "python", "n": 3, "flag": True, "obj": {"a": [1, None]}}
    assert resolve(text, "{{base}}/x", externals) == "http://h:1/api/x"
    assert resolve(text, "{{ shadow }}", externals) == "file"
    assert resolve(text, "{{n}} {{flag}} {{obj}}", externals) == '3 true {"a": [1, null]}'
    assert resolve(text, "{{$processEnv KERNEL_EXT_TEST_HTTP}}") == "from-env"
    assert resolve(text, "{{$env KERNEL_EXT_TEST_HTTP}}") == "from-env"
    assert resolve(text, "{{$env.KERNEL_EXT_TEST_HTTP}}") == "from-env"
    assert len(resolve(text, "{{$guid}}")) == 36
    assert resolve(text, "{{$timestamp}}").isdigit()
    assert 1 <= int(resolve(text, "{{$randomInt 1 3}}")) < 3


ISO_UTC = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.mark.parametrize(
    ("expr", "pattern"),
    [
        ("$datetime iso8601", ISO_UTC),
        ("$isoTimestamp", ISO_UTC),
        ("$datetime rfc1123", r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT"),
        ("$datetime 'YYYY-MM-DD'", r"\d{4}-\d\d-\d\d"),
        ('$datetime "DD/MM/YYYY HH:mm" 1 d', r"\d\d/\d\d/\d{4} \d\d:\d\d"),
        ("$localDatetime iso8601", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d"),
        ("$localDatetime rfc1123", r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}"),
        ("$timestamp", r"\d{10}"),
        ("$randomInt", r"\d{1,3}"),
        ("$randomInt -5 -4", r"-5"),
        ("$uuid", r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}"),
        ("$random.uuid", r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}"),
        ("$random.integer(7, 8)", r"7"),
        ("$random.integer", r"\d{1,3}"),
        ("$random.float(1.5, 1.6)", r"1\.5\d*"),
        ("$random.alphabetic(12)", r"[A-Za-z]{12}"),
        ("$random.alphanumeric(12)", r"\w{12}"),
        ("$random.hexadecimal(12)", r"[0-9a-f]{12}"),
        ("$random.email", r"[a-z]{10}@example\.com"),
    ],
)
def test_system_variables(expr: str, pattern: str) -> None:
    assert re.fullmatch(pattern, resolve("GET /", f"{{{{{expr}}}}}"))


def test_system_variables_give_the_current_time_and_offsets() -> None:
    now = time.time()
    assert abs(int(resolve("GET /", "{{$timestamp}}")) - now) < 5
    assert abs(int(resolve("GET /", "{{$timestamp -1 d}}")) - (now - 86400)) < 5
    assert abs(int(resolve("GET /", "{{$timestamp 2 h}}")) - (now + 7200)) < 5
    stamp = datetime.strptime(resolve("GET /", "{{$datetime iso8601}}"), "%Y-%m-%dT%H:%M:%S.%fZ")
    assert abs(stamp.replace(tzinfo=UTC).timestamp() - now) < 5
    assert uuid.UUID(resolve("GET /", "{{$guid}}")) != uuid.UUID(resolve("GET /", "{{$guid}}"))


def test_moment_formats_and_month_offsets() -> None:
    moment = datetime(2024, 3, 5, 14, 7, 9, 45000, tzinfo=UTC)
    text = _moment_format(moment, "dddd, Do MMMM YYYY [at] hh:mm:ss.SSS A Z (ddd D/M/YY, X)")
    assert text == "Tuesday, 5th March 2024 at 02:07:09.045 PM +00:00 (Tue 5/3/24, 1709647629)"
    assert _shifted(datetime(2024, 1, 31, tzinfo=UTC), "1", "M") == datetime(2024, 2, 29, tzinfo=UTC)
    assert _shifted(datetime(2024, 2, 29, tzinfo=UTC), "-1", "y") == datetime(2023, 2, 28, tzinfo=UTC)
    assert _shifted(moment, "-90", "m") == datetime(2024, 3, 5, 12, 37, 9, 45000, tzinfo=UTC)
    assert _shifted(datetime(2024, 5, 31, tzinfo=UTC), "-1", "Q") == datetime(2024, 2, 29, tzinfo=UTC)
    assert _shifted(moment, "1500", "ms") == datetime(2024, 3, 5, 14, 7, 10, 545000, tzinfo=UTC)
    assert _shifted(moment, "2", "w") == datetime(2024, 3, 19, 14, 7, 9, 45000, tzinfo=UTC)


def test_environment_and_dotenv(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("KERNEL_EXT_TEST_TOKEN", "t0k")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("API_KEY=from-dotenv\nexport QUOTED='a b'\n")
    text = "@which = KERNEL_EXT_TEST_TOKEN\n@key_name = API_KEY\nGET /"
    assert resolve(text, "{{$processEnv %which}}") == "t0k"  # the name comes from a variable
    assert resolve(text, "{{$dotenv API_KEY}} {{$dotenv QUOTED}}") == "from-dotenv a b"
    assert resolve(text, "{{$dotenv %key_name}}") == "from-dotenv"
    with pytest.raises(HttpVariableError, match=r"\$dotenv: 'NOPE' is not set in .*\.env"):
        resolve(text, "{{$dotenv NOPE}}")
    (tmp_path / ".env").unlink()
    with pytest.raises(HttpVariableError, match=r"\$dotenv: there is no .*\.env"):
        resolve(text, "{{$dotenv API_KEY}}")


@pytest.mark.parametrize(
    ("expr", "needle"),
    [
        ("$random.integer(5, 1)", "5 is not below 1"),
        ("$random.integer(a, b)", "write $random.integer(MIN, MAX)"),
        ("$random.alphabetic(0)", "write $random.alphabetic(LENGTH), LENGTH > 0"),
        ("$randomInt 3 3", "3 is not below 3"),
        ("$datetime unix", "unknown or malformed system variable"),
        ("$timestamp 1 fortnight", "unknown or malformed system variable"),
        ("$random.colour", "unknown or malformed system variable"),
    ],
)
def test_malformed_system_variables(expr: str, needle: str) -> None:
    with pytest.raises(HttpVariableError) as info:
        checked(f"GET /x\nX-A: {{{{{expr}}}}}")
    assert needle in str(info.value)
    assert info.value.line_no == 2


def test_preview_reads_response_values_as_a_stand_in() -> None:
    http = parse_http("@id = {{one.response.body.$.id}}\nGET /")
    resolver = Resolver(http.variables, {"n": 2})
    assert resolver.preview(Template("/items/{{id}}?n={{n}}", 1, ""), {"one"}) == (
        f"/items/{STAND_IN}?n=2",
        True,
    )
    assert resolver.preview(Template("/items/{{n}}", 1, ""), {"one"}) == ("/items/2", False)


def test_an_error_in_a_variable_from_an_earlier_cell_names_no_line() -> None:
    earlier = dataclasses.replace(Template("{{nope}}", 3, "@a = {{nope}}"), earlier_cell=True)
    with pytest.raises(HttpVariableError) as info:
        Resolver({"a": earlier}, {}).resolve(Template("/{{a}}", 2, "GET /{{a}}"), {})
    assert info.value.line_no is None
    assert str(info.value) == (
        "undefined variable 'nope': define it with '@nope = value' or as a Python variable "
        "(in a variable defined in an earlier %%http cell)\n    @a = {{nope}}"
    )


class FakeResponse(SimpleNamespace):
    """Just the attributes variable lookup reads; the real thing is covered in test_http_run."""


def login_response() -> FakeResponse:
    body = {"access_token": "tok", "user": {"roles": ["a", "b"], "odd key": 1}, "n": 2}
    request = SimpleNamespace(headers={"X-Sent": "yes"}, content=b'{"u": "alice"}')
    return FakeResponse(headers={"Location": "/next"}, text=json.dumps(body), request=request)


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("login.response.body.$.access_token", "tok"),
        ("login.response.body.$.user.roles[1]", "b"),
        ("login.response.body.$.user.roles[-1]", "b"),
        ("login.response.body.$['user'][\"odd key\"]", "1"),
        ("login.response.body.$.user.roles", '["a", "b"]'),
        ("login.response.body.$.n", "2"),
        ("login.response.headers.Location", "/next"),
        ("login.request.headers.X-Sent", "yes"),
        ("login.request.body.$.u", "alice"),
    ],
)
def test_response_variables(expr: str, value: str) -> None:
    assert resolve("GET /", f"{{{{{expr}}}}}", responses={"login": login_response()}) == value


def test_a_full_jsonpath_query_gives_its_first_match() -> None:
    body = {"items": [{"id": 1, "tag": "a"}, {"id": 2, "tag": "b"}]}
    page = FakeResponse(headers={}, text=json.dumps(body), request=None)

    def value(query: str) -> str:
        return resolve("GET /", f"{{{{page.response.body.{query}}}}}", responses={"page": page})

    assert value("$.items[*].id") == "1"  # several match: the first, as REST Client takes it
    assert value('$.items[?@.tag == "b"].id') == "2"
    assert value("$..id") == "1"
    with pytest.raises(HttpVariableError, match=r"nothing at \$\.items matches \[\?"):
        value('$.items[?@.tag == "z"].id')
    with pytest.raises(HttpVariableError, match=r"invalid JSONPath \(unexpected end of query\)"):
        value("$.items[")


def test_response_body_star_is_the_raw_text() -> None:
    text = resolve("GET /", "{{login.response.body.*}}", responses={"login": login_response()})
    assert json.loads(text)["n"] == 2


@pytest.mark.parametrize(
    ("expr", "needle"),
    [
        ("login.response.body.$.missing", "no key 'missing' at $ (keys: access_token, user, n)"),
        ("login.response.body.$.user.roles[5]", "$.user.roles has 2 items, no index 5"),
        ("login.response.body.$.n.x", "$.n is the value 2, cannot take 'x'"),
        ("login.response.headers.X-Nope", "no header 'X-Nope' in the response of 'login'"),
    ],
)
def test_response_variable_errors(expr: str, needle: str) -> None:
    with pytest.raises(HttpVariableError) as info:
        resolve("GET /", f"{{{{{expr}}}}}", responses={"login": login_response()})
    assert needle in str(info.value)


def test_non_json_body() -> None:
    response = FakeResponse(headers={}, text="<html>hi</html>", request=None)
    with pytest.raises(HttpVariableError, match="response body of 'page' is not JSON: <html>"):
        resolve("GET /", "{{page.response.body.$.x}}", responses={"page": response})
