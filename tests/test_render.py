"""kernel_ext._render: responses as widgets, HTML and text."""

from __future__ import annotations

import json

import httpx
import ipywidgets as widgets
import pytest

from kernel_ext import _render
from tests.support.explorer_app import PNG_1PX

REQUEST = httpx.Request("GET", "http://127.0.0.1:1/things")


def response(status: int = 200, **kwargs: object) -> httpx.Response:
    return httpx.Response(status, request=REQUEST, **kwargs)  # type: ignore[arg-type]


def test_json_renders_as_a_collapsible_tree_with_coloured_status() -> None:
    r = response(200, json={"name": "<b>x</b>", "tags": [1, 2], "nested": {"ok": True}})
    page = _render.response_html(r, 12.34)
    assert "200 OK" in page and "12.3 ms" in page
    assert _render.status_colour(200) in page
    assert "<details" in page and "&lt;b&gt;x&lt;/b&gt;" in page  # escaped, never live HTML
    assert "GET http://127.0.0.1:1/things" in page
    assert _render.body_kind(r) == "json"


def test_status_colours_differ_by_class() -> None:
    colours = {_render.status_colour(code) for code in (200, 302, 404, 500)}
    assert len(colours) == 4


def test_text_form_has_status_headers_and_pretty_json() -> None:
    r = response(201, json={"a": [1]}, headers={"x-id": "7"})
    text = _render.response_text(r, 5.0)
    first, *rest = text.splitlines()
    assert first.startswith("HTTP 201 Created · 5.0 ms")
    assert "x-id: 7" in rest
    assert json.dumps({"a": [1]}, indent=2) in text
    assert "x-id" not in _render.response_text(r, headers=False)


def test_422_details_are_readable() -> None:
    detail = [
        {"type": "missing", "loc": ["body", "price"], "msg": "Field required", "input": {"name": "x"}},
        {
            "type": "int_parsing",
            "loc": ["path", "item_id"],
            "msg": "Input should be a valid integer",
            "input": "abc",
        },
    ]
    r = response(422, json={"detail": detail})
    text = _render.response_text(r)
    assert "body → price: Field required" in text
    assert 'path → item_id: Input should be a valid integer (got "abc")' in text
    page = _render.response_html(r)
    assert "Validation failed" in page and "<code>body → price</code>" in page


def test_error_detail_string_is_shown_prominently() -> None:
    page = _render.response_html(response(404, json={"detail": "Item not found"}))
    assert "<b>Item not found</b>" in page


def test_html_body_is_sandboxed_in_an_iframe_with_its_source() -> None:
    r = response(200, html="<h1>Hi</h1><script>alert(1)</script>")
    page = _render.response_html(r)
    assert "<iframe sandbox" in page
    assert "<script>alert(1)" not in page  # only ever escaped
    assert _render.body_kind(r) == "html"


def test_plain_text_and_empty_bodies() -> None:
    assert "hello &lt;world&gt;" in _render.response_html(response(200, text="hello <world>"))
    assert "(empty body)" in _render.response_text(response(204))


def test_images_become_an_image_widget_and_inline_in_html() -> None:
    r = response(200, content=PNG_1PX, headers={"content-type": "image/png"})
    widget = _render.render_response(r, 1.0)
    assert isinstance(widget, widgets.VBox)
    image = widget.children[1]
    assert isinstance(image, widgets.Image) and bytes(image.value) == PNG_1PX
    assert "data:image/png;base64," in _render.response_html(r)
    assert "<70 B of image/png>" in _render.response_text(r)


def test_binary_body_is_summarised() -> None:
    r = response(200, content=b"\x00\x01\x02" * 10, headers={"content-type": "application/octet-stream"})
    assert _render.body_kind(r) == "binary"
    assert "30 B of application/octet-stream" in _render.response_text(r)


def test_json_null_and_invalid_json() -> None:
    assert (
        _render.body_kind(response(200, content=b"null", headers={"content-type": "application/json"}))
        == "json"
    )
    bad = response(200, content=b"{oops", headers={"content-type": "application/json"})
    assert _render.body_kind(bad) == "text"
    assert "{oops" in _render.response_text(bad)


def test_huge_bodies_are_truncated() -> None:
    r = response(200, text="x" * (_render.MAX_BODY_CHARS + 10))
    assert "… (10 more characters)" in _render.response_text(r)


def test_big_json_falls_back_to_preformatted_text() -> None:
    r = response(200, json=list(range(5000)))
    page = _render.response_html(r)
    assert "<details open" not in page and "<pre>[" in page and "4999" in page


def test_render_response_returns_a_widget_for_every_kind() -> None:
    for r in (response(200, json=[1]), response(200, text="t"), response(204), response(500, text="boom")):
        assert isinstance(_render.render_response(r, 3.0), widgets.Widget)


def test_error_widget_and_html() -> None:
    widget = _render.error_widget("Timed out after 1 s", "GET /slow")
    assert "Timed out after 1 s" in widget.value and "GET /slow" in widget.value


def test_stream_view_shows_chunks_as_they_arrive() -> None:
    head = httpx.Response(200, headers={"content-type": "text/plain"})  # no request: a raw transport reply
    view = _render.StreamView(head)
    assert "streaming…" in view.widget.value
    view.feed(b"one\n")
    assert "one" in view.widget.value
    view.feed("<two>")
    assert view.text == "one\n<two>" and "&lt;two&gt;" in view.widget.value


@pytest.mark.parametrize(("count", "text"), [(10, "10 B"), (2048, "2.0 KB"), (3 * 1024 * 1024, "3.0 MB")])
def test_sizes(count: int, text: str) -> None:
    assert _render.status_line(response(200, content=b"x" * count)).endswith(text)


def test_a_csv_body_is_shown_as_text() -> None:
    # (from 24_custom_responses)
    r = response(
        200, content=b'name,age,city\nAda,36,"Paris, France"\n', headers={"content-type": "text/csv"}
    )
    assert _render.response_text(r).endswith('name,age,city\nAda,36,"Paris, France"\n')
    assert "Paris, France" in _render.response_html(r)
