"""What is typed into an operation's inputs, without widgets: one `Input` per parameter, a `Form`.

These are traitlets objects (IPython's own), so the view links each widget to a trait with
`ipywidgets.link` and tests drive them with no widget at all. A value has the shape its input
widget holds: an int for an integer, a list for an array, upload dicts for files.
"""

from __future__ import annotations

import datetime
import json
import mimetypes
from pathlib import Path
from typing import Any

from traitlets import Any as AnyTrait
from traitlets import Bool, HasTraits, Unicode

from ._errors import ExplorerError
from ._request import FileTuple
from ._schema import Operation, Param, enum_values, example_for, validate

RAW_KINDS = ("integer", "number", "boolean", "enum", "array")
Snapshot = tuple[bool, bool, Any, str]


class Input(HasTraits):
    """One parameter or form field: its value, whether it is sent, and raw text mode.

    Raw mode sends any text as typed (to see the server's 422); editing a value ticks it.
    """

    enabled = Bool()
    value = AnyTrait()
    raw = Bool()
    raw_text = Unicode()
    warning = Unicode(None, allow_none=True)  # a client-side check that failed (sent anyway)

    def __init__(self, param: Param) -> None:
        super().__init__(enabled=param.required, value=initial_value(param))
        self.param = param
        self.observe(self._edited, names=["value", "raw_text"])
        self.observe(self._raw_toggled, names="raw")

    @property
    def raw_ok(self) -> bool:
        return self.param.kind in RAW_KINDS

    def get(self) -> Any:
        """The value the user gave, or None when the parameter is not sent."""
        if not self.enabled:
            return None
        if self.raw:
            return self.raw_text
        return self.typed_value()

    def typed_value(self) -> Any:
        if self.param.is_file:
            return [f["name"] for f in self.value]
        return list(self.value) if isinstance(self.value, tuple | list) else self.value

    def set(self, value: Any) -> None:
        """Fill in a value; None unticks. One the typed input cannot hold goes in as raw text."""
        if value is None:
            self.enabled = False
            return
        if self.param.is_file:
            self.value = upload_value(value, self.param.name)
        else:
            typed = coerce(self.param, value)
            if typed is _NO_FIT:
                if not self.raw_ok:
                    raise ExplorerError(f"{self.param.name!r} cannot take {value!r}")
                self.raw_text = raw_string(value)
                self.raw = True
            else:
                self.value = typed
                self.raw = False
        self.enabled = True

    def request_values(self) -> list[str]:
        """The value(s) as the strings that go into the URL, a header or a form."""
        value = self.get()
        if value is None:
            return []
        if self.raw and self.param.kind == "array":
            return [part.strip() for part in str(value).split(",") if part.strip()]
        if isinstance(value, list | tuple):
            return [to_text(item) for item in value]
        return [to_text(value)]

    def files(self) -> list[FileTuple]:
        if not self.enabled or not self.param.is_file:
            return []
        return [
            (f["name"], bytes(f["content"]), f.get("type") or "application/octet-stream") for f in self.value
        ]

    def snapshot(self) -> Snapshot:
        return (self.enabled, self.raw, self.value, self.raw_text)

    def restore(self, state: Snapshot) -> None:
        """Put back what was typed for a parameter whose schema changed (best effort)."""
        enabled, raw, typed, raw_text = state
        fitted = _restorable(self.param, typed)
        if fitted is _NO_FIT:  # the type changed: keep the text, in raw mode when possible
            raw = self.raw_ok
            raw_text = raw_text or raw_string(typed)
        else:
            self.value = fitted
        if raw:
            self.raw_text = raw_text
        self.raw = raw and self.raw_ok
        self.enabled = enabled

    def _edited(self, change: dict[str, Any]) -> None:
        self.enabled = True
        self._check()

    def _raw_toggled(self, change: dict[str, Any]) -> None:
        if change["new"] and not self.raw_text:
            self.raw_text = raw_string(self.typed_value())
        self._check()

    def _check(self) -> None:
        self.warning = None if self.raw else validate(self.value, self.param.schema)


class Form(HasTraits):
    """All inputs of one operation, and its body text when it takes a body that is not a form."""

    body_text = Unicode()
    has_body = Bool()  # a body editor is shown (also for a body the operation does not declare)

    def __init__(self, op: Operation, previous: Form | None = None) -> None:
        """Inputs of `previous` whose parameter is unchanged are reused as they are; others of
        the same name get what was typed; an untouched body follows the new example."""
        super().__init__()
        self.op = op
        self.fingerprint = op.fingerprint
        reusable = {item.param.signature: item for item in previous.inputs} if previous else {}
        old = {item.param.name: item for item in previous.inputs} if previous else {}
        self.inputs: list[Input] = [
            reusable.get(param.signature) or _new_input(param, old) for param in op.params
        ]
        self.default_body = ""
        if op.body is not None and not op.body.is_form:
            self.default_body = body_text(op.body.example) if op.body.is_json else ""
            touched = (
                previous is not None and previous.has_body and previous.body_text != previous.default_body
            )
            self.body_text = previous.body_text if previous is not None and touched else self.default_body
            self.has_body = True

    @property
    def media_type(self) -> str | None:
        return self.op.body.media_type if self.op.body else None

    def find(self, name: str) -> Input:
        """The input called `name`; a header also answers to its Python spelling (x_trace)."""
        wanted = _normalise(name)
        for item in self.inputs:
            if item.param.name == name:
                return item
        for item in self.inputs:
            if _normalise(item.param.name) == wanted:
                return item
        known = ", ".join(item.param.name for item in self.inputs) or "none"
        raise ExplorerError(
            f"{self.op.method} {self.op.path} has no parameter {name!r} (parameters: {known})"
        )

    def set(self, **values: Any) -> None:
        targets = [(self.find(name), value) for name, value in values.items()]  # all names first
        for item, value in targets:
            item.set(value)

    def values(self) -> dict[str, Any]:
        return {item.param.name: item.get() for item in self.inputs}

    def get_body(self) -> Any:
        if self.op.body is not None and self.op.body.is_form:
            return {name: value for name, value in self.values().items() if value is not None}
        try:
            return json.loads(self.body_text) if self.body_text.strip() else None
        except ValueError:
            return self.body_text

    def set_body(self, value: Any) -> None:
        if self.op.body is not None and self.op.body.is_form and isinstance(value, dict):
            self.set(**value)
            return
        if value is None:
            text = ""
        elif isinstance(value, bytes):
            text = value.decode("utf-8", "replace")
        else:
            text = value if isinstance(value, str) else body_text(value)
        self.body_text = text
        self.has_body = True  # a body for an operation that declares none: allowed, to probe the server


def _new_input(param: Param, old: dict[str, Input]) -> Input:
    item = Input(param)
    if param.name in old:
        item.restore(old[param.name].snapshot())
    return item


def is_secret(param: Param) -> bool:
    return param.name.lower() in ("password", "secret") or param.schema.get("format") == "password"


def initial_value(param: Param) -> Any:
    """What the typed input shows first: the schema's example, default or a blank."""
    kind, initial = param.kind, example_for(param.schema)
    if kind == "integer":
        return initial if isinstance(initial, int) and not isinstance(initial, bool) else 0
    if kind == "number":
        return float(initial) if isinstance(initial, int | float) and not isinstance(initial, bool) else 0.0
    if kind == "boolean":
        return bool(initial)
    if kind == "enum":
        return initial if initial in enum_values(param.schema) else None
    if kind == "file":
        return ()
    if kind == "array":
        return () if param.item_kind == "file" else []
    if is_secret(param):
        return ""
    if initial is None or initial == "string":  # Swagger's placeholder is no real value
        return ""
    return initial if isinstance(initial, str) else json.dumps(initial)


_NO_FIT = object()


def coerce(param: Param, value: Any) -> Any:
    """`value` as the typed input holds it, or _NO_FIT (then it goes in as raw text)."""
    kind = param.kind
    if kind == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) else _NO_FIT
    if kind == "number":
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else _NO_FIT
    if kind == "boolean":
        return value if isinstance(value, bool) else _NO_FIT
    if kind == "enum":
        return value if value in enum_values(param.schema) else _NO_FIT
    if kind == "array":
        return _coerce_list(param, value)
    return value if isinstance(value, str) else json.dumps(value)


def _restorable(param: Param, value: Any) -> Any:
    # What another version of the parameter held: kept where the new input holds it as it is.
    if param.is_file:
        return value if isinstance(value, tuple) else _NO_FIT
    if param.kind == "enum" and value is None:  # nothing chosen yet
        return None
    if param.kind not in RAW_KINDS:
        return value if isinstance(value, str) else _NO_FIT
    return coerce(param, value)


def _coerce_list(param: Param, value: Any) -> Any:
    # As the list inputs take them: ints and floats are cast, tags are non-blank strings.
    values = list(value) if isinstance(value, list | tuple) else [value]
    item_kind = param.item_kind
    try:
        if item_kind == "integer":
            return [int(v) for v in values]
        if item_kind == "number":
            return [float(v) for v in values]
    except (TypeError, ValueError):
        return _NO_FIT
    tags = [str(v) for v in values]
    allowed = [str(v) for v in enum_values(param.schema.get("items") or {})] if item_kind == "enum" else []
    if "" in tags or (allowed and any(tag not in allowed for tag in tags)):
        return _NO_FIT
    return tags


def upload_value(value: Any, name: str) -> tuple[dict[str, Any], ...]:
    """Files as an upload holds them, from (filename, bytes[, type]), bytes, a path, or a list."""
    items = value if isinstance(value, list) else [value]
    return tuple(_upload_entry(item, name) for item in items)


def _upload_entry(item: Any, name: str) -> dict[str, Any]:
    if isinstance(item, str | Path):
        path = Path(item)
        if not path.is_file():
            raise ExplorerError(f"{name}: no such file {str(path)!r}")
        item = (path.name, path.read_bytes())
    if isinstance(item, bytes | bytearray):
        item = (f"{name}.bin", bytes(item))
    if not (isinstance(item, tuple) and len(item) in (2, 3)):
        raise ExplorerError(f"{name}: give a file as (filename, bytes[, content type]), bytes or a path")
    filename, content = item[0], item[1]
    if isinstance(content, str):
        content = content.encode()
    guessed = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    content_type = item[2] if len(item) == 3 else guessed
    return {
        "name": filename,
        "type": content_type,
        "size": len(content),
        "content": memoryview(bytes(content)),
        "last_modified": datetime.datetime.now(datetime.UTC),
    }


def to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def raw_string(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(to_text(v) for v in value)
    return to_text(value)


def body_text(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-")
