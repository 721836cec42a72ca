"""The Request tab: a row of widgets per `Input`, and the form of an operation, linked to the model.

As in ipywidgets' `interaction.py`, small `widget_from_*` builders pick a widget for a parameter
and the form is the container of the rows. Every widget is linked to its trait of the `Input`
or `Form` (`ipywidgets.link`), so typing in the browser and `ex.set()` in a cell meet in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ._inputs import RAW_KINDS, Form, Input, Snapshot, is_secret
from ._schema import Operation, Param, enum_values

_SECTIONS = (
    ("path", "Path"),
    ("query", "Query"),
    ("header", "Headers"),
    ("cookie", "Cookies"),
    ("form", "Form"),
)
_NAME_WIDTH = "150px"
_VALUE_WIDTH = "260px"
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
    """One row: [send?] name [typed widget | raw text] [raw] hint, showing one `Input`.

    `on_change()` is called after anything in the row changes (value, tick, raw mode).
    """

    def __init__(self, shown: Input | Param, on_change: OnChange | None = None) -> None:
        self.input = shown if isinstance(shown, Input) else Input(shown)
        self.param = param = self.input.param
        changed = on_change or _nothing
        self.enabled = _linked(
            self.input,
            "enabled",
            widgets.Checkbox,
            {"width": "24px"},
            indent=False,
            tooltip="send this parameter",
        )
        self.typed = widget_from_param(param, self.input.value)
        widgets.link((self.input, "value"), (self.typed, "value"))
        self._raw_text: widgets.Text | None = None  # made when first needed
        self.raw_toggle = None
        if param.kind in RAW_KINDS:
            self.raw_toggle = _linked(
                self.input,
                "raw",
                widgets.ToggleButton,
                {"width": "48px"},
                description="raw",
                tooltip="type any text, e.g. to see the server's 422",
            )
        self.hint = make(widgets.HTML, value=_hint_html(param, self.input.warning))
        label = make(widgets.HTML, {"width": _NAME_WIDTH}, value=_label_html(param))
        extra = [self.raw_toggle] if self.raw_toggle is not None else []
        slot = self.raw_text if self.input.raw else self.typed
        self.widget = make(widgets.HBox, children=[self.enabled, label, slot, *extra, self.hint])
        self.input.observe(self._show_raw, "raw")
        self.input.observe(self._show_warning, "warning")
        self.input.observe(lambda _change: changed(), names=["value", "enabled", "raw", "raw_text"])

    @property
    def raw_text(self) -> widgets.Text:
        if self._raw_text is None:
            self._raw_text = _linked(
                self.input,
                "raw_text",
                widgets.Text,
                {"width": _VALUE_WIDTH},
                placeholder="any text, sent as typed",
            )
        return self._raw_text

    @property
    def raw(self) -> bool:
        return self.input.raw

    def get(self) -> Any:
        return self.input.get()

    def set(self, value: Any) -> None:
        self.input.set(value)

    def request_values(self) -> list[str]:
        return self.input.request_values()

    def files(self) -> list[tuple[str, bytes, str]]:
        return self.input.files()

    def snapshot(self) -> Snapshot:
        return self.input.snapshot()

    def restore(self, state: Snapshot) -> None:
        self.input.restore(state)

    def _show_raw(self, change: dict[str, Any]) -> None:
        children = list(self.widget.children)
        children[2] = self.raw_text if change["new"] else self.typed  # the value slot
        self.widget.children = children

    def _show_warning(self, change: dict[str, Any]) -> None:
        self.hint.value = _hint_html(self.param, change["new"])


class OperationForm:
    """The rows of one `Form`, under headings per location, and its body editor."""

    def __init__(
        self, form: Form | Operation, previous: OperationForm | None = None, on_change: OnChange | None = None
    ) -> None:
        """Rows of `previous` that show an `Input` of `form` are reused as they are, and so are
        its container and body editor (one message instead of new widgets).

        `on_change()` is called after any input or the body changes.
        """
        self.model = form if isinstance(form, Form) else Form(form)
        self._on_change = on_change or _nothing
        rows = {id(row.input): row for row in previous.inputs} if previous else {}
        self.inputs: list[ParamInput] = [
            rows.get(id(item)) or ParamInput(item, self._on_change) for item in self.model.inputs
        ]
        self.body_editor: widgets.Textarea | None = previous.body_editor if previous else None
        self._body_link: widgets.link | None = None
        if previous is not None and previous._body_link is not None:
            previous._body_link.unlink()  # the editor now shows this form's body
        self.widget: widgets.VBox = previous.widget if previous is not None else make(widgets.VBox)
        self.model.observe(self._body_changed, "body_text")
        self.model.observe(lambda _change: self._show_body(), "has_body")
        self._show_body()

    @property
    def op(self) -> Operation:
        return self.model.op

    @property
    def fingerprint(self) -> str:
        return self.model.fingerprint

    @property
    def media_type(self) -> str | None:
        return self.model.media_type

    @property
    def body_text(self) -> str:
        return self.model.body_text

    def find(self, name: str) -> ParamInput:
        wanted = self.model.find(name)
        return next(row for row in self.inputs if row.input is wanted)

    def set(self, **values: Any) -> None:
        self.model.set(**values)

    def values(self) -> dict[str, Any]:
        return self.model.values()

    def get_body(self) -> Any:
        return self.model.get_body()

    def set_body(self, value: Any) -> None:
        self.model.set_body(value)

    def _body_changed(self, _change: dict[str, Any]) -> None:
        self._on_change()

    def _show_body(self) -> None:
        if not self.model.has_body:
            self.body_editor = None
        elif self.body_editor is None or self._body_link is None:
            if self.body_editor is None:
                declared = self.model.op.body is not None and not self.model.op.body.is_form
                self.body_editor = make(
                    widgets.Textarea,
                    {"width": "100%", "height": "160px" if declared else "120px"},
                    placeholder=f"request body ({self.media_type})" if declared else "",
                )
            self._body_link = widgets.link((self.model, "body_text"), (self.body_editor, "value"))
        self.widget.children = self._sections()

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


def widget_from_param(param: Param, value: Any) -> widgets.Widget:
    """The typed input for a parameter, showing `value`."""
    kind, width = param.kind, {"width": _VALUE_WIDTH}
    if kind == "integer":
        return make(widgets.IntText, width, value=value)
    if kind == "number":
        return make(widgets.FloatText, width, value=value)
    if kind == "boolean":
        return make(widgets.Dropdown, width, options=[("true", True), ("false", False)], value=value)
    if kind == "enum":
        options = [(str(v), v) for v in enum_values(param.schema)]
        return make(widgets.Dropdown, width, options=options, value=value)
    if kind == "file":
        return make(widgets.FileUpload, multiple=False, description="file")
    if kind == "array":
        return widget_from_list(param, value, width)
    if is_secret(param):
        return make(widgets.Password, width, value=value)
    return make(widgets.Text, width, value=value, placeholder=param.hint())


def widget_from_list(param: Param, value: list[Any], width: dict[str, str]) -> widgets.Widget:
    """A list input by item type: files, ints, floats, or tags (from the enum when there is one)."""
    item_kind = param.item_kind
    if item_kind == "file":
        return make(widgets.FileUpload, multiple=True, description="files")
    if item_kind == "integer":
        return make(widgets.IntsInput, width, value=value)
    if item_kind == "number":
        return make(widgets.FloatsInput, width, value=value)
    items = param.schema.get("items") or {}
    allowed = [str(v) for v in enum_values(items)] if item_kind == "enum" else []
    return make(widgets.TagsInput, width, value=value, allowed_tags=allowed, allow_duplicates=True)


def _linked(
    owner: Any, name: str, cls: type[widgets.Widget], layout: dict[str, str] | None = None, **kwargs: Any
) -> Any:
    """A widget made with the trait's value and kept equal to it both ways."""
    widget = make(cls, layout, value=getattr(owner, name), **kwargs)
    widgets.link((owner, name), (widget, "value"))
    return widget


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
