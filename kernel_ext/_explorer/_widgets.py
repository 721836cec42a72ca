"""Input widgets generated from an operation's parameters and request body."""

from __future__ import annotations

import datetime
import json
import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ._errors import ExplorerError
from ._schema import Operation, Param, enum_values, example_for, validate

_SECTIONS = (
    ("path", "Path"),
    ("query", "Query"),
    ("header", "Headers"),
    ("cookie", "Cookies"),
    ("form", "Form"),
)
_NAME_WIDTH = "150px"
_VALUE_WIDTH = "260px"
_RAW_KINDS = ("integer", "number", "boolean", "enum", "array")
_shared: dict[Any, widgets.Widget] = {}
OnChange = Callable[[], None]


def make(cls: type[widgets.Widget], layout: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """A widget whose (static) layout and style models are shared with its siblings.

    Each ipywidget otherwise opens two more comms for its own Layout and Style; sharing them
    cuts building a form by more than half, which the refresh budget needs.
    """
    kwargs["layout"] = _shared_model(widgets.Layout, tuple(sorted((layout or {}).items())))
    style_trait = cls.class_traits().get("style")
    if style_trait is not None and "style" not in kwargs:
        kwargs["style"] = _shared_model(style_trait.klass, ())
    return cls(**kwargs)


def _shared_model(cls: type[widgets.Widget], items: tuple[tuple[str, str], ...]) -> widgets.Widget:
    key = (cls, items)
    model = _shared.get(key)
    if model is None or getattr(model, "comm", None) is None:  # closed: make a new one
        model = _shared[key] = cls(**dict(items))
    return model


class ParamInput:
    """One row: [send?] name [typed widget | raw text] [raw] hint.

    `on_change()` is called after anything in the row changes (value, tick, raw mode).
    """

    def __init__(self, param: Param, on_change: OnChange | None = None) -> None:
        self.param = param
        self._on_change = on_change or _nothing
        self.enabled = make(
            widgets.Checkbox,
            {"width": "24px"},
            value=param.required,
            indent=False,
            tooltip="send this parameter",
        )
        self.typed = _typed_widget(param)
        self._raw_text: widgets.Text | None = None  # made when first needed
        self.raw_toggle = (
            make(
                widgets.ToggleButton,
                {"width": "48px"},
                description="raw",
                tooltip="type any text, e.g. to see the server's 422",
            )
            if self._raw_ok
            else None
        )
        self.hint = make(widgets.HTML, value=_hint_html(param, None))
        label = make(widgets.HTML, {"width": _NAME_WIDTH}, value=_label_html(param))
        extra = [self.raw_toggle] if self.raw_toggle is not None else []
        self.widget = make(widgets.HBox, children=[self.enabled, label, self.typed, *extra, self.hint])
        if self.raw_toggle is not None:
            self.raw_toggle.observe(self._on_raw_toggle, "value")
        self.typed.observe(self._on_edit, "value")
        self.enabled.observe(lambda _change: self._on_change(), "value")

    @property
    def raw_text(self) -> widgets.Text:
        if self._raw_text is None:
            self._raw_text = make(
                widgets.Text, {"width": _VALUE_WIDTH}, placeholder="any text, sent as typed"
            )
            self._raw_text.observe(self._on_edit, "value")
        return self._raw_text

    @property
    def _raw_ok(self) -> bool:
        return self.param.kind in _RAW_KINDS

    @property
    def raw(self) -> bool:
        return self.raw_toggle is not None and self.raw_toggle.value

    def _set_raw(self, raw: bool) -> None:
        if self.raw_toggle is not None:
            self.raw_toggle.value = raw

    def get(self) -> Any:
        """The value the user gave, or None when the parameter is not sent."""
        if not self.enabled.value:
            return None
        if self.raw:
            return self.raw_text.value
        return _typed_value(self.typed, self.param)

    def set(self, value: Any) -> None:
        if value is None:
            self.enabled.value = False
            return
        if self.param.is_file:
            self.typed.value = _upload_value(value, self.param.name)
        elif not _set_typed(self.typed, self.param, value):
            if not self._raw_ok:
                raise ExplorerError(f"{self.param.name!r} cannot take {value!r}")
            self.raw_text.value = _raw_string(value)
            self._set_raw(True)
        else:
            self._set_raw(False)
        self.enabled.value = True

    def request_values(self) -> list[str]:
        """The value(s) as the strings that go into the URL, a header or a form."""
        value = self.get()
        if value is None:
            return []
        if self.raw and self.param.kind == "array":
            return [part.strip() for part in str(value).split(",") if part.strip()]
        if isinstance(value, list | tuple):
            return [_to_text(item) for item in value]
        return [_to_text(value)]

    def files(self) -> list[tuple[str, bytes, str]]:
        if not self.enabled.value or not self.param.is_file:
            return []
        return [
            (f["name"], bytes(f["content"]), f.get("type") or "application/octet-stream")
            for f in self.typed.value
        ]

    def snapshot(self) -> tuple[bool, bool, Any, str]:
        raw_text = self._raw_text.value if self._raw_text is not None else ""
        return (self.enabled.value, self.raw, self.typed.value, raw_text)

    def restore(self, state: tuple[bool, bool, Any, str]) -> None:
        """Put back what was typed for a parameter whose schema changed (best effort)."""
        enabled, raw, typed, raw_text = state
        try:
            self.typed.value = typed
        except Exception:  # the type changed: keep the text, in raw mode when possible
            raw = self._raw_ok
            raw_text = raw_text or _raw_string(typed)
        if raw:
            self.raw_text.value = raw_text
        self._set_raw(raw and self._raw_ok)
        self.enabled.value = enabled

    def _on_raw_toggle(self, change: dict[str, Any]) -> None:
        if change["new"] and not self.raw_text.value:
            self.raw_text.value = _raw_string(_typed_value(self.typed, self.param))
        shown = self.raw_text if change["new"] else self.typed
        children = list(self.widget.children)
        children[2] = shown  # the value slot
        self.widget.children = children
        self._on_change()

    def _on_edit(self, change: dict[str, Any]) -> None:
        self.enabled.value = True
        warning = None if self.raw else validate(change["new"], self.param.schema)
        self.hint.value = _hint_html(self.param, warning)
        self._on_change()


class OperationForm:
    """All inputs for one operation: parameters, form fields, files and a body editor."""

    def __init__(
        self, op: Operation, previous: OperationForm | None = None, on_change: OnChange | None = None
    ) -> None:
        """Build the inputs; rows of `previous` whose parameter is unchanged are reused as-is.

        `on_change()` is called after any input or the body changes.
        """
        self.op = op
        self._on_change = on_change or _nothing
        self.fingerprint = op.fingerprint
        reusable = {item.param.signature: item for item in previous.inputs} if previous else {}
        old = {item.param.name: item for item in previous.inputs} if previous else {}
        self.inputs: list[ParamInput] = [
            reusable.get(param.signature) or self._new_input(param, old) for param in op.params
        ]
        self.body_editor: widgets.Textarea | None = None
        self._default_body = ""
        if op.body is not None and not op.body.is_form:
            self._default_body = _body_text(op.body.example) if op.body.is_json else ""
            self.body_editor = self._body_editor(previous)
        if previous is not None:  # one message instead of a new container
            self.widget: widgets.VBox = previous.widget
            self.widget.children = self._sections()
        else:
            self.widget = make(widgets.VBox, children=self._sections())

    def _new_input(self, param: Param, old: dict[str, ParamInput]) -> ParamInput:
        item = ParamInput(param, self._on_change)
        if param.name in old:
            item.restore(old[param.name].snapshot())
        return item

    def _body_editor(self, previous: OperationForm | None) -> widgets.Textarea:
        editor = previous.body_editor if previous is not None else None
        if editor is None:
            return self._observed(
                make(
                    widgets.Textarea,
                    {"width": "100%", "height": "160px"},
                    value=self._default_body,
                    placeholder=f"request body ({self.media_type})",
                )
            )
        assert previous is not None  # its editor already reports changes
        if editor.value == previous._default_body:  # untouched: follow the new model
            editor.value = self._default_body
        return editor

    @property
    def media_type(self) -> str | None:
        return self.op.body.media_type if self.op.body else None

    def find(self, name: str) -> ParamInput:
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
        targets = [(self.find(name), value) for name, value in values.items()]
        for item, value in targets:
            item.set(value)

    def values(self) -> dict[str, Any]:
        return {item.param.name: item.get() for item in self.inputs}

    @property
    def body_text(self) -> str:
        return self.body_editor.value if self.body_editor is not None else ""

    def get_body(self) -> Any:
        if self.op.body is not None and self.op.body.is_form:
            return {name: value for name, value in self.values().items() if value is not None}
        text = self.body_text
        try:
            return json.loads(text) if text.strip() else None
        except ValueError:
            return text

    def set_body(self, value: Any) -> None:
        if self.op.body is not None and self.op.body.is_form and isinstance(value, dict):
            self.set(**value)
            return
        if self.body_editor is None:
            self._add_body_editor()
        assert self.body_editor is not None
        if value is None:
            self.body_editor.value = ""
        elif isinstance(value, bytes):
            self.body_editor.value = value.decode("utf-8", "replace")
        elif isinstance(value, str):
            self.body_editor.value = value
        else:
            self.body_editor.value = _body_text(value)

    def _add_body_editor(self) -> None:
        # A body for an operation that declares none: allowed, to probe the server.
        self.body_editor = self._observed(make(widgets.Textarea, {"width": "100%", "height": "120px"}))
        self.widget.children = self._sections()

    def _observed(self, editor: widgets.Textarea) -> widgets.Textarea:
        editor.observe(lambda _change: self._on_change(), "value")
        return editor

    def _sections(self) -> list[widgets.Widget]:
        children: list[widgets.Widget] = []
        for location, title in _SECTIONS:
            rows = [item.widget for item in self.inputs if item.param.location == location]
            if rows:
                children.append(_heading(f"<b>{title}</b>"))
                children.extend(rows)
        if self.body_editor is not None:
            media = self.media_type or "raw"
            children.append(_heading(f"<b>Body</b> <code>{media}</code>"))
            children.append(self.body_editor)
        if not children:
            children.append(_heading("<i>No parameters.</i>"))
        return children


def _nothing() -> None:
    pass


def _heading(text: str) -> widgets.HTML:
    # Static text, so one widget per distinct heading serves every form.
    key = (widgets.HTML, text)
    heading = _shared.get(key)
    if heading is None or getattr(heading, "comm", None) is None:
        heading = _shared[key] = make(widgets.HTML, value=text)
    return heading


def _typed_widget(param: Param) -> widgets.Widget:
    kind, schema = param.kind, param.schema
    initial = example_for(schema)
    width = {"width": _VALUE_WIDTH}
    if kind == "integer":
        return make(widgets.IntText, width, value=_int_or(initial, 0))
    if kind == "number":
        return make(widgets.FloatText, width, value=_float_or(initial, 0.0))
    if kind == "boolean":
        return make(widgets.Dropdown, width, options=[("true", True), ("false", False)], value=bool(initial))
    if kind == "enum":
        values = enum_values(schema)
        options = [(str(v), v) for v in values]
        return make(widgets.Dropdown, width, options=options, value=initial if initial in values else None)
    if kind == "file":
        return make(widgets.FileUpload, multiple=False, description="file")
    if kind == "array":
        return _list_widget(param, width)
    if param.name.lower() in ("password", "secret") or schema.get("format") == "password":
        return make(widgets.Password, width)
    value = "" if initial == "string" else initial  # Swagger's placeholder is no real value
    return make(widgets.Text, width, value=_text_or(value), placeholder=param.hint())


def _list_widget(param: Param, width: dict[str, str]) -> widgets.Widget:
    items = param.schema.get("items") or {}
    item_kind = param.item_kind
    if item_kind == "file":
        return make(widgets.FileUpload, multiple=True, description="files")
    if item_kind == "integer":
        return make(widgets.IntsInput, width, value=[])
    if item_kind == "number":
        return make(widgets.FloatsInput, width, value=[])
    allowed = [str(v) for v in enum_values(items)] if item_kind == "enum" else []
    return make(widgets.TagsInput, width, value=[], allowed_tags=allowed, allow_duplicates=True)


def _typed_value(widget: widgets.Widget, param: Param) -> Any:
    if isinstance(widget, widgets.FileUpload):
        return [f["name"] for f in widget.value]
    value = widget.value
    return list(value) if isinstance(value, tuple | list) else value


def _set_typed(widget: widgets.Widget, param: Param, value: Any) -> bool:
    """Put a value into the typed widget; False when it does not fit (use raw mode)."""
    kind = param.kind
    if kind == "integer" and not (isinstance(value, int) and not isinstance(value, bool)):
        return False
    if kind == "number" and not (isinstance(value, int | float) and not isinstance(value, bool)):
        return False
    if kind == "boolean" and not isinstance(value, bool):
        return False
    if kind == "enum" and value not in enum_values(param.schema):
        return False
    if kind == "array":
        return _set_list(widget, param, value)
    if kind in ("string", "object") and not isinstance(value, str):
        value = value if isinstance(value, str) else json.dumps(value)
    widget.value = value
    return True


def _set_list(widget: widgets.Widget, param: Param, value: Any) -> bool:
    values = list(value) if isinstance(value, list | tuple) else [value]
    try:
        if param.item_kind == "enum" or isinstance(widget, widgets.TagsInput):
            values = [str(v) for v in values]
        widget.value = values
    except Exception:  # e.g. "x" into a list of ints: raw mode
        return False
    return True


def _upload_value(value: Any, name: str) -> tuple[dict[str, Any], ...]:
    """Files for a FileUpload: (filename, bytes[, type]), bytes, a Path, or a list of those."""
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


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _raw_string(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(_to_text(v) for v in value)
    return _to_text(value)


def _body_text(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-")


def _int_or(value: Any, fallback: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else fallback


def _float_or(value: Any, fallback: float) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else fallback


def _text_or(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _label_html(param: Param) -> str:
    star = "<span style='color:#c62828'>*</span>" if param.required else ""
    title = param.description or param.hint()
    return f"<code title='{_attr(title)}'>{param.name}</code>{star}"


def _hint_html(param: Param, warning: str | None) -> str:
    text = f"<span style='color:#777;font-size:11px'>{_attr(param.hint())}</span>"
    if warning:
        text += f" <span style='color:#ef6c00;font-size:11px'>⚠ {_attr(warning)}</span>"
    return text


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("'", "&#39;")
