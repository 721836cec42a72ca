"""Render an httpx.Response for a notebook: a widget, an HTML block, or plain text.

Shared by the request explorer and the `%%http` cell magic:

- `render_response(response, elapsed_ms)` → an ipywidgets widget;
- `response_html(response, elapsed_ms)` → an HTML string (images inlined);
- `response_text(response, elapsed_ms)` → plain text;
- `error_widget(message)` / `error_html(message)` for requests that got no response;
- `StreamView` to show a body while it arrives.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from typing import Any

import httpx
import ipywidgets as widgets

from ._http._read import size_text

MAX_BODY_CHARS = 100_000
_MAX_TREE_NODES = 3_000
_OPEN_DEPTH = 2
_COLLAPSE_ITEMS = 25
_RASTER = {"png", "jpeg", "jpg", "gif", "webp", "bmp"}
_NOT_JSON = object()
_STATUS_COLOURS = {1: "#546e7a", 2: "#2e7d32", 3: "#1565c0", 4: "#ef6c00", 5: "#c62828"}
_VALUE_COLOURS = {str: "#a31515", bool: "#0000ff", int: "#098658", float: "#098658"}
_STYLE = (
    "<style>.kx-resp{font-family:var(--jp-code-font-family,monospace);font-size:12px;"
    "line-height:1.45}"
    ".kx-resp details{margin-left:1.2em}.kx-resp summary{cursor:pointer}"
    ".kx-resp table{border-collapse:collapse}.kx-resp td,.kx-resp th{padding:1px 8px;"
    "text-align:left;vertical-align:top;border-bottom:1px solid #ddd}"
    ".kx-resp pre{margin:2px 0;white-space:pre-wrap;word-break:break-all}</style>"
)


def status_colour(status_code: int) -> str:
    return _STATUS_COLOURS.get(status_code // 100, "#546e7a")


def render_response(response: httpx.Response, elapsed_ms: float | None = None) -> widgets.Widget:
    """A widget showing status, elapsed time, headers and the body rendered by its type."""
    kind = body_kind(response)
    if kind == "image" and _image_format(response) in _RASTER:
        head = widgets.HTML(_wrap(_head_html(response, elapsed_ms)))
        image = widgets.Image(value=response.content, format=_image_format(response))
        return widgets.VBox([head, image])
    return widgets.HTML(response_html(response, elapsed_ms))


def response_html(response: httpx.Response, elapsed_ms: float | None = None) -> str:
    return _wrap(_head_html(response, elapsed_ms) + _body_html(response))


def response_text(response: httpx.Response, elapsed_ms: float | None = None, *, headers: bool = True) -> str:
    lines = [status_line(response, elapsed_ms)]
    if headers:
        lines.extend(f"{name}: {value}" for name, value in response.headers.items())
    lines.append("")
    lines.append(body_text(response))
    return "\n".join(lines).rstrip() + "\n"


def status_line(response: httpx.Response, elapsed_ms: float | None = None) -> str:
    parts = [f"HTTP {response.status_code} {response.reason_phrase}".rstrip()]
    if elapsed_ms is not None:
        parts.append(f"{elapsed_ms:.1f} ms")
    parts.append(size_text(len(response.content)))
    return " · ".join(parts)


def error_html(message: str, detail: str = "") -> str:
    extra = f"<pre>{html.escape(detail)}</pre>" if detail else ""
    return _wrap(f"<div style='color:#c62828'><b>✗ {html.escape(message)}</b></div>{extra}")


def error_widget(message: str, detail: str = "") -> widgets.Widget:
    return widgets.HTML(error_html(message, detail))


def body_kind(response: httpx.Response) -> str:
    """json | html | image | text | binary | empty"""
    if not response.content:
        return "empty"
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return "text" if _json_value(response) is _NOT_JSON else "json"
    if media.startswith("image/"):
        return "image"
    if media in ("text/html", "application/xhtml+xml"):
        return "html"
    if media.startswith("text/") or media in ("application/xml", "application/javascript"):
        return "text"
    return "text" if _looks_textual(response.content) else "binary"


def body_text(response: httpx.Response) -> str:
    kind = body_kind(response)
    if kind == "empty":
        return "(empty body)"
    if kind == "json":
        data = _json_value(response)
        text = json.dumps(data, indent=2, ensure_ascii=False)
        problems = validation_problems(data) if response.status_code == 422 else []
        if problems:
            text = "Validation errors:\n" + "\n".join(f"  {p}" for p in problems) + "\n\n" + text
        return _truncate(text)
    if kind in ("image", "binary"):
        media = response.headers.get("content-type", "application/octet-stream")
        return f"<{size_text(len(response.content))} of {media}>"
    return _truncate(response.text)


def validation_problems(data: Any) -> list[str]:
    """FastAPI's 422 `detail` list as lines like `body → price: Input should be a number (got 'x')`."""
    if not isinstance(data, dict) or not isinstance(data.get("detail"), list):
        return []
    lines = []
    for error in data["detail"]:
        if not isinstance(error, dict):
            continue
        where = " → ".join(str(part) for part in error.get("loc") or ())
        line = f"{where}: {error.get('msg', '')}"
        if "input" in error and error["input"] is not None:
            line += f" (got {json.dumps(error['input'], ensure_ascii=False)[:80]})"
        lines.append(line)
    return lines


class StreamView:
    """A body shown while it arrives; `feed` is safe to call from any thread."""

    def __init__(self, response: httpx.Response, note: str = "") -> None:
        self._head = _head_html(response, None, streaming=True)
        if note:
            self._head += f"<div style='color:#666'>{html.escape(note)}</div>"
        self._text = ""
        self.widget = widgets.HTML(self._render())

    def feed(self, chunk: bytes | str) -> None:
        text = chunk.decode("utf-8", "replace") if isinstance(chunk, bytes) else chunk
        self._text = (self._text + text)[-MAX_BODY_CHARS:]
        self.widget.value = self._render()

    @property
    def text(self) -> str:
        return self._text

    def _render(self) -> str:
        return _wrap(self._head + f"<pre>{html.escape(self._text)}</pre>")


def _wrap(inner: str) -> str:
    return f"{_STYLE}<div class='kx-resp'>{inner}</div>"


def _head_html(response: httpx.Response, elapsed_ms: float | None, streaming: bool = False) -> str:
    colour = status_colour(response.status_code)
    badge = (
        f"<span style='background:{colour};color:white;padding:1px 8px;border-radius:3px;"
        f"font-weight:bold'>{response.status_code} {html.escape(response.reason_phrase)}</span>"
    )
    facts = []
    if elapsed_ms is not None:
        facts.append(f"{elapsed_ms:.1f} ms")
    facts.append("streaming…" if streaming else size_text(len(response.content)))
    target = ""
    if _has_request(response):
        request = response.request
        target = f" <span style='color:#666'>{request.method} {html.escape(str(request.url))}</span>"
    head = f"<div>{badge} <span>{' · '.join(facts)}</span>{target}</div>"
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
        for name, value in response.headers.items()
    )
    count = len(response.headers)
    return head + f"<details><summary>Headers ({count})</summary><table>{rows}</table></details>"


def _has_request(response: httpx.Response) -> bool:
    try:
        response.request  # noqa: B018 - raises when the response was built by hand
    except RuntimeError:
        return False
    return True


def _body_html(response: httpx.Response) -> str:
    kind = body_kind(response)
    if kind == "empty":
        return "<div style='color:#666'>(empty body)</div>"
    if kind == "json":
        return _json_body_html(response)
    if kind == "image":
        media = response.headers.get("content-type", "image/png").split(";")[0]
        data = base64.b64encode(response.content).decode()
        return f"<img src='data:{media};base64,{data}' style='max-width:100%'/>"
    if kind == "html":
        source = _truncate(response.text)
        frame = (
            f'<iframe sandbox srcdoc="{html.escape(source, quote=True)}" '
            "style='width:100%;height:320px;border:1px solid #ddd;background:white'></iframe>"
        )
        return frame + f"<details><summary>HTML source</summary><pre>{html.escape(source)}</pre></details>"
    return f"<pre>{html.escape(body_text(response))}</pre>"


def _json_body_html(response: httpx.Response) -> str:
    data = _json_value(response)
    out = ""
    problems = validation_problems(data) if response.status_code == 422 else []
    if problems:
        out += _problems_table(data["detail"])
    elif response.status_code >= 400 and isinstance(data, dict) and "detail" in data:
        out += f"<div><b>{html.escape(str(data['detail']))}</b></div>"
    if _count_nodes(data, _MAX_TREE_NODES) >= _MAX_TREE_NODES:
        return out + f"<pre>{html.escape(_truncate(json.dumps(data, indent=2)))}</pre>"
    tree = json_tree_html(data)
    if problems:
        return out + f"<details><summary>Raw JSON</summary>{tree}</details>"
    return out + tree


def _problems_table(errors: list[Any]) -> str:
    rows = ""
    for error in errors:
        if not isinstance(error, dict):
            continue
        where = " → ".join(str(part) for part in error.get("loc") or ())
        got = json.dumps(error["input"], ensure_ascii=False)[:80] if "input" in error else ""
        rows += (
            f"<tr><td><code>{html.escape(where)}</code></td><td>{html.escape(str(error.get('msg')))}"
            f"</td><td><code>{html.escape(got)}</code></td>"
            f"<td style='color:#666'>{html.escape(str(error.get('type', '')))}</td></tr>"
        )
    return (
        "<div style='color:#ef6c00'><b>Validation failed</b></div><table>"
        f"<tr><th>where</th><th>problem</th><th>got</th><th>type</th></tr>{rows}</table>"
    )


def json_tree_html(data: Any, depth: int = 0) -> str:
    """Collapsible `<details>` tree of a JSON value (pure HTML: no front-end code needed)."""
    if isinstance(data, dict):
        items = [(json.dumps(key), value) for key, value in data.items()]
        return _container_html(items, "{", "}", depth)
    if isinstance(data, list):
        return _container_html([(None, value) for value in data], "[", "]", depth)
    return _scalar_html(data)


def _container_html(items: Sequence[tuple[str | None, Any]], left: str, right: str, depth: int) -> str:
    if not items:
        return f"<span>{left}{right}</span>"
    is_open = depth < _OPEN_DEPTH and len(items) <= _COLLAPSE_ITEMS
    rows = []
    for key, value in items:
        label = f"<span style='color:#0451a5'>{html.escape(key)}</span>: " if key else ""
        rows.append(f"<div>{label}{json_tree_html(value, depth + 1)}</div>")
    noun = "keys" if left == "{" else "items"
    summary = f"{left} <span style='color:#999'>{len(items)} {noun}</span>"
    body = "".join(rows)
    return f"<details{' open' if is_open else ''}><summary>{summary}</summary>{body}</details>{right}"


def _scalar_html(value: Any) -> str:
    colour = _VALUE_COLOURS.get(type(value), "#795e26")
    return f"<span style='color:{colour}'>{html.escape(json.dumps(value, ensure_ascii=False))}</span>"


def _count_nodes(data: Any, limit: int) -> int:
    count, stack = 0, [data]
    while stack and count < limit:
        node = stack.pop()
        count += 1
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return count


def _json_value(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return _NOT_JSON


def _image_format(response: httpx.Response) -> str:
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return media.removeprefix("image/").split("+")[0]


def _looks_textual(content: bytes) -> bool:
    sample = content[:1024]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(sample) - 4  # a character cut by the sample's end
    return True


def _truncate(text: str) -> str:
    if len(text) <= MAX_BODY_CHARS:
        return text
    return text[:MAX_BODY_CHARS] + f"\n… ({len(text) - MAX_BODY_CHARS} more characters)"
