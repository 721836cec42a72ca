"""The explorer's panels: Auth and History tabs (linked to the model's `Credentials` and
`History`), the WebSocket area and the output area."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

import httpx
import ipywidgets as widgets

from .. import _render
from .._changes._responsediff import ResponseDiff
from ._auth import MODES, Credentials
from ._history import Entry, History
from ._websocket import WebSocketSession
from ._widgets import make

_BOX = {"width": "260px"}
_WS_LOG_LINES = 200


class AuthPanel:
    """The credentials' widgets; each is linked to its trait of `credentials`."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self.mode = _linked(credentials, "mode", widgets.Dropdown, options=MODES, description="Auth")
        self.username = _linked(credentials, "username", widgets.Text, _BOX, description="username")
        self.password = _linked(credentials, "password", widgets.Password, _BOX, description="password")
        self.token = _linked(credentials, "token", widgets.Text, {"width": "520px"}, description="token")
        self.key_value = _linked(credentials, "key_value", widgets.Text, _BOX, description="key")
        self.key_name = _linked(credentials, "key_name", widgets.Text, _BOX, description="name")
        self.key_location = _linked(
            credentials,
            "key_location",
            widgets.Dropdown,
            _BOX,
            options=("header", "query", "cookie"),
            description="in",
        )
        # The password flow's own fields are not credentials: fetch_token() takes them.
        self.oauth_username = make(widgets.Text, _BOX, description="username")
        self.oauth_password = make(widgets.Password, _BOX, description="password")
        self.oauth_scope = make(widgets.Text, _BOX, description="scope")
        self.fetch_button = make(widgets.Button, description="Fetch token", icon="key")
        self.oauth_info = make(widgets.HTML)
        self.schemes_info = make(widgets.HTML)
        self._oauth_box = make(
            widgets.VBox,
            children=[
                self.oauth_info,
                make(widgets.HBox, children=[self.oauth_username, self.oauth_password]),
                make(widgets.HBox, children=[self.oauth_scope, self.fetch_button]),
            ],
        )
        self._oauth_area = make(widgets.VBox)  # holds _oauth_box when the app has a tokenUrl
        self._fields = make(widgets.VBox)
        self._rows: dict[str, list[widgets.Widget]] = {
            "none": [],
            "basic": [make(widgets.HBox, children=[self.username, self.password])],
            "bearer": [self.token],
            "api key": [make(widgets.HBox, children=[self.key_name, self.key_location]), self.key_value],
        }
        self.widget = make(
            widgets.VBox, children=[self.schemes_info, self.mode, self._fields, self._oauth_area]
        )
        credentials.observe(lambda _change: self._show_fields(), "mode")
        self._show_fields()
        self.show_schemes()

    @property
    def token_url(self) -> str:
        return self.credentials.token_url

    def show_schemes(self) -> None:
        """Say which schemes the app declares; offer the token fetcher when it has a tokenUrl."""
        schemes = self.credentials.schemes
        names = ", ".join(f"{s.name} ({s.kind})" for s in schemes) or "none declared"
        self.schemes_info.value = f"<span style='color:#666'>App security schemes: {names}</span>"
        token_url = self.token_url
        self._oauth_area.children = [self._oauth_box] if token_url else []
        self.oauth_info.value = f"<b>OAuth2 password flow</b>: fetch a token from <code>{token_url}</code>"

    def _show_fields(self) -> None:
        self._fields.children = self._rows[self.credentials.mode]


class HistoryPanel:
    """The history as a list, newest first, with Resend and Clear; reads like the `History`."""

    def __init__(self, history: History) -> None:
        self.model = history
        self.select = make(widgets.Select, {"width": "100%"}, options=[], rows=8)
        self.resend_button = make(widgets.Button, description="Resend", icon="repeat")
        self.clear_button = make(widgets.Button, description="Clear")
        self.clear_button.on_click(lambda _button: self.clear())
        buttons = make(widgets.HBox, children=[self.resend_button, self.clear_button])
        self.widget = make(widgets.VBox, children=[self.select, buttons])
        history.listeners.append(self._redraw)

    @property
    def entries(self) -> list[Entry]:
        return self.model.entries

    @property
    def selected_index(self) -> int | None:
        return self.select.value

    def clear(self) -> None:
        self.model.clear()

    def previous(self, index: int) -> int | None:
        return self.model.previous(index)

    def _redraw(self) -> None:
        options = [(e.label(i), i) for i, e in enumerate(self.entries)]
        self.select.options = list(reversed(options))
        self.select.value = len(self.entries) - 1 if self.entries else None

    def __len__(self) -> int:
        return len(self.model)

    def __getitem__(self, index: int) -> Entry:
        return self.model[index]


def _linked(
    owner: Credentials,
    name: str,
    cls: type[widgets.Widget],
    layout: dict[str, str] | None = None,
    **kwargs: object,
) -> widgets.Widget:
    """A widget made with the trait's value and kept equal to it both ways."""
    widget = make(cls, layout, value=getattr(owner, name), **kwargs)
    widgets.link((owner, name), (widget, "value"))
    return widget


class WebSocketPanel:
    """A message box with Send and Close, and the log of what went each way (newest last)."""

    def __init__(self, ws: WebSocketSession) -> None:
        self.ws = ws
        self.message = make(widgets.Textarea, {"width": "100%"}, placeholder="text, or JSON")
        self.send_button = make(widgets.Button, description="Send message", disabled=True)
        self.close_button = make(widgets.Button, description="Close", disabled=True)
        self.log = make(widgets.HTML)
        buttons = make(widgets.HBox, children=[self.send_button, self.close_button])
        self.widget = make(widgets.VBox, children=[self.message, buttons, self.log])

    def message_data(self) -> Any:
        """What the message box holds: JSON when it parses as an object or array, else text."""
        text = self.message.value
        try:
            return json.loads(text) if text.strip()[:1] in ("{", "[") else text
        except ValueError:
            return text

    def show_connected(self) -> None:
        connected = self.ws.connected
        self.send_button.disabled = not connected
        self.close_button.disabled = not connected

    def show_log(self) -> None:
        # May run on the receiving thread: only assign widget state (thread-safe enough).
        colours = {"→": "#1565c0", "←": "#2e7d32", "✗": "#c62828"}
        rows = "".join(
            f"<div style='color:{colours.get(d, '#666')}'>{d} {html.escape(t)}</div>"
            for d, t in self.ws.log[-_WS_LOG_LINES:]
        )
        style = "font-family:var(--jp-code-font-family,monospace);font-size:12px;line-height:1.45"
        self.log.value = f"<div style='{style}'>{rows}</div>"


class OutputArea:
    """What the last action produced (a response, an error, notes); `text` is its plain-text form."""

    def __init__(self) -> None:
        self.widget = make(widgets.VBox, {"border": "1px solid #ddd", "padding": "4px"})
        self.text = ""

    def show(self, widget: widgets.Widget, text: str) -> None:
        self.widget.children = [widget]
        self.text = text

    def response(self, response: httpx.Response, elapsed_ms: float) -> None:
        self.show(_render.render_response(response, elapsed_ms), _render.response_text(response, elapsed_ms))

    def error(self, message: str, detail: str = "") -> None:
        self.show(_render.error_widget(message, detail), f"Error: {message}")

    def stream(self, response: httpx.Response, note: str) -> Callable[[bytes], None]:
        """Show a body while it arrives; returns what to call with each chunk."""
        view = _render.StreamView(response, note)
        self.show(view.widget, f"HTTP {response.status_code} (streaming…)")
        return view.feed

    def note(self, message: str) -> None:
        """A line above what is shown."""
        note = make(widgets.HTML, value=f"<div style='color:#ef6c00'>{html.escape(message)}</div>")
        self.widget.children = [note, *self.widget.children]
        self.text = f"{message}\n{self.text}"

    def diff(self, diff: ResponseDiff) -> None:
        """What changed in the response, below it."""
        self.widget.children = [*self.widget.children, make(widgets.HTML, value=diff._repr_html_())]
        self.text = f"{self.text}\n{diff!r}"
