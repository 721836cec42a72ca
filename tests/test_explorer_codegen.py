"""kernel_ext._explorer._codegen: "copy as" curl, httpx and a test cell, each run for real."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kernel_ext._explorer import Explorer, ExplorerError
from kernel_ext._explorer._codegen import to_curl, to_httpx
from kernel_ext._explorer._request import RequestSpec
from tests.support.explorer_app import demo_app
from tests.support.servers import serve


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FastAPI, str]]:
    app = demo_app()
    state = {"version": 1}

    @app.get("/version")
    def version() -> dict[str, int]:
        return state

    app.state.counter = state
    with serve(app) as url:
        yield app, url


def run(code: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(code, "<generated>", "exec"), namespace)
    return namespace


def fill_items(ex: Explorer) -> None:
    ex.select("GET", "/items/{item_id}")
    ex.set(item_id=4, q="a b", ids=[1, 2], x_trace="t", session="s")
    ex.auth_basic("u", "p")


def test_httpx_code_reproduces_the_request(ex: Explorer, capsys: pytest.CaptureFixture[str]) -> None:
    fill_items(ex)
    code = ex.copy_as("httpx")
    assert ex.code_area.value == code and ex.code_kind.value == "httpx"
    run(code)
    printed = capsys.readouterr().out
    assert printed.startswith("200 ")
    assert '"ids":[1,2]' in printed and '"x_trace":"t"' in printed and '"session":"s"' in printed


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_command_reproduces_the_request(ex: Explorer) -> None:
    fill_items(ex)
    command = ex.copy_as("curl")
    assert "-u u:p" in command and "-b session=s" in command
    out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30).stdout
    assert httpx.Response(200, content=out).json() == {
        "item_id": 4,
        "q": "a b",
        "limit": 10,
        "color": "red",
        "flag": False,
        "ids": [1, 2],
        "x_trace": "t",
        "session": "s",
    }


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_for_json_and_forms(ex: Explorer) -> None:
    ex.select("POST", "/items")
    ex.body = {"name": "it's", "price": 3}
    out = subprocess.run(["bash", "-c", ex.copy_as("curl")], capture_output=True, text=True, timeout=30)
    assert httpx.Response(200, content=out.stdout).json()["name"] == "it's"
    ex.select("POST", "/login")
    ex.set(username="a&b", password="x")
    out = subprocess.run(["bash", "-c", ex.copy_as("curl")], capture_output=True, text=True, timeout=30)
    assert httpx.Response(200, content=out.stdout).json()["username"] == "a&b"


def test_test_cell_asserts_on_the_observed_response(ex: Explorer, server: tuple[FastAPI, str]) -> None:
    app, _ = server
    ex.select("GET", "/version")
    ex.send()
    code = ex.copy_as("test")
    assert "def test_get_version():" in code
    assert "assert response.status_code == 200" in code
    assert "assert response.json() == {'version': 1}" in code
    run(code)  # passes against the same server
    app.state.counter["version"] = 2
    with pytest.raises(AssertionError):
        run(code)  # and fails once the behaviour changes: a real test


def test_test_cell_for_a_422_and_a_body(ex: Explorer) -> None:
    ex.select("POST", "/items")
    ex.body = {"name": "", "price": 0}
    assert ex.send().status_code == 422
    code = ex.copy_as("test")
    assert "assert response.status_code == 422" in code
    assert "json={'name': '', 'price': 0}" in code
    run(code)


def test_test_cell_with_files_and_text(ex: Explorer) -> None:
    ex.select("POST", "/upload")
    ex.set(file=("a.txt", b"abc"), extra=[("b.txt", b"b")])
    ex.send()
    code = ex.copy_as("test")
    assert "files=[('file', ('a.txt', b'abc', 'text/plain'))" in code
    run(code)
    ex.select("GET", "/text")
    ex.send()
    assert "assert response.text == 'plain text'" in ex.copy_as("test")


def test_copy_as_an_older_history_entry(ex: Explorer) -> None:
    ex.select("GET", "/text")
    ex.send()
    ex.select("GET", "/page")
    ex.send()
    assert "/text" in ex.copy_as("curl", entry=0)
    assert "/page" in ex.copy_as("curl")  # the current form


def test_code_tab_follows_each_send(ex: Explorer) -> None:
    ex.code_kind.value = "test"
    ex.select("GET", "/text")
    ex.send()
    assert "def test_get_text():" in ex.code_area.value


def test_code_tab_follows_what_is_typed(ex: Explorer) -> None:
    ex.code_kind.value = "curl"
    form = ex.select("GET", "/items/{item_id}")
    ex.set(item_id=5, q="x")
    assert "/items/5?q=x" in ex.code_area.value
    form.find("item_id").typed.value = 77  # typed in the widget
    assert "/items/77?q=x" in ex.code_area.value
    form.find("q").enabled.value = False  # unticked: not sent
    assert ex.code_area.value.endswith("/items/77")
    form.find("limit").raw_toggle.value = True
    form.find("limit").raw_text.value = "abc"
    assert "limit=abc" in ex.code_area.value
    ex.headers_area.value = "X-Trace: typed"
    assert "X-Trace: typed" in ex.code_area.value
    ex.auth.mode.value = "bearer"
    ex.auth.token.value = "tok"
    assert "Authorization: Bearer tok" in ex.code_area.value
    ex.auth_none()
    ex.headers = {}
    assert "Authorization" not in ex.code_area.value and "X-Trace" not in ex.code_area.value

    ex.code_kind.value = "httpx"
    ex.select("POST", "/items")
    ex.form.body_editor.value = '{"name": "typed", "price": 3}'
    assert "'name': 'typed'" in ex.code_area.value


def test_a_test_in_the_code_tab_stays_on_the_last_send_while_typing(ex: Explorer) -> None:
    ex.select("GET", "/text")
    ex.send()
    ex.code_kind.value = "test"
    shown = ex.code_area.value
    ex.headers_area.value = "X-Other: 1"
    assert ex.code_area.value == shown
    ex.headers = {}


def test_copy_as_mistakes(ex: Explorer) -> None:
    with pytest.raises(ExplorerError, match="copy_as takes one of curl, httpx, test"):
        ex.copy_as("wget")
    with pytest.raises(ExplorerError, match="Send a request first"):
        ex.copy_as("test")


def test_base_url_code_is_used_for_notebook_code() -> None:
    spec = RequestSpec("GET", "/x", params=[("a", "1"), ("a", "2")])
    code = to_httpx(spec, "http://h:1", "kernel_ext.base_url()")
    assert "import kernel_ext\n" in code and "kernel_ext.base_url() + '/x'" in code
    assert "params=[('a', '1'), ('a', '2')]" in code
    assert to_curl(spec, "http://h:1") == "curl 'http://h:1/x?a=1&a=2'"


def test_large_files_are_referenced_not_inlined() -> None:
    spec = RequestSpec("POST", "/up", files=[("f", ("big.bin", b"x" * 5000, "application/octet-stream"))])
    assert "open('big.bin', 'rb')" in to_httpx(spec, "http://h")
