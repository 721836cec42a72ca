""" "Copy as": curl, httpx, and a test cell that asserts on an observed response."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import httpx

from ._request import RequestSpec

KINDS = ("curl", "httpx", "test")
_INLINE_FILE_BYTES = 2048
_ASSERT_BODY_CHARS = 4000


def to_curl(spec: RequestSpec, base_url: str) -> str:
    url = str(httpx.URL(spec.url(base_url), params=spec.params or None))
    parts = ["curl"]
    if spec.method != "GET" or spec.data or spec.files or _has_body(spec):
        parts += ["-X", spec.method]
    parts.append(shlex.quote(url))
    for name, value in spec.headers.items():
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    if spec.basic_auth is not None:
        parts += ["-u", shlex.quote(":".join(spec.basic_auth))]
    if spec.cookies:
        parts += ["-b", shlex.quote("; ".join(f"{k}={v}" for k, v in spec.cookies.items()))]
    parts += _curl_body(spec)
    return " \\\n  ".join(_pair_flags(parts))


def _pair_flags(parts: list[str]) -> list[str]:
    # Keep each flag on the same line as its value.
    lines: list[str] = []
    index = 0
    while index < len(parts):
        if parts[index].startswith("-") and index + 1 < len(parts):
            lines.append(f"{parts[index]} {parts[index + 1]}")
            index += 2
        else:
            lines.append(parts[index])
            index += 1
    head = " ".join(lines[:2]) if lines[1:] else lines[0]
    return [head, *lines[2:]]


def _curl_body(spec: RequestSpec) -> list[str]:
    if spec.files:
        parts = []
        for name, values in (spec.data or {}).items():
            for value in _as_list(values):
                parts += ["-F", shlex.quote(f"{name}={value}")]
        for name, (filename, _content, content_type) in spec.files:
            parts += ["-F", shlex.quote(f"{name}=@{filename};type={content_type}")]
        return parts
    if spec.data:
        return [
            part
            for name, values in spec.data.items()
            for value in _as_list(values)
            for part in ("--data-urlencode", shlex.quote(f"{name}={value}"))
        ]
    if spec.has_json:
        return [
            "-H",
            shlex.quote("Content-Type: application/json"),
            "--data-raw",
            shlex.quote(json.dumps(spec.json, ensure_ascii=False)),
        ]
    if spec.content is not None:
        text = spec.content.decode("utf-8", "replace") if isinstance(spec.content, bytes) else spec.content
        return ["--data-raw", shlex.quote(text)]
    return []


def to_httpx(spec: RequestSpec, base_url: str, base_url_code: str | None = None) -> str:
    imports = "import httpx\n" + (_import_for(base_url_code) if base_url_code else "")
    call = _httpx_call(spec, base_url, base_url_code, indent="")
    return f"{imports}\nresponse = {call}\nprint(response.status_code, response.text)\n"


def to_test(
    spec: RequestSpec,
    response: httpx.Response,
    base_url: str,
    base_url_code: str | None = None,
    *,
    whole_body: bool = True,
) -> str:
    """A cell that defines a pytest-style test reproducing the request, then runs it.

    With `whole_body=False` (the explorer stopped reading an endless or huge body) the test
    streams the response and asserts on its status and headers only.
    """
    name = _test_name(spec)
    call = _httpx_call(spec, base_url, base_url_code, indent="    ")
    if whole_body:
        lines = [f"    response = {call}", f"    assert response.status_code == {response.status_code}"]
        lines += [f"    {line}" for line in _body_asserts(response)]
    else:
        stream = call.replace("httpx.request(", "httpx.stream(", 1)
        lines = [
            "    # The explorer read only part of this body, so the test does not read it at all.",
            f"    with {stream} as response:",
            f"        assert response.status_code == {response.status_code}",
            *[f"        {line}" for line in _content_type_assert(response)],
        ]
    imports = "import httpx\n" + (_import_for(base_url_code) if base_url_code else "")
    body = "\n".join(lines)
    return f"{imports}\n\ndef {name}():\n{body}\n\n\n{name}()\n"


def _import_for(base_url_code: str) -> str:
    module = base_url_code.split(".", 1)[0].split("(", 1)[0]
    return f"import {module}\n" if module.isidentifier() else ""


def _test_name(spec: RequestSpec) -> str:
    words = re.sub(r"[^0-9a-zA-Z]+", "_", spec.path).strip("_") or "root"
    return f"test_{spec.method.lower()}_{words}".lower()


def _httpx_call(spec: RequestSpec, base_url: str, base_url_code: str | None, indent: str) -> str:
    url = f"{base_url_code} + {spec.path!r}" if base_url_code else repr(spec.url(base_url))
    inner = indent + "    "
    args = [repr(spec.method), url]
    if spec.params:
        args.append(f"params={_params_literal(spec.params)}")
    if spec.headers:
        args.append(f"headers={_literal(spec.headers, inner)}")
    if spec.cookies:
        args.append(f"cookies={_literal(spec.cookies, inner)}")
    if spec.basic_auth is not None:
        args.append(f"auth={tuple(spec.basic_auth)!r}")
    args += _httpx_body_args(spec, inner)
    joined = ",\n".join(inner + arg for arg in args)
    return f"httpx.request(\n{joined},\n{indent})"


def _httpx_body_args(spec: RequestSpec, indent: str) -> list[str]:
    args = []
    if spec.data:
        args.append(f"data={_literal(spec.data, indent)}")
    if spec.files:
        files = ", ".join(f"({name!r}, {_file_literal(file)})" for name, file in spec.files)
        args.append(f"files=[{files}]")
    if spec.has_json:
        args.append(f"json={_literal(spec.json, indent)}")
    elif spec.content is not None:
        args.append(f"content={spec.content!r}")
    return args


def _file_literal(file: tuple[str, bytes, str]) -> str:
    filename, content, content_type = file
    if len(content) <= _INLINE_FILE_BYTES:
        return repr((filename, content, content_type))
    return f"({filename!r}, open({filename!r}, 'rb'), {content_type!r})"


def _params_literal(params: list[tuple[str, str]]) -> str:
    names = [name for name, _ in params]
    if len(set(names)) == len(names):
        return repr(dict(params))
    return repr(params)


def _literal(value: Any, indent: str, width: int = 88) -> str:
    """A Python literal laid out like black would: one item per line when it is too long."""
    flat = repr(value)
    if len(flat) + len(indent) <= width or not isinstance(value, dict | list | tuple) or not value:
        return flat
    inner = indent + "    "
    if isinstance(value, dict):
        items = [f"{inner}{key!r}: {_literal(item, inner, width)}," for key, item in value.items()]
        return "{\n" + "\n".join(items) + f"\n{indent}}}"
    left, right = ("[", "]") if isinstance(value, list) else ("(", ")")
    items = [f"{inner}{_literal(item, inner, width)}," for item in value]
    return left + "\n" + "\n".join(items) + f"\n{indent}{right}"


def _content_type_assert(response: httpx.Response) -> list[str]:
    content_type = response.headers.get("content-type")
    return [f"assert response.headers['content-type'] == {content_type!r}"] if content_type else []


def _body_asserts(response: httpx.Response) -> list[str]:
    media = response.headers.get("content-type", "").split(";")[0]
    asserts = _content_type_assert(response) if media else []
    if not response.content:
        return [*asserts, "assert response.content == b''"]
    try:
        data = response.json()
    except ValueError:
        data = _NOT_JSON
    if data is not _NOT_JSON:
        if len(repr(data)) <= _ASSERT_BODY_CHARS:
            return [*asserts, "assert response.json() == " + _literal(data, "    ")]
        return [*asserts, *_shape_asserts(data)]
    if media.startswith("text/") and len(response.text) <= _ASSERT_BODY_CHARS:
        return [*asserts, f"assert response.text == {response.text!r}"]
    return [*asserts, f"assert len(response.content) == {len(response.content)}"]


_NOT_JSON = object()


def _shape_asserts(data: Any) -> list[str]:
    if isinstance(data, list):
        return [f"assert len(response.json()) == {len(data)}"]
    if isinstance(data, dict):
        return [f"assert set(response.json()) == {set(data)!r}"]
    return []


def _has_body(spec: RequestSpec) -> bool:
    return spec.has_json or spec.content is not None


def _as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]
