"""The `.http` parser (no network: see test_http_run.py; variables: test_http_vars.py)."""

from __future__ import annotations

import pytest

from kernel_ext._http._file import HttpSyntaxError, parse_http
from tests.support.http_files import checked


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
    (latin,) = parse_http("POST /x\n\n<@latin1 body.txt\n").requests
    (xml,) = parse_http("POST /x\n\n<?xml version='1.0'?>\n").requests
    assert (raw.body_file.path.text, raw.body_file.substitutes) == ("./body.json", False)
    assert (subst.body_file.path.text, subst.body_file.substitutes) == ("body.json", True)
    assert (latin.body_file.path.text, latin.body_file.encoding) == ("body.txt", "latin1")
    assert raw.body == subst.body == []
    assert xml.body_file is None and xml.body[0].text.startswith("<?xml")


JETBRAINS = """\
< {%
    request.variables.set("id", "1");
%}
POST /items
Content-Type: application/json

{"name": "pen"}

> {%
    client.test("created", () => client.assert(response.status === 201));
    client.global.set("id", response.body.id);
%}
> ./check.js
<> 2024-01-01T120000.200.json
>> ./out/item.json

### next
# @name last
GET /items/1

> {% client.global.set("x", 1) %}
>>! ./out/last.json
"""


def test_jetbrains_handlers_are_left_out_of_the_request() -> None:
    http = parse_http(JETBRAINS)
    first, second = http.requests
    assert [t.text for t in first.body] == ['{"name": "pen"}']
    assert [name for name, _ in first.headers] == ["Content-Type"]
    assert (first.save_response.path.text, first.save_response.overwrite) == ("./out/item.json", False)
    assert (second.save_response.path.text, second.save_response.overwrite) == ("./out/last.json", True)
    assert second.body == [] and second.name == "last"
    # One note for the whole text, naming every script's line, and what to write instead.
    (note,) = http.notes
    assert note.startswith("lines 1, 9, 13, 21: JavaScript handlers")
    assert "are not run here" in note
    assert "# @name login" in note and "{{login.response.body.$.token}}" in note and "@expect" in note


def test_a_handler_right_after_the_headers_and_on_one_line() -> None:
    (spec,) = parse_http("GET /a\nAccept: */*\n> {% client.log(1) %}\n").requests
    assert [name for name, _ in spec.headers] == ["Accept"] and spec.body == []
    # A body line that merely starts with '>' stays in the body.
    (quoted,) = parse_http("POST /a\n\n> quoted text\n").requests
    assert [t.text for t in quoted.body] == ["> quoted text"]
    assert parse_http("GET /a").notes == []


@pytest.mark.parametrize(
    ("text", "line_no", "needle"),
    [
        ("GET /a\n\n> {%\n  client.log(1);\n", 3, "never closed: end it with a '%}' line"),
        ("GET /a\n\n> {% x %}\nmore body\n", 4, "after a response handler, expected"),
        ("GET /a\n\n>> out.json\nGET /b\n", 4, "separate requests with a '###' line"),
    ],
)
def test_malformed_handler_sections(text: str, line_no: int, needle: str) -> None:
    with pytest.raises(HttpSyntaxError) as info:
        parse_http(text)
    assert needle in str(info.value)
    assert info.value.line_no == line_no


def test_text_of_only_variables_defines_them() -> None:
    http = parse_http("# shared settings\n@host = http://h\n@user = alice\n")
    assert http.requests == [] and set(http.variables) == {"host", "user"}


@pytest.mark.parametrize(("value", "seconds"), [("5", 5.0), ("1.5 s", 1.5), ("500 ms", 0.5), ("2 m", 120.0)])
def test_timeout_directive(value: str, seconds: float) -> None:
    (spec,) = parse_http(f"# @timeout {value}\nGET /a").requests
    assert spec.timeout == seconds
    assert parse_http("GET /a").requests[0].timeout is None


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
        ("# @timeout soon\nGET /a", 1, "'@timeout' needs a positive duration"),
        ("# @timeout 0\nGET /a", 1, "'@timeout' needs a positive duration"),
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


def test_errors_render_without_traceback() -> None:
    error = HttpSyntaxError("bad", 3, "  GET oops  ")
    assert error._render_traceback_() == ["HttpSyntaxError: line 3: bad\n    GET oops"]
