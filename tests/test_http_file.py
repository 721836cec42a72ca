"""The `.http` parser and `{{variable}}` resolution (no network: see test_http_run.py for that)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from kernel_ext._http_file import (
    HttpSyntaxError,
    HttpVariableError,
    Resolver,
    Template,
    parse_http,
)


def checked(text: str, externals: dict | None = None, first_line_no: int = 1):
    http = parse_http(text, first_line_no=first_line_no)
    Resolver(http.variables, externals or {}).check(http)
    return http


def resolve(text: str, template_text: str, externals=None, responses=None) -> str:
    http = parse_http(text)
    return Resolver(http.variables, externals or {}).resolve(
        Template(template_text, 1, template_text), responses or {}
    )


def test_request_line_headers_body() -> None:
    (spec,) = checked(
        'POST /items HTTP/1.1\nContent-Type: application/json\nX-A:  1 \n\n{\n  "a": 1\n}\n\n'
    ).requests
    assert spec.method == "POST"
    assert [t.text for t in spec.url] == ["/items"]
    assert [(name, value.text) for name, value in spec.headers] == [
        ("Content-Type", "application/json"),
        ("X-A", "1"),
    ]
    assert "\n".join(t.text for t in spec.body) == '{\n  "a": 1\n}'
    assert spec.header("content-type").text == "application/json"


@pytest.mark.parametrize(
    ("line", "method", "url"),
    [
        ("/items", "GET", "/items"),
        ("https://example.org/x?y=1", "GET", "https://example.org/x?y=1"),
        ("delete /items/1", "DELETE", "/items/1"),
        ("PATCH {{host}}/items HTTP/2", "PATCH", "{{host}}/items"),
        ("GET /r/{{$randomInt 1 5}}", "GET", "/r/{{$randomInt 1 5}}"),
    ],
)
def test_request_line_forms(line: str, method: str, url: str) -> None:
    (spec,) = parse_http(f"@host = http://h\n{line}").requests
    assert (spec.method, spec.url[0].text) == (method, url)


def test_several_requests_names_titles_comments() -> None:
    http = checked(
        "# a comment\n// another\n@user = alice\n"
        "# @name login\nPOST /token\n\nusername={{user}}\n\n"
        "### fetch me\n# @no-redirect\nGET /me\n"
        "Authorization: Bearer {{login.response.body.$.access_token}}\n"
        "###\n\n###   \n# only comments here\n###\n// @name=last\nGET /last\n"
    )
    assert [s.url[0].text for s in http.requests] == ["/token", "/me", "/last"]
    assert [s.name for s in http.requests] == ["login", None, "last"]
    assert [s.title for s in http.requests] == [None, "fetch me", None]
    assert [s.follow_redirects for s in http.requests] == [True, False, True]
    assert [t.text for t in http.requests[0].body] == ["username={{user}}"]


def test_query_continuation_lines() -> None:
    (spec,) = parse_http("GET /items\n    ?page=2\n    &size=10\nAccept: */*\n").requests
    assert [t.text for t in spec.url] == ["/items", "?page=2", "&size=10"]
    assert [name for name, _ in spec.headers] == ["Accept"]


def test_body_file_include() -> None:
    (raw,) = parse_http("POST /x\n\n< ./body.json\n").requests
    (subst,) = parse_http("POST /x\n\n<@ body.json\n").requests
    (xml,) = parse_http("POST /x\n\n<?xml version='1.0'?>\n").requests
    assert (raw.body_file.text, raw.body_file_substitutes) == ("./body.json", False)
    assert (subst.body_file.text, subst.body_file_substitutes) == ("body.json", True)
    assert xml.body_file is None and xml.body[0].text.startswith("<?xml")


def test_expect_directive_is_kept_for_the_runner() -> None:
    (spec,) = parse_http('# @expect 201 {"id": 1}\nPOST /x\n').requests
    assert spec.expect.text == '201 {"id": 1}'


@pytest.mark.parametrize(
    ("text", "line_no", "needle"),
    [
        ("GTE /items", 1, "unknown HTTP method 'GTE'"),
        ("GET /a\nContent-Type application/json\n", 2, "expected a header 'Name: value'"),
        ('POST /a\n{"a": 1}', 2, "blank line before the body"),
        ("GET /a b c", 1, "expected 'METHOD URL [HTTP/1.1]'"),
        ("GET items", 1, "a path starting with '/' or a full http(s):// URL"),
        ("just words here", 1, "unknown HTTP method 'just'"),
        ("@ = 3\nGET /", 1, "malformed variable"),
        ("# @name not valid\nGET /", 1, "'@name' needs a name"),
        ("GET /a\n\n###\nGET /b\n\n### x\n  GET /c\n\nGET /d\n", 9, "separate requests with"),
        ("# @name a\nGET /a\n###\n# @name a\nGET /b", 4, "'a' is already used on line 1"),
        ("GET /a\n# @name late\n", 2, "above the request line"),
        ("# @expect\nGET /a", 1, "'@expect' needs a status"),
        ("# just a comment\n\n###\n", None, "no request found"),
    ],
)
def test_malformed_input_names_the_line(text: str, line_no: int | None, needle: str) -> None:
    with pytest.raises(HttpSyntaxError) as info:
        parse_http(text)
    assert needle in str(info.value)
    assert info.value.line_no == line_no
    if line_no is not None:
        offending = text.splitlines()[line_no - 1].strip()
        assert str(info.value).startswith(f"line {line_no}: ")
        assert str(info.value).endswith(f"\n    {offending}")


def test_line_numbers_are_shifted_for_the_magic_line() -> None:
    with pytest.raises(HttpSyntaxError) as info:
        parse_http("GET /a\nbad header\n", first_line_no=2)
    assert info.value.line_no == 3


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


def test_errors_render_without_traceback() -> None:
    error = HttpSyntaxError("bad", 3, "  GET oops  ")
    assert error._render_traceback_() == ["\x1b[0;31mHttpSyntaxError\x1b[0m: line 3: bad\n    GET oops"]
