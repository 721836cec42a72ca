"""`%%http` cells end to end: real uvicorn in a thread, real httpx."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated

import pytest
import uvicorn
from fastapi import Depends, FastAPI, File, Form, Header, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, StreamingResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from kernel_ext._http._file import HttpSyntaxError, HttpVariableError
from kernel_ext._http._memory import HttpMemory
from kernel_ext._http._run import (
    HttpCellResult,
    HttpExpectationError,
    HttpRequestError,
    HttpUsageError,
    first_difference,
    http_arg_parser,
    run_http_cell,
)


def make_app() -> FastAPI:
    app = FastAPI()
    app.state.hits = 0

    @app.middleware("http")
    async def count(request: Request, call_next):
        request.app.state.hits += 1
        return await call_next(request)

    @app.post("/token")
    def token(username: Annotated[str, Form()], password: Annotated[str, Form()]) -> dict:
        if password != "secret":
            raise HTTPException(401, "bad password")
        return {"access_token": f"tok-{username}", "token_type": "bearer"}

    @app.get("/users/me")
    def me(authorization: Annotated[str, Header()] = "") -> dict:
        if not authorization.startswith("Bearer tok-"):
            raise HTTPException(401, "not authenticated")
        return {"name": authorization.removeprefix("Bearer tok-"), "roles": ["admin", "dev"]}

    @app.get("/items/{item_id}")
    def item(item_id: int) -> dict:
        if item_id > 100:
            raise HTTPException(404, "Item not found")
        return {"id": item_id, "name": f"item{item_id}", "tags": ["a", "b"], "on": True}

    @app.post("/echo", status_code=201)
    async def echo(request: Request) -> dict:
        body = (await request.body()).decode()
        return {"content_type": request.headers.get("content-type"), "body": body}

    @app.get("/moved")
    def moved() -> RedirectResponse:
        return RedirectResponse("/items/7", status_code=307)

    @app.get("/slow")
    def slow() -> dict:
        time.sleep(1.0)
        return {}

    @app.post("/upload")
    async def upload(
        title: Annotated[str, Form()],
        file: Annotated[UploadFile, File()],
        note: Annotated[str, Form()] = "",
    ) -> dict:
        data = await file.read()
        return {
            "title": title,
            "note": note,
            "filename": file.filename,
            "content_type": file.content_type,
            "sha256": hashlib.sha256(data).hexdigest(),
        }

    @app.get("/whoami")
    def whoami(credentials: Annotated[HTTPBasicCredentials, Depends(HTTPBasic())]) -> dict:
        return {"username": credentials.username, "password": credentials.password}

    @app.get("/events")
    def events(pause_after: int = -1, every: float = 0.2, pause: float = 3600) -> StreamingResponse:
        async def stream() -> AsyncIterator[str]:
            number = 0
            while True:  # never ends
                yield f"data: {number}\n\n"
                number += 1
                await asyncio.sleep(pause if number == pause_after else every)

        return StreamingResponse(stream(), media_type="text/event-stream")

    return app


class Server:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def hits(self) -> int:
        return self.app.state.hits

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)
        self.sock.close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server(make_app()) as running:
        yield running


def run(server: Server, cell: str, line: str = "", **ns) -> tuple[HttpCellResult, dict]:
    user_ns = dict(ns)
    return run_http_cell(line, cell, base_url=server.url, user_ns=user_ns), user_ns


LOGIN = """\
@user = alice
# @name login
POST /token
Content-Type: application/x-www-form-urlencoded

username={{user}}
&password={{password}}

### who am I
GET /users/me
Authorization: Bearer {{login.response.body.$.access_token}}
"""


def test_login_then_authorized_request(server: Server) -> None:
    result, ns = run(server, LOGIN, password="secret")
    assert ns["_http"] is result
    assert [r.status_code for r in result.responses] == [200, 200]
    assert result["login"].json()["access_token"] == "tok-alice"
    assert result.status_code == 200 and result.json()["name"] == "alice"
    assert result[0].request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert result[1].request.headers["authorization"] == "Bearer tok-alice"
    assert result.named.keys() == {"login"}


def test_named_responses_carry_over_to_later_cells(server: Server) -> None:
    user_ns, memory = {"password": "secret"}, HttpMemory()
    login = LOGIN.split("###")[0]
    run_http_cell("", login, base_url=server.url, user_ns=user_ns, memory=memory)
    me = "GET /users/me\nAuthorization: Bearer {{login.response.body.$.access_token}}"
    result = run_http_cell("", me, base_url=server.url, user_ns=user_ns, memory=memory)
    assert result.json()["name"] == "alice"
    # Another memory (another kernel's session) does not see them.
    with pytest.raises(HttpVariableError, match="no earlier request is named that"):
        run_http_cell("", me, base_url=server.url, user_ns=user_ns, memory=HttpMemory())


def test_output_name_and_several_requests(server: Server) -> None:
    cell = "GET /items/1\n\n###\n/items/2\n###\nGET /items/3 HTTP/1.1\n"
    result, ns = run(server, cell, "-o items")
    assert "_http" not in ns and ns["items"] is result
    assert [r.json()["id"] for r in result] == [1, 2, 3]
    assert len(result) == 3


def test_full_url_and_python_variables(server: Server) -> None:
    result, _ = run(server, "GET {{api}}/items/{{item_id}}", api=server.url, item_id=5)
    assert result.json()["id"] == 5
    other = Server(make_app())
    with other:
        result, _ = run(server, f"GET {other.url}/items/6")
        assert result.json()["id"] == 6
        assert other.hits == 1


def test_json_body_gets_a_content_type(server: Server) -> None:
    cell = 'POST /echo\n\n{"name": "{{name}}", "tags": {{tags}}}\n\n###\nPOST /echo\n\nplain'
    result, _ = run(server, cell, name="x", tags=["a", "b"])
    first, second = (r.json() for r in result)
    assert first["content_type"] == "application/json"
    assert json.loads(first["body"]) == {"name": "x", "tags": ["a", "b"]}
    assert second == {"content_type": None, "body": "plain"}


def test_body_from_a_file(server: Server, tmp_path: Path) -> None:
    (tmp_path / "body.json").write_text('{"who": "{{name}}"}')
    path = tmp_path / "body.json"
    result, _ = run(server, f"POST /echo\n\n< {path}\n\n###\nPOST /echo\n\n<@ {path}", name="bo")
    assert [json.loads(r.json()["body"]) for r in result] == [{"who": "{{name}}"}, {"who": "bo"}]


def test_redirects_are_followed_unless_told_not_to(server: Server) -> None:
    result, _ = run(server, "GET /moved\n###\n# @no-redirect\n# @name raw\nGET /moved")
    assert result[0].json()["id"] == 7
    assert result["raw"].status_code == 307
    chained, _ = run(
        server, "# @name r\n# @no-redirect\nGET /moved\n###\nGET {{r.response.headers.location}}"
    )
    assert chained.json()["id"] == 7


def test_expectations_pass(server: Server) -> None:
    run(server, "GET /items/1", "--expect 200")
    run(server, "GET /items/1", "--expect 2xx")
    run(server, "GET /items/1", """--expect 200 '{"name": "item1", "tags": ["a"], "on": true}'""")
    run(server, "GET /items/1", "--expect 200 {}")
    run(server, '# @expect 201 {"body": "x"}\nPOST /echo\n\nx\n###\nGET /items/404', "--expect 404")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "--expect 200",
            'GET /items/404: expected status 200, got 404; body: {"detail":"Item not found"}',
        ),
        ("--expect 5xx", "GET /items/404: expected status 5xx, got 404"),
    ],
)
def test_expected_status_fails(server: Server, line: str, message: str) -> None:
    with pytest.raises(HttpExpectationError) as info:
        run(server, "GET /items/404", line)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("expected", "difference"),
    [
        ('{"name": "x"}', '$.name: expected "x", got "item1"'),
        ('{"nope": 1}', "$.nope: missing (keys: id, name, tags, on)"),
        ('{"tags": ["a", "c"]}', '$.tags[1]: expected "c", got "b"'),
        ('{"tags": ["a", "b", "c"]}', "$.tags: expected at least 3 items, got 2"),
        ('{"on": 1}', "$.on: expected 1, got true"),
        ('{"id": {"x": 1}}', "$.id: expected an object, got 1"),
        ("[1]", '$: expected a list, got {"id": 1, "name": "item1"'),
    ],
)
def test_expected_json_fails_at_the_first_difference(server: Server, expected: str, difference: str) -> None:
    with pytest.raises(HttpExpectationError) as info:
        run(server, "GET /items/1", f"--expect 200 '{expected}'")
    assert str(info.value).startswith("GET /items/1: status 200 as expected, but the body ")
    assert difference in str(info.value)


def test_failed_expectation_still_stores_the_responses(server: Server) -> None:
    cell = "# @name ok\nGET /items/1\n###\n# @expect 200\nGET /items/404\n###\nGET /items/2"
    user_ns: dict = {}
    with pytest.raises(HttpExpectationError, match="GET /items/404: expected status 200"):
        run_http_cell("-o r", cell, base_url=server.url, user_ns=user_ns)
    # The third request was not sent.
    assert [r.status_code for r in user_ns["r"].responses] == [200, 404]


def test_expectation_on_a_non_json_body(server: Server) -> None:
    with pytest.raises(HttpExpectationError, match="expected a JSON body, got text/html"):
        run(server, "GET /docs", """--expect 200 '{"a": 1}'""")


@pytest.mark.parametrize(
    "cell",
    [
        "GET /items/1\n###\nPOST /echo\nContent-Type application/json\n\n{}",
        "GET /items/1\n###\nGET /items/{{undefined_thing}}",
        "GET /items/1\n###\nGET /x\nAuth: {{later.response.body.$.t}}\n###\n# @name later\nGET /",
        "GET /items/1\n###\n# @expect 2000\nGET /items/2",
        "GET /items/1\n###\nGTE /items/2",
        # Found by building each request before any is sent:
        "POST /echo\n\nx\n###\nGET http://[::1/x",
        "POST /echo\n\nx\n###\nGET /items/1\nAccept: */*\nX-Name: café\n",
        "GET /items/1\n###\nGET /items/2\nX-A: {{two_lines}}",
        "GET /items/1\n###\nPOST /echo\n\n< /surely/not/here.json",
        "GET /items/1\n###\nPOST /echo\n\n<@nocodec ./body.txt",
        "GET /items/1\n###\nPOST /echo\nX-N: {{$random.integer(9, 1)}}\n",
        # ...and, in a request that waits for an earlier response, what does not depend on it:
        "# @name one\nGET /items/1\n###\nGET /items/{{one.response.body.$.id}}\nX-Name: café",
        "# @name one\nGET /items/1\n###\nGET http://[::1/{{one.response.body.$.id}}",
        "# @name one\nGET /items/1\n###\nPOST /x/{{one.response.body.$.id}}\n\n< /surely/not/here.json",
    ],
)
def test_malformed_cells_send_nothing(server: Server, cell: str) -> None:
    before = server.hits
    user_ns: dict = {"two_lines": "a\nb"}
    with pytest.raises(HttpSyntaxError) as info:
        run_http_cell("", cell, base_url=server.url, user_ns=user_ns)
    # Line 1 is the %%http line, so the cell's lines count from 2.
    assert str(info.value).startswith("line ")
    line = cell.splitlines()[info.value.line_no - 2]
    assert str(info.value).endswith(line.strip())
    assert server.hits == before
    assert user_ns == {"two_lines": "a\nb"}


def test_bad_header_and_url_messages(server: Server) -> None:
    with pytest.raises(HttpSyntaxError) as info:
        run(server, "POST /echo\n\nx\n###\nGET /items/1\nX-Name: café\n")
    assert str(info.value) == (
        "line 7: header 'X-Name': header values must be ASCII, and 'é' is not: percent-encode it "
        "(caf%C3%A9) or send it in the body\n    X-Name: café"
    )
    with pytest.raises(HttpSyntaxError) as info:
        run(server, "POST /echo\n\nx\n###\nGET http://[::1/x")
    assert str(info.value) == "line 6: invalid URL http://[::1/x: Invalid port: ':1'\n    GET http://[::1/x"


def test_a_value_from_a_response_is_checked_when_it_arrives(server: Server) -> None:
    before = server.hits
    cell = "# @name one\nPOST /echo\n\ncafé\n###\nGET /items/1\nX-Name: {{one.response.body.$.body}}"
    with pytest.raises(HttpSyntaxError) as info:
        run(server, cell)
    assert str(info.value).startswith("line 8: header 'X-Name': header values must be ASCII, and 'é'")
    assert server.hits == before + 1  # the first request only


def test_relative_path_without_a_server_sends_nothing(server: Server) -> None:
    before = server.hits
    with pytest.raises(HttpRequestError, match="GET /items/1: no in-kernel server"):
        run_http_cell("", f"GET {server.url}/items/1\n###\nGET /items/1", base_url=None, user_ns={})
    assert server.hits == before


def test_malformed_error_points_at_the_cell_line(server: Server) -> None:
    with pytest.raises(HttpVariableError) as info:
        run(server, "GET /items/1\n\n###\nGET /items/{{nope}}")
    assert info.value.line_no == 5  # %%http, GET, blank, ###, GET
    assert str(info.value) == (
        "line 5: undefined variable 'nope': define it with '@nope = value' or as a Python "
        "variable\n    GET /items/{{nope}}"
    )


def test_missing_response_value_stops_before_the_next_request(server: Server) -> None:
    before = server.hits
    cell = "# @name one\nGET /items/1\n###\nGET /items/{{one.response.body.$.missing}}"
    with pytest.raises(HttpVariableError, match=r"no key 'missing' at \$ \(keys: id, name"):
        run(server, cell)
    assert server.hits == before + 1


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("--expect", "expected at least one argument"),
        ("--expect 20", "expected a status such as 200 or 2xx"),
        ("--expect 200 {nope}", "--expect: invalid JSON '{nope}'"),
        ('--expect 200 \'{"a": 1', "cannot split the magic line"),
        ("-o 1x", "needs a Python variable name"),
        ("--timeout 0", "--timeout must be positive"),
        ("--bogus", "unrecognized arguments: --bogus"),
    ],
)
def test_bad_magic_line(server: Server, line: str, needle: str) -> None:
    before = server.hits
    with pytest.raises(HttpUsageError) as info:
        run(server, "GET /items/1", line)
    assert needle in str(info.value)
    assert server.hits == before


def test_connection_refused_and_timeout(server: Server) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(HttpRequestError, match=f"GET http://127.0.0.1:{port}/x: could not connect"):
        run(server, f"GET http://127.0.0.1:{port}/x")
    with pytest.raises(HttpRequestError, match=r"/slow: no response within 0.2 s"):
        run(server, "GET /slow", "--timeout 0.2")


def test_relative_path_without_a_server() -> None:
    with pytest.raises(HttpRequestError, match="no in-kernel server"):
        run_http_cell("", "GET /items/1", base_url=None, user_ns={})


def test_display(server: Server) -> None:
    result, _ = run(server, "### first\nGET /items/1\n###\nGET /items/404")
    html = result._repr_html_()
    assert html.index("item1") < html.index("Item not found")
    assert "item1" in html and "Item not found" in html
    assert "<b>first</b>" in html
    text = repr(result)
    assert text.startswith(f"### first\nGET {server.url}/items/1\nHTTP 200 OK · ")
    assert '"name": "item1"' in text
    assert f"\n\nGET {server.url}/items/404\nHTTP 404 Not Found · " in text
    assert not hasattr(result, "_repr_markdown_")


def test_help_text_lists_the_options(server: Server) -> None:
    text = http_arg_parser().format_help()
    assert all(option in text for option in ("--output", "--expect", "--timeout"))
    with pytest.raises(HttpUsageError) as info:
        run(server, "GET /items/1", "-h")
    assert str(info.value) == text


@pytest.mark.parametrize(
    ("expected", "actual", "difference"),
    [
        ({"a": {"b": [1, {"c": 2}]}}, {"a": {"b": [1, {"c": 2, "d": 3}, 4]}, "z": 0}, None),
        ([], [1, 2], None),
        ({"a b": 1}, {"a b": 2}, '$["a b"]: expected 1, got 2'),
        (None, 0, "$: expected null, got 0"),
        (1, 1.0, None),
        (True, 1, "$: expected true, got 1"),
    ],
)
def test_subset_semantics(expected, actual, difference) -> None:
    assert first_difference(expected, actual) == difference


def test_display_without_the_shared_renderer(server: Server, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "kernel_ext._render", None)
    result, _ = run(server, "GET /items/1")
    assert "item1" in result._repr_html_()
    assert repr(result).startswith(f"GET {server.url}/items/1\nHTTP 200 OK · ")


def test_the_magic_in_a_real_kernel(kernel) -> None:
    setup = kernel.run(
        "%load_ext kernel_ext\n"
        "from fastapi import FastAPI\n"
        "app = FastAPI()\n"
        "@app.get('/items/{item_id}')\n"
        "def item(item_id: int) -> dict:\n"
        "    return {'id': item_id, 'name': f'item{item_id}'}\n"
    )
    assert setup.status == "ok", setup.traceback
    ok = kernel.run("%%http -o r --expect 200 '{\"id\": 1}'\n@n = 1\nGET /items/{{n}}")
    assert ok.status == "ok", ok.traceback
    assert "item1" in ok.html and "HTTP 200 OK" in ok.text
    assert kernel.value("r.json()") == {"id": 1, "name": "item1"}

    # A failing expectation fails the cell (nbmake sees the error) with one line, no traceback.
    failed = kernel.run('%%http --expect 200 \'{"name": "x"}\'\nGET /items/2')
    assert failed.status == "error"
    assert failed.error["ename"] == "HttpExpectationError"
    assert failed.traceback == (
        "HttpExpectationError: GET /items/2: status 200 as expected, but the body differs at "
        '$.name: expected "x", got "item2"'
    )
    assert kernel.value("_http.json()['id']") == 2  # stored all the same

    malformed = kernel.run("%%http\nGET /items/3\n\n###\nGTE /items/4")
    assert malformed.status == "error"
    assert malformed.traceback == (
        "HttpSyntaxError: line 5: unknown HTTP method 'GTE' (expected one of GET, POST, PUT, "
        "PATCH, DELETE, HEAD, OPTIONS, ...)\n    GTE /items/4"
    )
    assert kernel.value("_http.json()['id']") == 2  # nothing was sent


# ---------------------------------------------------------------- multipart, handlers, auth


def multipart_cell(path: Path, note_line: str = "") -> str:
    return (
        "POST /upload\n"
        "Content-Type: multipart/form-data; boundary=WebAppBoundary\n"
        "\n"
        "--WebAppBoundary\n"
        'Content-Disposition: form-data; name="title"\n'
        "\n"
        "Holiday {{year}}\n"
        f"{note_line}"
        "--WebAppBoundary\n"
        'Content-Disposition: form-data; name="file"; filename="photo.png"\n'
        "Content-Type: image/png\n"
        "\n"
        f"< {path}\n"
        "--WebAppBoundary--\n"
    )


def test_multipart_form_with_a_file(server: Server, tmp_path: Path) -> None:
    # Bytes that are not UTF-8, with CR/LF inside and at the end, come through unchanged.
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + b"\r\n"
    (tmp_path / "photo.png").write_bytes(data)
    result, _ = run(server, multipart_cell(tmp_path / "photo.png"), year=2024)
    assert result.status_code == 200, result.text
    assert result.json() == {
        "title": "Holiday 2024",
        "note": "",
        "filename": "photo.png",
        "content_type": "image/png",
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    sent = result.request.content
    assert b"\r\n\r\nHoliday 2024\r\n--WebAppBoundary\r\n" in sent
    assert sent.endswith(b"\r\n--WebAppBoundary--")


def test_multipart_part_from_a_file_with_variables(server: Server, tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_text("written by {{user}}")
    (tmp_path / "photo.png").write_bytes(b"png")
    note = f'--WebAppBoundary\nContent-Disposition: form-data; name="note"\n\n<@ {tmp_path / "note.txt"}\n'
    result, _ = run(server, multipart_cell(tmp_path / "photo.png", note), year=1, user="alice")
    assert result.json()["note"] == "written by alice"


def test_a_missing_part_file_is_reported_before_sending(server: Server) -> None:
    before = server.hits
    with pytest.raises(HttpSyntaxError, match="line 13: cannot read the file: No such file"):
        run(server, multipart_cell(Path("/surely/not/here.png")), year=1)
    assert server.hits == before


def test_handlers_are_not_sent_and_noted_once(server: Server, capsys) -> None:
    cell = (
        "POST /echo\n"
        "Content-Type: application/json\n"
        "\n"
        '{"name": "pen"}\n'
        "\n"
        "> {%\n"
        '    client.global.set("id", response.body.id);\n'
        "%}\n"
        "###\n"
        "POST /echo\n"
        "\n"
        "plain\n"
        "> ./after.js\n"
    )
    result, _ = run(server, cell)
    assert [r.json()["body"] for r in result] == ['{"name": "pen"}', "plain"]
    printed = capsys.readouterr().out
    assert printed.count("note: ") == 1
    assert printed.startswith("note: lines 7, 14: JavaScript handlers ('> {% ... %}', '> file.js'")
    assert "{{login.response.body.$.token}}" in printed


def test_saving_the_response_body(server: Server, tmp_path: Path) -> None:
    out = tmp_path / "out" / "item.json"
    cell = f"GET /items/1\n\n>> {out}\n###\nGET /items/2\n\n>> {out}\n###\nGET /items/3\n\n>>! {out}"
    result, _ = run(server, cell)
    assert json.loads(out.read_text())["id"] == 3  # >>! overwrote the first
    assert json.loads((tmp_path / "out" / "item-1.json").read_text())["id"] == 2  # >> kept it
    assert [e.notes for e in result.exchanges] == [
        (f"saved the response body to {out}",),
        (f"saved the response body to {out.with_name('item-1.json')}",),
        (f"saved the response body to {out}",),
    ]
    assert f"note: saved the response body to {out}" in repr(result)


@pytest.mark.parametrize(
    ("value", "username", "password"),
    [
        ("Basic alice secret", "alice", "secret"),
        ("Basic alice:secret", "alice", "secret"),
        ("basic alice my secret", "alice", "my secret"),
        ("Basic alice:pass:word", "alice", "pass:word"),
        ("Basic {{user}} {{password}}", "alice", "s3cr3t"),
        ("Basic " + base64.b64encode(b"bob:x").decode(), "bob", "x"),  # already encoded: as is
    ],
)
def test_basic_authorization_is_encoded(server: Server, value: str, username: str, password: str) -> None:
    result, _ = run(server, f"GET /whoami\nAuthorization: {value}", user="alice", password="s3cr3t")
    assert result.json() == {"username": username, "password": password}


def test_other_authorization_schemes_are_sent_as_written(server: Server) -> None:
    result, _ = run(server, "GET /users/me\nAuthorization: Bearer tok-alice")
    assert result.request.headers["authorization"] == "Bearer tok-alice"
    assert result.json()["name"] == "alice"


# ---------------------------------------------------------------- across cells, streams


def test_file_variables_carry_over_to_later_cells(server: Server) -> None:
    user_ns: dict = {}
    memory = HttpMemory()

    def cell(text: str, line: str = ""):
        return run_http_cell(line, text, base_url=server.url, user_ns=user_ns, memory=memory)

    assert cell("# settings for the cells below\n@item = 3\n@path = /items/{{item}}") is None
    assert cell("GET {{path}}").json()["id"] == 3
    assert cell("@item = 4\nGET {{path}}").json()["id"] == 4  # redefined; {{path}} follows
    assert cell("GET {{path}}").json()["id"] == 4
    with pytest.raises(HttpVariableError, match="undefined variable 'path'"):
        run_http_cell(
            "", "GET {{path}}", base_url=server.url, user_ns={}, memory=HttpMemory()
        )  # another kernel
    with pytest.raises(HttpUsageError, match="--expect needs a request"):
        cell("@item = 5", "--expect 200")


def test_a_cell_that_fails_its_checks_defines_nothing(server: Server) -> None:
    user_ns: dict = {}
    memory = HttpMemory()
    with pytest.raises(HttpVariableError):
        run_http_cell(
            "", "@item = 7\nGET /items/{{item}}/{{nope}}", base_url=server.url, user_ns=user_ns, memory=memory
        )
    with pytest.raises(HttpVariableError, match="undefined variable 'item'"):
        run_http_cell("", "GET /items/{{item}}", base_url=server.url, user_ns=user_ns, memory=memory)


def test_an_error_in_a_carried_variable_says_where_it_came_from(server: Server) -> None:
    user_ns: dict = {}
    memory = HttpMemory()
    run_http_cell("", "@broken = {{nope}}", base_url=server.url, user_ns=user_ns, memory=memory)
    with pytest.raises(HttpVariableError) as info:
        run_http_cell("", "GET /items/{{broken}}", base_url=server.url, user_ns=user_ns, memory=memory)
    assert info.value.line_no is None
    assert "(in a variable defined in an earlier %%http cell)\n    @broken = {{nope}}" in str(info.value)


def test_a_stream_that_never_ends_is_cut_off(server: Server) -> None:
    user_ns: dict = {}
    memory = HttpMemory()
    result = run_http_cell(
        "--timeout 1.5", "# @name events\nGET /events", base_url=server.url, user_ns=user_ns, memory=memory
    )
    assert result.status_code == 200
    assert result.text.startswith("data: 0\n\ndata: 1\n\n")
    (note,) = result.exchanges[0].notes
    assert note.startswith("cut off after 1.5 s with the body still arriving: showing the ")
    assert note.endswith(" bytes received (--timeout SECONDS waits longer)")
    assert f"note: {note}" in repr(result) and "cut off after 1.5 s" in result._repr_html_()
    # What arrived is usable, here and in later cells.
    again = run_http_cell(
        "", "POST /echo\n\n{{events.response.body.*}}", base_url=server.url, user_ns=user_ns, memory=memory
    )
    assert again.json()["body"].startswith("data: 0\n\ndata: 1\n\n")


def test_a_stream_that_pauses_is_cut_off_at_the_deadline(server: Server) -> None:
    # Four events 0.5 s apart (the last at 1.5 s), a pause, then a fifth at 2.75 s: the deadline
    # (2 s) ends the read in the pause. Waiting for the next chunk, or for a read timeout a whole
    # --timeout after the last one (3.5 s), would take the fifth event in.
    result, _ = run(server, "GET /events?pause_after=4&every=0.5&pause=1.25", "--timeout 2")
    assert result.text == "".join(f"data: {number}\n\n" for number in range(4))
    assert result.exchanges[0].notes[0].startswith("cut off after 2 s")


def test_a_request_may_set_its_own_timeout(server: Server) -> None:
    result, _ = run(server, "# @timeout 800 ms\nGET /events\n###\nGET /items/1", "--timeout 30")
    assert result[0].text.startswith("data: 0") and result.exchanges[0].notes[0].startswith(
        "cut off after 0.8 s"
    )
    with pytest.raises(HttpRequestError, match=r"/slow: no response within 0.2 s"):
        run(server, "# @timeout 0.2\nGET /slow")


def test_a_body_that_ends_in_time_has_no_note(server: Server) -> None:
    result, _ = run(server, "GET /items/1", "--timeout 5")
    assert result.exchanges[0].notes == ()
    assert "note:" not in repr(result)


def test_carried_variables_and_notes_in_an_ipython_shell(shell, capsys) -> None:
    shell.ok(
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/items/{i}')\ndef item(i: int):\n    return {'id': i}"
    )
    shell.ok("%%http\n@item = 8")
    result = shell.ok("%%http -o got\nGET /items/{{item}}\n\n> {% client.log(1) %}")
    assert shell.ns["got"].json() == {"id": 8} and result.result is shell.ns["got"]
    assert "note: line 4: JavaScript handlers" in capsys.readouterr().out
    # The kernel's session holds what carries over; a new session starts with nothing.
    assert shell.session.http.variables.keys() == {"item"}
    shell.ok("%unload_ext kernel_ext")
    shell.ok("%load_ext kernel_ext")
    assert shell.session.http.variables == {} and shell.session.http.responses == {}
