"""The explorer's widgets: `Explorer` shows an `ExplorerModel` and turns clicks into its methods.

Every widget action is also a method (as `Button.click()` is), so a cell or a test does what a
click does: `select`, `set`, `body`, `headers`, `auth_*`, `fetch_token`, `send`, `resend`,
`copy_as`, `ws_connect`, `ws_send`, `ws_close`. What a method returns comes from the model;
the view only shows it. `ex.widget` is the container (`Explorer` is not a widget itself: its
`send()` and `close()` would shadow the ipywidgets methods of those names).
"""

from __future__ import annotations

import html
import traceback
from collections.abc import Callable
from typing import Any

import httpx
import ipywidgets as widgets

from .._changes._responsediff import ResponseDiff
from .._http._read import size_text
from . import _codegen
from ._errors import ExplorerError
from ._inputs import Form
from ._model import AppSource, BaseUrl, ExplorerModel, HeaderEditor
from ._panels import AuthPanel, HistoryPanel, OutputArea, WebSocketPanel
from ._request import Outcome, RequestSpec
from ._schema import Operation
from ._websocket import WebSocketSession
from ._widgets import OperationForm, make


class Explorer:
    """Postman-style probing of a FastAPI app served over HTTP (see `ExplorerModel` for the
    arguments). `ex.model` is the state without widgets."""

    def __init__(
        self,
        app_source: AppSource,
        base_url: BaseUrl,
        *,
        base_url_code: str | None = None,
        timeout: float = 10.0,
        stream_timeout: float | None = None,
        notice: Callable[[], str] | None = None,
        app_name: str | Callable[[], str] = "app",
        cell_count: Callable[[], int | None] | None = None,
    ) -> None:
        self.model = ExplorerModel(
            app_source,
            base_url,
            base_url_code=base_url_code,
            timeout=timeout,
            stream_timeout=stream_timeout,
            notice=notice,
            app_name=app_name,
            cell_count=cell_count,
            on_ws_log=lambda _entry: self.ws_panel.show_log(),
        )
        self._views: dict[tuple[str, str], OperationForm] = {}  # a form's widgets, by operation
        self._shown: tuple[str, str] | None = None  # the operation whose form is shown
        self._option_labels: list[tuple[str, tuple[str, str]]] = []
        self._listener: Callable[[], None] | None = None
        self._closed = False
        self.auth = AuthPanel(self.model.credentials)
        self.history = HistoryPanel(self.model.history)
        self.ws_panel = WebSocketPanel(self.model.ws)
        self._out = OutputArea()
        self._build_widgets()
        self.refresh()

    # --- reading the model ----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.model.base_url

    @property
    def base_url_code(self) -> str | None:
        return self.model.base_url_code

    @property
    def app_name(self) -> str:
        return self.model.app_name

    @property
    def operations(self) -> list[Operation]:
        return self.model.operations

    @property
    def operation(self) -> Operation | None:
        return self.model.operation

    @property
    def form(self) -> OperationForm:
        return self._view_of(self.model.form)

    @property
    def values(self) -> dict[str, Any]:
        return self.model.form.values()

    @property
    def body(self) -> Any:
        """The request body: parsed JSON, raw text when it is not valid JSON, or form values."""
        return self.model.form.get_body()

    @body.setter
    def body(self, value: Any) -> None:
        self.model.form.set_body(value)

    @property
    def headers(self) -> HeaderEditor:
        """Extra headers sent with every request (a live, editable mapping)."""
        return self.model.headers

    @headers.setter
    def headers(self, value: dict[str, str]) -> None:
        self.model.headers.replace(value)

    @property
    def timeout(self) -> float:
        return self.model.sender.timeout

    @timeout.setter
    def timeout(self, seconds: float) -> None:
        self.model.sender.timeout = seconds

    @property
    def stream_timeout(self) -> float | None:
        """The longest a response body is read for (None: `timeout`); what arrived is shown."""
        return self.model.sender.stream_timeout

    @stream_timeout.setter
    def stream_timeout(self, seconds: float | None) -> None:
        self.model.sender.stream_timeout = seconds

    @property
    def max_body_bytes(self) -> int:
        """A larger response body is cut at this size; what arrived is shown."""
        return self.model.sender.max_body_bytes

    @max_body_bytes.setter
    def max_body_bytes(self, size: int) -> None:
        self.model.sender.max_body_bytes = size

    @property
    def response(self) -> httpx.Response | None:
        return self.model.response

    @property
    def output_text(self) -> str:
        """Plain-text form of what the output area shows now."""
        return self._out.text

    @property
    def ws(self) -> WebSocketSession:
        return self.model.ws

    @property
    def ws_messages(self) -> list[Any]:
        return list(self.model.ws.messages)

    def diff(self, i: int | None = None, j: int | None = None) -> ResponseDiff:
        """`ex.diff()`: the newest response against the previous one to the same request;
        `ex.diff(i, j)`: history entries i and j (negative indices count from the newest)."""
        return self.model.diff(i, j)

    # --- actions ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the app's routes; keeps what was typed for operations that still exist."""
        try:
            self._refresh()
        except Exception as error:  # a broken model or route must not break the explorer
            self._show_error(f"Could not read the app's routes: {type(error).__name__}: {error}")

    def select(self, method: str, path: str) -> OperationForm:
        """Pick the operation `method path` (method "WS" for a WebSocket route)."""
        self.model.select(method, path)
        self._show_selected()
        return self.form

    def set(self, **values: Any) -> Explorer:
        """Fill parameters or form fields by name; None unticks (does not send) one."""
        self.model.form.set(**values)
        return self

    def reset(self) -> None:
        """The selected operation's inputs go back to the generated example (the Reset button)."""
        key = self.model.selected
        self.model.reset()
        if key is not None:
            self._views.pop(key, None)  # new widgets, not the old rows
        self._show_selected()

    def auth_basic(self, username: str, password: str) -> None:
        self.model.credentials.set_basic(username, password)

    def auth_bearer(self, token: str) -> None:
        self.model.credentials.set_bearer(token)

    def auth_api_key(self, value: str, name: str | None = None, location: str | None = None) -> None:
        self.model.credentials.set_api_key(value, name, location)

    def auth_none(self) -> None:
        self.model.credentials.clear()

    def fetch_token(
        self, username: str, password: str, scope: str = "", token_url: str | None = None
    ) -> str | None:
        """OAuth2 password flow: get a token from the app's tokenUrl and use it as Bearer."""
        outcome = self._run(self.model.token_request(username, password, scope, token_url))
        token = self.model.use_token(outcome)
        if token is None and outcome.response is not None:
            url = token_url or self.model.credentials.token_url
            self._out.note(f"No access_token in the {outcome.response.status_code} reply from {url}")
        return token

    def request_spec(self) -> RequestSpec:
        """What `send()` would send now, from the form, the extra headers and the auth."""
        return self.model.request_spec()

    def send(self) -> httpx.Response | None:
        """Send the current request; returns the response (None when there was none)."""
        if self.operation is not None and self.operation.is_websocket:
            raise ExplorerError("This is a WebSocket route: use ws_connect() and ws_send()")
        try:
            spec = self.model.request_spec()
        except ExplorerError:
            raise
        except Exception as error:
            self._show_error(f"Could not build the request: {error}")
            return None
        return self._run(spec).response

    def resend(self, index: int = -1) -> httpx.Response | None:
        """Send history entry `index` again (negative counts from the newest)."""
        outcome = self.model.resend(index, on_stream=self._on_stream)
        self._show_outcome(outcome)
        return outcome.response

    def copy_as(self, kind: str = "curl", entry: int | None = None) -> str:
        """Code reproducing a request: "curl", "httpx", or "test" (asserts on the observed reply).

        curl/httpx describe the current form unless `entry` names a history entry; "test"
        uses the newest history entry (or `entry`), since it asserts on a real response.
        """
        code = self.model.code(kind, entry)
        self.code_kind.value = kind
        self.code_area.value = code
        return code

    def ws_connect(self) -> bool:
        """Open the selected WebSocket route with the form's path/query values, headers and auth."""
        try:
            error = self.model.ws_connect()
        except RuntimeError as stopped:  # the server is stopped: base_url has nowhere to point
            self._out.error(self.model.ws.fail(str(stopped)))
            return False
        self.ws_panel.show_connected()
        return error is None

    def ws_send(self, data: Any) -> bool:
        """Send text as-is, bytes as binary, anything else as JSON."""
        ok = self.model.ws.send(data) is None
        self.ws_panel.show_connected()
        return ok

    def ws_receive(self, timeout: float = 5.0) -> Any:
        """The next received message not yet taken (None after `timeout` seconds)."""
        return self.model.ws.receive(timeout)

    def ws_close(self) -> None:
        self.model.ws.close()
        self.ws_panel.show_connected()

    # --- lifecycle ----------------------------------------------------------------------------

    def attach(self, session: Any) -> None:
        """Refresh whenever the session reports a route change."""
        self._listener = self.refresh
        session.add_listener(self._listener)
        self._session = session

    def close(self) -> None:
        """Stop listening for route changes, close the WebSocket and the HTTP client."""
        if self._listener is not None:
            self._session.remove_listener(self._listener)
            self._listener = None
        self.model.close()
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        selected = " ".join(self.model.selected) if self.model.selected else "nothing"
        return f"<Explorer {len(self.model.operations)} operations, {selected} selected>"

    # --- widgets ------------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.filter = make(widgets.Text, {"width": "160px"}, placeholder="filter routes")
        self.picker = make(widgets.Dropdown, {"width": "520px"}, options=[])
        self.refresh_button = make(
            widgets.Button, {"width": "40px"}, icon="refresh", tooltip="re-read the app's routes"
        )
        self.notice = make(widgets.HTML)  # e.g. that the server is stopped
        self.op_info = make(widgets.HTML)
        self.form_box = make(widgets.VBox)
        self.send_button = make(
            widgets.Button, description="Send", button_style="primary", icon="paper-plane"
        )
        self.reset_button = make(widgets.Button, description="Reset", tooltip="back to the generated example")
        self.headers_area = make(
            widgets.Textarea,
            {"width": "100%", "height": "90px"},
            placeholder="Name: value, one per line (sent with every request)",
        )
        widgets.link((self.model, "headers_text"), (self.headers_area, "value"))
        self.code_kind = make(widgets.Dropdown, options=_codegen.KINDS, value="curl", description="Copy as")
        self.code_area = make(widgets.Textarea, {"width": "100%", "height": "220px"})
        ws = self.ws_panel
        self.ws_message, self.ws_log, self.ws_box = ws.message, ws.log, ws.widget
        self.ws_send_button, self.ws_close_button = ws.send_button, ws.close_button
        self.ws_area = make(widgets.VBox)  # holds ws_box while a WebSocket route is selected
        self.output = self._out.widget
        code_tab = make(widgets.VBox, children=[self.code_kind, self.code_area])
        self.tabs = make(
            widgets.Tab,
            children=[self.form_box, self.headers_area, self.auth.widget, self.history.widget, code_tab],
            titles=["Request", "Headers", "Auth", "History", "Code"],
        )
        top = make(widgets.HBox, children=[self.filter, self.picker, self.refresh_button])
        actions = make(widgets.HBox, children=[self.send_button, self.reset_button])
        self.widget = make(
            widgets.VBox,
            children=[top, self.notice, self.op_info, self.tabs, actions, self.ws_area, self.output],
        )
        self._wire()

    def _wire(self) -> None:
        ws = self.ws_panel
        self.picker.observe(lambda c: self._guard(self._pick, c["new"]), "value")
        self.filter.observe(lambda _c: self._guard(self._apply_filter), "value")
        self.refresh_button.on_click(lambda _b: self._guard(self.refresh))
        self.send_button.on_click(lambda _b: self._guard(self._click_send))
        self.reset_button.on_click(lambda _b: self._guard(self.reset))
        self.history.resend_button.on_click(lambda _b: self._guard(self._click_resend))
        self.code_kind.observe(lambda c: self._guard(self._update_code), "value")
        self.model.observe(lambda _c: self._guard(self._inputs_changed), "headers_text")
        self.model.credentials.observe(lambda _c: self._guard(self._inputs_changed))
        self.auth.fetch_button.on_click(lambda _b: self._guard(self._click_fetch_token))
        self.ws_send_button.on_click(lambda _b: self._guard(lambda: self.ws_send(ws.message_data())))
        self.ws_close_button.on_click(lambda _b: self._guard(self.ws_close))

    def _guard(self, action: Callable[..., Any], *args: Any) -> None:
        # Widget events have no cell to raise into: every failure lands in the output area.
        try:
            action(*args)
        except ExplorerError as error:
            self._show_error(str(error))
        except Exception as error:
            self._show_error(f"{type(error).__name__}: {error}", traceback.format_exc())

    def _click_send(self) -> None:
        if self.operation is not None and self.operation.is_websocket:
            self.ws_connect()
        else:
            self.send()

    def _click_resend(self) -> None:
        index = self.history.selected_index
        self.resend(-1 if index is None else index)

    def _click_fetch_token(self) -> None:
        auth = self.auth
        self.fetch_token(auth.oauth_username.value, auth.oauth_password.value, auth.oauth_scope.value)

    # --- showing the selection ------------------------------------------------------------------

    def _refresh(self) -> None:
        self.notice.value = _notice_html(self.model.notice())
        has_app = self.model.refresh()
        self.auth.show_schemes()
        self._views = {key: view for key, view in self._views.items() if self.model.has(key)}
        self._set_picker(self.model.sorted_operations())
        if self.model.selected is None:
            self._show_no_operations(has_app)
        else:
            self._show_selected()

    def _pick(self, key: tuple[str, str] | None) -> None:
        if self.model.has(key):  # None: the picker was emptied, and refresh() shows why
            assert key is not None
            self.model.selected = key
            self._show_selected()

    def _show_selected(self) -> None:
        key, op = self.model.selected, self.model.operation
        if key is None or op is None:
            return
        changed, self._shown = key != self._shown, key
        view = self._view_of(self.model.form_for(op))
        if tuple(self.form_box.children) != (view.widget,):
            self.form_box.children = [view.widget]
        self.op_info.value = _op_info_html(op)
        self.send_button.description = "Connect" if op.is_websocket else "Send"
        self.ws_area.children = [self.ws_box] if op.is_websocket else []
        if self.picker.value != key and any(k == key for _, k in self.picker.options):
            self.picker.value = key
        if changed or self.code_kind.value != "test":  # a test follows sends, not the form
            self._update_code()

    def _view_of(self, form: Form) -> OperationForm:
        """The widgets of `form`; built on first use from the previous version's, if any."""
        key = form.op.key
        view = self._views.get(key)
        if view is None or view.model is not form:
            view = self._views[key] = OperationForm(form, previous=view, on_change=self._inputs_changed)
        return view

    def _show_no_operations(self, has_app: bool) -> None:
        self._shown = None
        self.form_box.children = []
        self.ws_area.children = []
        self.send_button.description = "Send"
        self.op_info.value = _nothing_to_send_html(has_app, self.model.app_name)
        self.code_area.value = ""

    def _set_picker(self, operations: list[Operation]) -> None:
        labels = [(op.label(), op.key) for op in operations]
        if labels != self._option_labels:
            self._option_labels = labels
            self._apply_filter()

    def _apply_filter(self) -> None:
        needle = self.filter.value.strip().lower()
        options = [(label, key) for label, key in self._option_labels if needle in label.lower()]
        current = self.model.selected
        self.picker.options = options
        if current is not None and any(k == current for _, k in options):
            self.picker.value = current

    # --- output -------------------------------------------------------------------------------

    def _run(self, spec: RequestSpec) -> Outcome:
        outcome = self.model.run(spec, on_stream=self._on_stream)
        self._show_outcome(outcome)
        return outcome

    def _show_outcome(self, outcome: Outcome) -> None:
        if outcome.response is None:
            self._show_error(outcome.error)
        else:
            self._out.response(outcome.response, outcome.elapsed_ms)
            if outcome.cut_short:
                arrived = size_text(len(outcome.response.content))
                self._out.note(f"{outcome.cut_short}: stopped reading; showing the {arrived} that arrived.")
            self._show_diff_since_edit()
        self._update_code()

    def _show_diff_since_edit(self) -> None:
        """A request re-sent after cells ran: show what changed in its response since then."""
        diff = self.model.diff_since_edit()
        if diff is not None:
            self._out.diff(diff)

    def _on_stream(self, response: httpx.Response) -> Callable[[bytes], None]:
        seconds = self.model.sender.body_seconds
        note = f"Read for up to {seconds:g} s (ex.stream_timeout); interrupt the kernel to stop sooner."
        return self._out.stream(response, note)

    def _inputs_changed(self) -> None:
        # The selected form, headers or auth changed: "Copy as" follows (a test follows sends).
        if self.model.has_form(self.model.selected) and self.code_kind.value != "test":
            self._update_code()

    def _update_code(self) -> None:
        try:
            self.code_area.value = self.model.code(self.code_kind.value, None)
        except Exception as error:
            self.code_area.value = f"# {error}"

    def _show_error(self, message: str, detail: str = "") -> None:
        self._out.error(message, detail)


def _notice_html(text: str) -> str:
    if not text:
        return ""
    return f"<div style='color:#ef6c00'><b>{html.escape(text)}</b></div>"


def _nothing_to_send_html(has_app: bool, app_name: str) -> str:
    name = html.escape(app_name)
    if not has_app:
        return f"<i>No FastAPI app is being served yet: define <code>{name} = FastAPI()</code>.</i>"
    example = html.escape(f'@{app_name}.get("/")\ndef root():\n    return {{"hello": "world"}}')
    return f"<i>No routes yet: add one in a cell, for example</i><pre>{example}</pre>"


def _op_info_html(op: Operation) -> str:
    colour = {
        "GET": "#1565c0",
        "POST": "#2e7d32",
        "PUT": "#ef6c00",
        "PATCH": "#6a1b9a",
        "DELETE": "#c62828",
        "WS": "#00838f",
    }.get(op.method, "#546e7a")
    lock = " 🔒 " + ", ".join(op.security) if op.security else ""
    parts = [
        f"<span style='background:{colour};color:white;padding:1px 6px;border-radius:3px'>"
        f"{op.method}</span> <code>{html.escape(op.path)}</code> {html.escape(op.summary)}{lock}"
    ]
    if op.deprecated:
        parts.append("<span style='color:#c62828'>deprecated</span>")
    if op.description:
        parts.append(f"<div style='color:#555'>{html.escape(op.description)}</div>")
    return " ".join(parts)
