"""kernel_ext._explorer.Explorer against a real uvicorn: select, fill in, send, inspect."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import ipywidgets as widgets
import pytest
from fastapi import FastAPI

from kernel_ext._explorer import Explorer, ExplorerError
from tests.support.explorer_app import PNG_1PX, demo_app
from tests.support.servers import serve


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FastAPI, str]]:
    app = demo_app()
    with serve(app) as url:
        yield app, url


def test_path_query_header_and_cookie_parameters_are_sent(ex: Explorer) -> None:
    ex.select("GET", "/items/{item_id}")
    ex.set(item_id=5, q="x", flag=True, ids=[1, 2], color="blue", x_trace="t-1", session="s-1")
    r = ex.send()
    assert r is not None and r.status_code == 200
    assert r.json() == {
        "item_id": 5,
        "q": "x",
        "limit": 10,
        "color": "blue",
        "flag": True,
        "ids": [1, 2],
        "x_trace": "t-1",
        "session": "s-1",
    }
    assert ex.output_text.startswith("HTTP 200 OK · ")
    assert ex.response is r


def test_optional_parameters_are_only_sent_when_ticked(ex: Explorer) -> None:
    form = ex.select("GET", "/items/{item_id}")
    ex.set(item_id=1, q="x")
    ex.set(q=None)
    assert not form.find("q").enabled.value
    assert ex.send().json()["q"] is None
    form.find("limit").typed.value = 7  # typing into an optional parameter ticks it
    assert form.find("limit").enabled.value
    assert ex.send().json()["limit"] == 7


def test_invalid_input_can_be_sent_to_see_the_422(ex: Explorer) -> None:
    ex.select("GET", "/items/{item_id}")
    ex.set(item_id="abc", limit=500)
    assert ex.form.find("item_id").raw  # switched to raw text: an IntText cannot hold "abc"
    assert "must be ≤ 100" in ex.form.find("limit").hint.value
    r = ex.send()
    assert r.status_code == 422
    assert "path → item_id: Input should be a valid integer" in ex.output_text
    assert "query → limit: Input should be less than or equal to 100" in ex.output_text
    ex.set(item_id=3, limit=5)
    assert not ex.form.find("item_id").raw
    assert ex.send().status_code == 200


def test_json_body_is_prefilled_edited_and_sent(ex: Explorer) -> None:
    ex.select("POST", "/items")
    assert ex.body == {"name": "string", "price": 1.0, "tags": [{"label": "string", "weight": 1}]}
    ex.body = {"name": "pen", "price": 2.5, "tags": [{"label": "office"}]}
    r = ex.send()
    assert r.status_code == 201
    assert r.json() == {"name": "pen", "price": 2.5, "tags": [{"label": "office", "weight": 1}]}


def test_broken_json_is_sent_as_typed(ex: Explorer) -> None:
    ex.select("POST", "/items")
    ex.body = '{"name": "pen", '
    assert ex.body == '{"name": "pen", '
    r = ex.send()
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "json_invalid"


def test_form_fields(ex: Explorer) -> None:
    ex.select("POST", "/login")
    ex.set(username="bob", password="hunter2")
    assert ex.body == {"username": "bob", "password": "hunter2"}
    assert ex.send().json() == {"username": "bob", "password_length": "7"}
    ex.body = {"username": "amy"}
    assert ex.send().json()["username"] == "amy"


def test_single_and_multiple_file_uploads(ex: Explorer, tmp_path: Any) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("from disk")
    form = ex.select("POST", "/upload")
    assert isinstance(form.find("file").typed, widgets.FileUpload)
    assert form.find("extra").typed.multiple
    ex.set(file=path, extra=[("a.bin", b"\x00\x01"), ("b.txt", b"bee", "text/plain")], note="hi")
    assert ex.send().json() == {"file": "notes.txt", "size": 9, "note": "hi", "extra": ["a.bin", "b.txt"]}
    with pytest.raises(ExplorerError, match="no such file"):
        ex.set(file=tmp_path / "missing.txt")


def test_responses_render_by_type(ex: Explorer) -> None:
    ex.select("GET", "/page")
    ex.send()
    assert "<iframe sandbox" in ex.output.children[0].value
    ex.select("GET", "/text")
    ex.send()
    assert ex.output_text.rstrip().endswith("plain text")
    ex.select("GET", "/image")
    ex.send()
    assert bytes(ex.output.children[0].children[1].value) == PNG_1PX


def test_a_streaming_body_is_shown_while_it_arrives(ex: Explorer) -> None:
    seen: list[str] = []

    def watch(change: dict[str, Any]) -> None:
        for child in change["new"]:
            if isinstance(child, widgets.HTML) and "streaming…" in child.value:
                child.observe(lambda c: seen.append(c["new"]), "value")

    ex.output.observe(watch, "children")
    ex.select("GET", "/stream")
    ex.set(n=3, delay=0.2)
    r = ex.send()
    assert r.text == "chunk 0\nchunk 1\nchunk 2\n"
    partial = [page for page in seen if "chunk 0" in page and "chunk 2" not in page]
    assert partial, "the first chunk was never shown before the last one arrived"
    assert "chunk 2" in ex.output_text  # and the final render replaces the live view


def test_server_errors_are_shown_not_raised(ex: Explorer) -> None:
    ex.select("GET", "/boom")
    r = ex.send()
    assert r.status_code == 500
    assert ex.output_text.startswith("HTTP 500 Internal Server Error")
    ex.select("GET", "/items/{item_id}")
    assert ex.send().status_code == 200  # the connection dropped after the 500 is not reused


def test_timeouts_are_shown_not_raised(ex: Explorer) -> None:
    ex.select("GET", "/slow")
    ex.set(seconds=2.0)
    ex.timeout = 0.3
    assert ex.send() is None
    assert ex.output_text == f"Error: Timed out after 0.3 s: GET {ex.base_url}/slow?seconds=2.0"
    assert ex.history[-1].error.startswith("Timed out")


def test_connection_errors_are_shown_not_raised(server: tuple[FastAPI, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    app, _ = server
    ex = Explorer(lambda: app, f"http://127.0.0.1:{port}")
    ex.select("GET", "/text")
    assert ex.send() is None
    assert ex.output_text.startswith(f"Error: Could not connect to http://127.0.0.1:{port}")
    ex.send_button.click()  # the widget path shows the same, and does not raise
    assert "Could not connect" in ex.output_text


def test_send_button_click_sends_the_form(ex: Explorer) -> None:
    ex.select("GET", "/items/{item_id}")
    ex.form.find("item_id").typed.value = 42
    ex.send_button.click()
    assert ex.response is not None and ex.response.json()["item_id"] == 42
    assert "HTTP 200 OK" in ex.output_text


def test_picker_lists_operations_grouped_by_tag_and_selects(ex: Explorer) -> None:
    labels = [label for label, _ in ex.picker.options]
    tags = [label.split(" · ")[0] for label in labels]
    assert tags == sorted(tags)
    ex.picker.value = ("POST", "/login")
    assert ex.operation.key == ("POST", "/login")
    assert ex.form.find("username").param.location == "form"
    ex.filter.value = "upload"
    assert [key for _, key in ex.picker.options] == [("POST", "/upload")]
    ex.filter.value = ""


def test_headers_editor_adds_headers_to_every_request(ex: Explorer) -> None:
    ex.headers["X-Trace"] = "from-headers"
    assert ex.headers_area.value == "X-Trace: from-headers"
    ex.select("GET", "/items/{item_id}")
    assert ex.send().json()["x_trace"] == "from-headers"
    ex.headers = {}
    assert dict(ex.headers) == {}


def test_user_mistakes_raise_a_clear_explorer_error(ex: Explorer) -> None:
    with pytest.raises(ExplorerError, match=r"No operation GET /nope"):
        ex.select("GET", "/nope")
    with pytest.raises(ExplorerError, match=r"Did you mean: POST /items"):
        ex.select("GET", "/items")
    ex.select("GET", "/items/{item_id}")
    with pytest.raises(ExplorerError, match=r"has no parameter 'nope' \(parameters: item_id, q"):
        ex.set(nope=1)
    error = ExplorerError("x")
    assert error._render_traceback_() == ["ExplorerError: x"]


def test_reset_goes_back_to_the_generated_example(ex: Explorer) -> None:
    ex.select("POST", "/items")
    ex.body = {"name": "changed"}
    ex.reset_button.click()
    assert ex.body["name"] == "string"


def test_no_app_yet_is_explained_not_raised() -> None:
    ex = Explorer(lambda: None, "http://127.0.0.1:9")
    assert ex.operations == []
    assert "No FastAPI app is being served yet" in ex.op_info.value
    with pytest.raises(ExplorerError, match="No operation is selected"):
        ex.send()


def test_a_broken_app_is_explained_not_raised() -> None:
    def broken() -> Any:
        raise RuntimeError("models are half-defined")

    ex = Explorer(broken, "http://127.0.0.1:9")
    assert ex.output_text == "Error: Could not read the app's routes: RuntimeError: models are half-defined"


def test_repr_and_display() -> None:
    app = demo_app()
    ex = Explorer(lambda: app, "http://127.0.0.1:9")
    assert repr(ex).startswith(f"<Explorer {len(ex.operations)} operations, ")
    assert "application/vnd.jupyter.widget-view+json" in ex._repr_mimebundle_()


def test_a_stopped_server_is_shown_not_raised(server: tuple[FastAPI, str]) -> None:
    app, _ = server

    def base_url() -> str:
        raise RuntimeError("The kernel_ext server is not running; %api start starts it.")

    ex = Explorer(lambda: app, base_url)
    ex.select("GET", "/text")
    assert ex.send() is None
    assert ex.output_text == "Error: The kernel_ext server is not running; %api start starts it."


def test_picker_labels_sort_by_tag_then_path_with_websockets_under_their_own_tag(ex: Explorer) -> None:
    # (from 01_explorer)
    labels = [label for label, _ in ex.picker.options]
    assert labels[0] == "auth · GET    /basic  — Basic Me"
    assert "websocket · WS     /ws/{room}  — Chat" in labels
