"""The request explorer: pick an operation of the live app, fill its inputs, send, inspect."""

from __future__ import annotations

import difflib
import html
import json
import traceback
from collections.abc import Callable, MutableMapping
from typing import Any
from urllib.parse import quote, urljoin

import httpx
import ipywidgets as widgets

from .. import _render
from .._changes._responsediff import ResponseDiff, diff_responses
from . import _codegen
from ._auth import AuthPanel, schemes_from
from ._catalog import Catalog
from ._errors import ExplorerError
from ._history import Entry, History
from ._request import FileTuple, Outcome, RequestSpec, Sender, basic_header
from ._schema import Operation
from ._websocket import LogEntry, WebSocketSession
from ._widgets import OperationForm, make

AppSource = Callable[[], Any]
BaseUrl = str | Callable[[], str]
Notice = Callable[[], str]
_WS_LOG_LINES = 200


class Explorer:
    """Postman-style probing of a FastAPI app served over HTTP.

    `app_source()` returns the app (its live OpenAPI schema builds the inputs) and `base_url`
    is where it is served (a string, or a callable for a server that may move). `notice()`,
    if given, returns a line to show above the inputs (e.g. that the server is stopped), and
    `app_name` is what the messages tell the user to define. Every widget action is also a
    method: `select`, `set`, `body`, `headers`, `auth_*`, `fetch_token`, `send`, `history`,
    `resend`, `copy_as`, `ws_connect`, `ws_send`, `ws_messages`, `ws_close`.
    """

    def __init__(
        self,
        app_source: AppSource,
        base_url: BaseUrl,
        *,
        base_url_code: str | None = None,
        timeout: float = 10.0,
        stream_timeout: float | None = None,
        notice: Notice | None = None,
        app_name: str | Callable[[], str] = "app",
        cell_count: Callable[[], int | None] | None = None,
    ) -> None:
        self._app_source = app_source
        self._base_url = base_url
        self.base_url_code = base_url_code  # how generated code spells the base URL
        self._notice = notice
        self._app_name = app_name
        self._cell_count = cell_count  # history entries record it, diffs say "since In [N]"
        self._catalog = Catalog()
        self._operations: dict[tuple[str, str], Operation] = {}
        self._forms: dict[tuple[str, str], OperationForm] = {}
        self._previous: dict[tuple[str, str], OperationForm] = {}  # forms of edited routes
        self._selected: tuple[str, str] | None = None
        self._sender = Sender(timeout=timeout, stream_timeout=stream_timeout)
        self._last: Outcome | None = None
        self._output_text = ""
        self._option_labels: list[tuple[str, tuple[str, str]]] = []
        self._listener: Callable[[], None] | None = None
        self._closed = False
        self.auth = AuthPanel()
        self.history = History()
        self._build_widgets()
        self.ws = WebSocketSession(self._on_ws_log)
        self.refresh()

    # --- the app and its operations -------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._base_url() if callable(self._base_url) else self._base_url

    @property
    def operations(self) -> list[Operation]:
        return list(self._operations.values())

    @property
    def operation(self) -> Operation | None:
        return self._operations.get(self._selected) if self._selected else None

    @property
    def form(self) -> OperationForm:
        op = self.operation
        if op is None:
            raise ExplorerError("No operation is selected; pick one with ex.select(method, path)")
        return self._form_for(op)

    def refresh(self) -> None:
        """Re-read the app's routes; keeps what was typed for operations that still exist."""
        try:
            self._refresh()
        except Exception as error:  # a broken model or route must not break the explorer
            self._show_error(f"Could not read the app's routes: {type(error).__name__}: {error}")

    def _refresh(self) -> None:
        self.notice.value = _notice_html(self._notice() if self._notice is not None else "")
        app = self._app_source()
        if app is None or not hasattr(app, "routes"):
            self._operations = {}
            self._set_picker([])
            self._show_no_operations(has_app=False)
            return
        operations = self._catalog.operations(app)
        self._operations = {op.key: op for op in operations}
        self._drop_stale_forms()
        self.auth.update_schemes(schemes_from(self._catalog.security_schemes()))
        self._set_picker(sorted(operations, key=_sort_key))
        if not operations:
            self._show_no_operations(has_app=True)
            return
        if self._selected not in self._operations:
            self._selected = None
        self._select_key(self._selected or self._first_key())

    def _drop_stale_forms(self) -> None:
        for key, form in list(self._forms.items()):
            op = self._operations.get(key)
            if op is form.op:
                continue
            del self._forms[key]
            if op is None:
                self._previous.pop(key, None)
            elif key == self._selected and op.fingerprint == form.fingerprint:
                form.op = op  # same inputs: keep the very same widgets
                self._forms[key] = form
            else:
                # Rebuilt when next shown, reusing its unchanged rows; comparing fingerprints
                # now would generate a schema for every edited route, shown or not.
                self._previous[key] = form

    def _form_for(self, op: Operation) -> OperationForm:
        form = self._forms.get(op.key)
        if form is None:
            previous = self._previous.pop(op.key, None)
            form = OperationForm(op, previous=previous, on_change=self._inputs_changed)
            self._forms[op.key] = form
        return form

    def _first_key(self) -> tuple[str, str] | None:
        return self._option_labels[0][1] if self._option_labels else None

    # --- selecting and filling in -------------------------------------------------------------

    def select(self, method: str, path: str) -> OperationForm:
        """Pick the operation `method path` (method "WS" for a WebSocket route)."""
        key = (_method(method), path)
        if key not in self._operations:
            raise ExplorerError(f"No operation {key[0]} {path}. {self._suggest(path)}")
        self._select_key(key)
        return self.form

    def set(self, **values: Any) -> Explorer:
        """Fill parameters or form fields by name; None unticks (does not send) one."""
        self.form.set(**values)
        return self

    @property
    def values(self) -> dict[str, Any]:
        return self.form.values()

    @property
    def body(self) -> Any:
        """The request body: parsed JSON, raw text when it is not valid JSON, or form values."""
        return self.form.get_body()

    @body.setter
    def body(self, value: Any) -> None:
        self.form.set_body(value)

    @property
    def headers(self) -> HeaderEditor:
        """Extra headers sent with every request (a live, editable mapping)."""
        return self._headers

    @headers.setter
    def headers(self, value: dict[str, str]) -> None:
        self._headers.replace(value)

    @property
    def timeout(self) -> float:
        return self._sender.timeout

    @timeout.setter
    def timeout(self, seconds: float) -> None:
        self._sender.timeout = seconds

    @property
    def stream_timeout(self) -> float | None:
        """The longest a response body is read for (None: `timeout`); what arrived is shown."""
        return self._sender.stream_timeout

    @stream_timeout.setter
    def stream_timeout(self, seconds: float | None) -> None:
        self._sender.stream_timeout = seconds

    @property
    def max_body_bytes(self) -> int:
        """A larger response body is cut at this size; what arrived is shown."""
        return self._sender.max_body_bytes

    @max_body_bytes.setter
    def max_body_bytes(self, size: int) -> None:
        self._sender.max_body_bytes = size

    # --- auth ---------------------------------------------------------------------------------

    def auth_basic(self, username: str, password: str) -> None:
        self.auth.set_basic(username, password)

    def auth_bearer(self, token: str) -> None:
        self.auth.set_bearer(token)

    def auth_api_key(self, value: str, name: str | None = None, location: str | None = None) -> None:
        self.auth.set_api_key(value, name, location)

    def auth_none(self) -> None:
        self.auth.clear()

    def fetch_token(
        self, username: str, password: str, scope: str = "", token_url: str | None = None
    ) -> str | None:
        """OAuth2 password flow: get a token from the app's tokenUrl and use it as Bearer."""
        url = token_url or self.auth.token_url
        if not url:
            raise ExplorerError("The app declares no OAuth2 password flow; pass token_url=...")
        path = urljoin("/", url) if not url.startswith(("http://", "https://")) else url
        data = {"grant_type": "password", "username": username, "password": password}
        if scope:
            data["scope"] = scope
        outcome = self._run(RequestSpec("POST", path, data=dict(data)))
        token = _access_token(outcome.response)
        if token is None:
            if outcome.response is not None:
                self._note(f"No access_token in the {outcome.response.status_code} reply from {url}")
            return None
        self.auth.set_bearer(token)
        return token

    # --- sending ------------------------------------------------------------------------------

    def request_spec(self) -> RequestSpec:
        """What `send()` would send now, from the form, the extra headers and the auth."""
        op, form = self.operation, self.form
        assert op is not None
        spec = RequestSpec(op.method, _fill_path(op.path, form))
        for item in form.inputs:
            location, values = item.param.location, item.request_values()
            if not values or item.param.is_file:
                continue
            if location == "query":
                spec.params.extend((item.param.name, v) for v in values)
            elif location == "header":
                spec.headers[item.param.name] = ", ".join(values)
            elif location == "cookie":
                spec.cookies[item.param.name] = values[0]
        _apply_body(spec, form)
        for name, value in self._headers.items():
            spec.headers.setdefault(name, value)
        self.auth.apply(spec)
        return spec

    def send(self) -> httpx.Response | None:
        """Send the current request; returns the response (None when there was none)."""
        if self.operation is not None and self.operation.is_websocket:
            raise ExplorerError("This is a WebSocket route: use ws_connect() and ws_send()")
        try:
            spec = self.request_spec()
        except ExplorerError:
            raise
        except Exception as error:
            self._show_error(f"Could not build the request: {error}")
            return None
        return self._run(spec).response

    def resend(self, index: int = -1) -> httpx.Response | None:
        """Send history entry `index` again (negative counts from the newest)."""
        if not self.history.entries:
            raise ExplorerError("Nothing has been sent yet")
        try:
            entry = self.history[index]
        except IndexError:
            raise ExplorerError(f"No history entry {index}; there are {len(self.history)}") from None
        return self._run(entry.spec).response

    @property
    def response(self) -> httpx.Response | None:
        return self._last.response if self._last else None

    @property
    def output_text(self) -> str:
        """Plain-text form of what the output area shows now."""
        return self._output_text

    def _run(self, spec: RequestSpec) -> Outcome:
        try:
            request = spec.build(self._sender.client, self.base_url)
        except RuntimeError as error:  # the server is stopped: base_url has nowhere to point
            outcome = Outcome(None, 0.0, str(error))
        except Exception as error:  # e.g. a header value httpx rejects
            outcome = Outcome(None, 0.0, f"Could not build the request: {error}")
        else:
            outcome = self._sender.send(request, on_stream=self._on_stream)
        self._last = outcome
        entry = Entry(spec, outcome.response, outcome.elapsed_ms, outcome.error, cut_short=outcome.cut_short)
        entry.count = self._cell_count() if self._cell_count is not None else None
        self.history.add(entry)
        if outcome.response is None:
            self._show_error(outcome.error)
        else:
            self._show_response(outcome.response, outcome.elapsed_ms)
            if outcome.cut_short:
                arrived = _render.size_text(len(outcome.response.content))
                self._note(f"{outcome.cut_short}: stopped reading; showing the {arrived} that arrived.")
            self._show_diff_since_edit()
        self._update_code()
        return outcome

    # --- response diffs -----------------------------------------------------------------------

    def diff(self, i: int | None = None, j: int | None = None) -> ResponseDiff:
        """How a response differs from an earlier one: status, headers, JSON body by path.

        `ex.diff()`: the newest response against the previous one to the same request;
        `ex.diff(i, j)`: history entries i and j (negative indices count from the newest).
        """
        if (i is None) != (j is None):
            raise ExplorerError("ex.diff() takes no entries or two: ex.diff(i, j)")
        if i is None or j is None:
            if not self.history.entries:
                raise ExplorerError("Send a request first: there is nothing to compare")
            newest = len(self.history) - 1
            earlier = self.history.previous(newest)
            if earlier is None:
                entry = self.history[newest]
                raise ExplorerError(f"{entry.spec.method} {entry.spec.path} was sent once; send it again")
            return self._diff_entries(earlier, newest)
        return self._diff_entries(i, j)

    def _diff_entries(self, i: int, j: int) -> ResponseDiff:
        before, after = self._history_entry(i), self._history_entry(j)
        if before.response is None or after.response is None:
            failed = before if before.response is None else after
            raise ExplorerError(f"That request got no response ({failed.error}); nothing to compare")
        request = f"{after.spec.method} {after.spec.path}"
        return diff_responses(request, before.response, after.response, before.count, after.count)

    def _show_diff_since_edit(self) -> None:
        """A request re-sent after cells ran: show what changed in its response since then."""
        newest = len(self.history) - 1
        earlier = self.history.previous(newest)
        if earlier is None or self.history[earlier].count == self.history[newest].count:
            return
        if self.history[earlier].response is None:
            return
        diff = self._diff_entries(earlier, newest)
        view = make(widgets.HTML, value=diff._repr_html_())
        self.output.children = [*self.output.children, view]
        self._output_text = f"{self._output_text}\n{diff!r}"

    def _on_stream(self, response: httpx.Response) -> Callable[[bytes], None]:
        seconds = self._sender.body_seconds
        note = f"Read for up to {seconds:g} s (ex.stream_timeout); interrupt the kernel to stop sooner."
        view = _render.StreamView(response, note)
        self._show(view.widget, f"HTTP {response.status_code} (streaming…)")
        return view.feed

    # --- copy as ------------------------------------------------------------------------------

    def copy_as(self, kind: str = "curl", entry: int | None = None) -> str:
        """Code reproducing a request: "curl", "httpx", or "test" (asserts on the observed reply).

        curl/httpx describe the current form unless `entry` names a history entry; "test"
        uses the newest history entry (or `entry`), since it asserts on a real response.
        """
        if kind not in _codegen.KINDS:
            raise ExplorerError(f"copy_as takes one of {', '.join(_codegen.KINDS)}, not {kind!r}")
        code = self._code(kind, entry)
        self.code_kind.value = kind
        self.code_area.value = code
        return code

    def _code(self, kind: str, entry: int | None) -> str:
        base_url = self._safe_base_url()
        if kind == "test" or entry is not None:
            chosen = self._history_entry(entry)
            if kind == "test":
                if chosen.response is None:
                    raise ExplorerError(f"That request got no response ({chosen.error}); nothing to assert")
                return _codegen.to_test(
                    chosen.spec,
                    chosen.response,
                    base_url,
                    self.base_url_code,
                    whole_body=not chosen.cut_short,
                )
            spec = chosen.spec
        else:
            spec = self.request_spec()
        if spec.method == "WS":
            raise ExplorerError("copy_as is for HTTP requests; this is a WebSocket route")
        if kind == "curl":
            return _codegen.to_curl(spec, base_url)
        return _codegen.to_httpx(spec, base_url, self.base_url_code)

    def _history_entry(self, index: int | None) -> Entry:
        if not self.history.entries:
            raise ExplorerError("Send a request first: a test asserts on an observed response")
        try:
            return self.history[-1 if index is None else index]
        except IndexError:
            raise ExplorerError(f"No history entry {index}; there are {len(self.history)}") from None

    def _inputs_changed(self) -> None:
        # The selected form, headers or auth changed: "Copy as" follows (a test follows sends).
        if self._selected in self._forms and self.code_kind.value != "test":
            self._update_code()

    def _update_code(self) -> None:
        try:
            self.code_area.value = self._code(self.code_kind.value, None)
        except Exception as error:
            self.code_area.value = f"# {error}"

    # --- websockets ---------------------------------------------------------------------------

    def ws_connect(self) -> bool:
        """Open the selected WebSocket route with the form's path/query values, headers and auth."""
        op = self.operation
        if op is None or not op.is_websocket:
            raise ExplorerError("Select a WebSocket route first, e.g. ex.select('WS', '/ws')")
        spec = self.request_spec()
        try:
            url = httpx.URL(spec.url(self.base_url), params=spec.params or None)
        except RuntimeError as error:  # the server is stopped
            self._show_error(self.ws.fail(str(error)))
            return False
        ws_url = str(url.copy_with(scheme="wss" if url.scheme == "https" else "ws"))
        headers = dict(spec.headers)
        if spec.basic_auth:
            headers["Authorization"] = basic_header(*spec.basic_auth)
        if spec.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in spec.cookies.items())
        failure = self.ws.connect(ws_url, headers, self.timeout)
        self._update_ws_buttons()
        return failure is None

    def ws_send(self, data: Any) -> bool:
        """Send text as-is, bytes as binary, anything else as JSON."""
        ok = self.ws.send(data) is None
        self._update_ws_buttons()
        return ok

    def ws_receive(self, timeout: float = 5.0) -> Any:
        """The next received message not yet taken (None after `timeout` seconds)."""
        return self.ws.receive(timeout)

    @property
    def ws_messages(self) -> list[Any]:
        return list(self.ws.messages)

    def ws_close(self) -> None:
        self.ws.close()
        self._update_ws_buttons()

    def _on_ws_log(self, entry: LogEntry) -> None:
        # May run on the receiving thread: only assign widget state (thread-safe enough).
        lines = self.ws.log[-_WS_LOG_LINES:]
        colours = {"→": "#1565c0", "←": "#2e7d32", "✗": "#c62828"}
        rows = "".join(
            f"<div style='color:{colours.get(d, '#666')}'>{d} {html.escape(t)}</div>" for d, t in lines
        )
        style = "font-family:var(--jp-code-font-family,monospace);font-size:12px;line-height:1.45"
        self.ws_log.value = f"<div style='{style}'>{rows}</div>"

    def _update_ws_buttons(self) -> None:
        connected = self.ws.connected
        self.ws_send_button.disabled = not connected
        self.ws_close_button.disabled = not connected

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
        self.ws.close()
        self._sender.close()
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        selected = " ".join(self._selected) if self._selected else "nothing"
        return f"<Explorer {len(self._operations)} operations, {selected} selected>"

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
        self._headers = HeaderEditor(self.headers_area)
        self.code_kind = make(widgets.Dropdown, options=_codegen.KINDS, value="curl", description="Copy as")
        self.code_area = make(widgets.Textarea, {"width": "100%", "height": "220px"})
        self.ws_message = make(widgets.Textarea, {"width": "100%"}, placeholder="text, or JSON")
        self.ws_send_button = make(widgets.Button, description="Send message", disabled=True)
        self.ws_close_button = make(widgets.Button, description="Close", disabled=True)
        self.ws_log = make(widgets.HTML)
        self.ws_box = make(
            widgets.VBox,
            children=[
                self.ws_message,
                make(widgets.HBox, children=[self.ws_send_button, self.ws_close_button]),
                self.ws_log,
            ],
        )
        self.ws_area = make(widgets.VBox)  # holds ws_box while a WebSocket route is selected
        self.output = make(widgets.VBox, {"border": "1px solid #ddd", "padding": "4px"})
        self.tabs = make(
            widgets.Tab,
            children=[
                self.form_box,
                self.headers_area,
                self.auth.widget,
                self.history.widget,
                make(widgets.VBox, children=[self.code_kind, self.code_area]),
            ],
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
        self.picker.observe(lambda c: self._guard(self._select_key, c["new"]), "value")
        self.filter.observe(lambda _c: self._guard(self._apply_filter), "value")
        self.refresh_button.on_click(lambda _b: self._guard(self.refresh))
        self.send_button.on_click(lambda _b: self._guard(self._click_send))
        self.reset_button.on_click(lambda _b: self._guard(self._reset_form))
        self.history.resend_button.on_click(lambda _b: self._guard(self._click_resend))
        self.code_kind.observe(lambda c: self._guard(self._update_code), "value")
        self.headers_area.observe(lambda _c: self._guard(self._inputs_changed), "value")
        self.auth.observe(lambda: self._guard(self._inputs_changed))
        self.auth.fetch_button.on_click(lambda _b: self._guard(self._click_fetch_token))
        self.ws_send_button.on_click(lambda _b: self._guard(self._click_ws_send))
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
        self.fetch_token(
            self.auth.oauth_username.value, self.auth.oauth_password.value, self.auth.oauth_scope.value
        )

    def _click_ws_send(self) -> None:
        text = self.ws_message.value
        try:
            data: Any = json.loads(text) if text.strip()[:1] in ("{", "[") else text
        except ValueError:
            data = text
        self.ws_send(data)

    def _reset_form(self) -> None:
        op = self.operation
        if op is not None:
            self._forms.pop(op.key, None)
            self._previous.pop(op.key, None)
            self._select_key(op.key)

    def _select_key(self, key: tuple[str, str] | None) -> None:
        if key is None or key not in self._operations:
            return  # the picker was emptied: refresh() shows why
        changed = key != self._selected
        self._selected = key
        op = self._operations[key]
        form = self._form_for(op)
        if tuple(self.form_box.children) != (form.widget,):
            self.form_box.children = [form.widget]
        self.op_info.value = _op_info_html(op)
        self.send_button.description = "Connect" if op.is_websocket else "Send"
        self.ws_area.children = [self.ws_box] if op.is_websocket else []
        if self.picker.value != key and any(k == key for _, k in self.picker.options):
            self.picker.value = key
        if changed or self.code_kind.value != "test":  # a test follows sends, not the form
            self._update_code()

    def _show_no_operations(self, has_app: bool) -> None:
        self._selected = None
        self.form_box.children = []
        self.ws_area.children = []
        self.send_button.description = "Send"
        self.op_info.value = _nothing_to_send_html(has_app, self.app_name)
        self.code_area.value = ""

    @property
    def app_name(self) -> str:
        return self._app_name() if callable(self._app_name) else self._app_name

    def _set_picker(self, operations: list[Operation]) -> None:
        labels = [(op.label(), op.key) for op in operations]
        if labels != self._option_labels:
            self._option_labels = labels
            self._apply_filter()

    def _apply_filter(self) -> None:
        needle = self.filter.value.strip().lower()
        options = [(label, key) for label, key in self._option_labels if needle in label.lower()]
        current = self._selected
        self.picker.options = options
        if current is not None and any(k == current for _, k in options):
            self.picker.value = current

    def _suggest(self, path: str) -> str:
        same_path = [f"{m} {p}" for (m, p) in self._operations if p == path]
        close = same_path or [
            f"{m} {p}"
            for (m, p) in self._operations
            if p in difflib.get_close_matches(path, [p for _, p in self._operations], n=3)
        ]
        if close:
            return f"Did you mean: {', '.join(close)}?"
        return f"{len(self._operations)} operations; see ex.operations."

    # --- output -------------------------------------------------------------------------------

    def _show(self, widget: widgets.Widget, text: str) -> None:
        self.output.children = [widget]
        self._output_text = text

    def _show_response(self, response: httpx.Response, elapsed_ms: float) -> None:
        self._show(_render.render_response(response, elapsed_ms), _render.response_text(response, elapsed_ms))

    def _show_error(self, message: str, detail: str = "") -> None:
        self._show(_render.error_widget(message, detail), f"Error: {message}")

    def _note(self, message: str) -> None:
        note = make(widgets.HTML, value=f"<div style='color:#ef6c00'>{html.escape(message)}</div>")
        self.output.children = [note, *self.output.children]
        self._output_text = f"{message}\n{self._output_text}"

    def _safe_base_url(self) -> str:
        try:
            return self.base_url
        except RuntimeError as error:
            raise ExplorerError(str(error)) from None


class HeaderEditor(MutableMapping[str, str]):
    """Extra headers as a mapping, stored as `Name: value` lines in a Textarea."""

    def __init__(self, area: widgets.Textarea) -> None:
        self._area = area

    def _parse(self) -> dict[str, str]:
        headers = {}
        for line in self._area.value.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip():
                headers[name.strip()] = value.strip()
        return headers

    def replace(self, headers: dict[str, str]) -> None:
        self._area.value = "\n".join(f"{name}: {value}" for name, value in headers.items())

    def __getitem__(self, name: str) -> str:
        return self._parse()[name]

    def __setitem__(self, name: str, value: str) -> None:
        self.replace({**self._parse(), name: value})

    def __delitem__(self, name: str) -> None:
        headers = self._parse()
        del headers[name]
        self.replace(headers)

    def __iter__(self) -> Any:
        return iter(self._parse())

    def __len__(self) -> int:
        return len(self._parse())

    def __repr__(self) -> str:
        return f"HeaderEditor({self._parse()!r})"


def _method(method: str) -> str:
    upper = method.strip().upper()
    return "WS" if upper in ("WEBSOCKET", "WSS") else upper


def _sort_key(op: Operation) -> tuple[str, str, int]:
    order = ("GET", "POST", "PUT", "PATCH", "DELETE", "WS")
    rank = order.index(op.method) if op.method in order else len(order)
    return (op.tag, op.path, rank)


def _fill_path(template: str, form: OperationForm) -> str:
    path = template
    for item in form.inputs:
        if item.param.location != "path":
            continue
        values = item.request_values()
        path = path.replace("{" + item.param.name + "}", quote(values[0], safe="") if values else "")
    return path


def _apply_body(spec: RequestSpec, form: OperationForm) -> None:
    op = form.op
    if op.body is not None and op.body.is_form:
        data: dict[str, str | list[str]] = {}
        files: list[tuple[str, FileTuple]] = []
        for item in form.inputs:
            if item.param.location != "form":
                continue
            if item.param.is_file:
                files.extend((item.param.name, f) for f in item.files())
                continue
            values = item.request_values()
            if values:
                data[item.param.name] = values if item.param.kind == "array" else values[0]
        spec.data, spec.files = data, files
        return
    text = form.body_text
    if form.body_editor is None or not text.strip():
        return
    media = form.media_type or "application/json"
    if media == "application/json" or media.endswith("+json"):
        try:
            spec.json, spec.has_json = json.loads(text), True
            return
        except ValueError:
            pass  # invalid JSON is sent as typed: the server's 422 is what the user wants to see
    spec.content = text
    spec.headers.setdefault("Content-Type", media)


def _access_token(response: httpx.Response | None) -> str | None:
    if response is None or response.status_code >= 400:
        return None
    try:
        token = response.json().get("access_token")
    except (ValueError, AttributeError):
        return None
    return token if isinstance(token, str) else None


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
