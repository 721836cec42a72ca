"""The explorer without widgets: the app's operations, what is typed for each, sending, history.

`ExplorerModel` is what `Explorer` (the view, `_view.py`) shows; it imports no ipywidgets, so
tests drive it directly. It never displays: each method returns what happened (an `Outcome`,
a diff, code) or raises `ExplorerError` for a mistake in how it was asked.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any
from urllib.parse import quote, urljoin

import httpx
from traitlets import HasTraits, Unicode

from .._changes._responsediff import ResponseDiff, diff_responses
from .._http._read import StreamStart
from . import _codegen
from ._auth import Credentials, schemes_from
from ._catalog import Catalog
from ._errors import ExplorerError
from ._history import Entry, History
from ._inputs import Form
from ._request import FileTuple, Outcome, RequestSpec, Sender, basic_header
from ._schema import Operation
from ._websocket import LogEntry, WebSocketSession

AppSource = Callable[[], Any]
BaseUrl = str | Callable[[], str]
Key = tuple[str, str]  # (method, path); method "WS" for a WebSocket route


class ExplorerModel(HasTraits):
    """Operations of the app from `app_source()`, served at `base_url` (a string or a callable).

    `notice()` returns a line to show above the inputs (e.g. that the server is stopped),
    `app_name` is what messages tell the user to define, `cell_count()` the cell a request is
    sent under (history entries record it; diffs say "since In [N]").
    """

    headers_text = Unicode()  # extra headers, `Name: value` lines, sent with every request

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
        on_ws_log: Callable[[LogEntry], None] | None = None,
    ) -> None:
        super().__init__()
        self._app_source = app_source
        self._base_url = base_url
        self.base_url_code = base_url_code  # how generated code spells the base URL
        self._notice = notice
        self._app_name = app_name
        self._cell_count = cell_count
        self._catalog = Catalog()
        self._operations: dict[Key, Operation] = {}
        self._forms: dict[Key, Form] = {}
        self._previous: dict[Key, Form] = {}  # forms of edited routes, rebuilt when next shown
        self.selected: Key | None = None
        self.sender = Sender(timeout=timeout, stream_timeout=stream_timeout)
        self.last: Outcome | None = None
        self.credentials = Credentials()
        self.history = History()
        self.headers = HeaderEditor(self, "headers_text")
        self.ws = WebSocketSession(on_ws_log or _ignore)

    # --- the app and its operations -------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._base_url() if callable(self._base_url) else self._base_url

    @property
    def app_name(self) -> str:
        return self._app_name() if callable(self._app_name) else self._app_name

    def notice(self) -> str:
        return self._notice() if self._notice is not None else ""

    @property
    def operations(self) -> list[Operation]:
        return list(self._operations.values())

    def sorted_operations(self) -> list[Operation]:
        """By tag, then path, then method in the usual order: how the picker lists them."""
        return sorted(self._operations.values(), key=_sort_key)

    @property
    def operation(self) -> Operation | None:
        return self._operations.get(self.selected) if self.selected else None

    def refresh(self) -> bool:
        """Re-read the app's routes, keeping what was typed for operations that still exist.

        False when there is no app to read. A selection that is gone moves to the first operation.
        What reading a broken app raises is raised (the view shows it).
        """
        app = self._app_source()
        if app is None or not hasattr(app, "routes"):
            self._operations, self.selected = {}, None
            return False
        operations = self._catalog.operations(app)
        self._operations = {op.key: op for op in operations}
        self._drop_stale_forms()
        self.credentials.update_schemes(schemes_from(self._catalog.security_schemes()))
        if self.selected not in self._operations:
            ordered = self.sorted_operations()
            self.selected = ordered[0].key if ordered else None
        return True

    def _drop_stale_forms(self) -> None:
        for key, form in list(self._forms.items()):
            op = self._operations.get(key)
            if op is form.op:
                continue
            del self._forms[key]
            if op is None:
                self._previous.pop(key, None)
            elif key == self.selected and op.fingerprint == form.fingerprint:
                form.op = op  # same inputs: keep the very same form
                self._forms[key] = form
            else:
                # Rebuilt when next shown, reusing its unchanged inputs; comparing fingerprints
                # now would generate a schema for every edited route, shown or not.
                self._previous[key] = form

    # --- selecting and filling in -------------------------------------------------------------

    def has(self, key: Key | None) -> bool:
        return key is not None and key in self._operations

    def select(self, method: str, path: str) -> Form:
        """Pick the operation `method path` (method "WS" for a WebSocket route)."""
        key = (_method(method), path)
        if key not in self._operations:
            raise ExplorerError(f"No operation {key[0]} {path}. {self._suggest(path)}")
        self.selected = key
        return self.form

    @property
    def form(self) -> Form:
        op = self.operation
        if op is None:
            raise ExplorerError("No operation is selected; pick one with ex.select(method, path)")
        return self.form_for(op)

    def form_for(self, op: Operation) -> Form:
        form = self._forms.get(op.key)
        if form is None:
            form = self._forms[op.key] = Form(op, previous=self._previous.pop(op.key, None))
        return form

    def has_form(self, key: Key | None) -> bool:
        return key in self._forms

    def reset(self) -> None:
        """The selected operation's inputs go back to the generated example."""
        if self.selected is not None:
            self._forms.pop(self.selected, None)
            self._previous.pop(self.selected, None)

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

    # --- sending ------------------------------------------------------------------------------

    @property
    def timeout(self) -> float:
        return self.sender.timeout

    @timeout.setter
    def timeout(self, seconds: float) -> None:
        self.sender.timeout = seconds

    def request_spec(self) -> RequestSpec:
        """What `send()` would send now, from the form, the extra headers and the auth."""
        form = self.form
        op = form.op
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
        for name, value in self.headers.items():
            spec.headers.setdefault(name, value)
        self.credentials.apply(spec)
        return spec

    def send(self, on_stream: StreamStart | None = None) -> Outcome:
        """Send the selected operation's request; `on_stream(response)` sees a streamed body."""
        if self.operation is not None and self.operation.is_websocket:
            raise ExplorerError("This is a WebSocket route: use ws_connect() and ws_send()")
        return self.run(self.request_spec(), on_stream)

    def resend(self, index: int = -1, on_stream: StreamStart | None = None) -> Outcome:
        """Send history entry `index` again (negative counts from the newest)."""
        if not self.history.entries:
            raise ExplorerError("Nothing has been sent yet")
        try:
            entry = self.history[index]
        except IndexError:
            raise ExplorerError(f"No history entry {index}; there are {len(self.history)}") from None
        return self.run(entry.spec, on_stream)

    def run(self, spec: RequestSpec, on_stream: StreamStart | None = None) -> Outcome:
        """Send `spec` and record it; what went wrong is in the outcome, never raised."""
        try:
            request = spec.build(self.sender.client, self.base_url)
        except RuntimeError as error:  # the server is stopped: base_url has nowhere to point
            outcome = Outcome(None, 0.0, str(error))
        except Exception as error:  # e.g. a header value httpx rejects
            outcome = Outcome(None, 0.0, f"Could not build the request: {error}")
        else:
            outcome = self.sender.send(request, on_stream=on_stream)
        self.last = outcome
        entry = Entry(spec, outcome.response, outcome.elapsed_ms, outcome.error, cut_short=outcome.cut_short)
        entry.count = self._cell_count() if self._cell_count is not None else None
        self.history.add(entry)
        return outcome

    @property
    def response(self) -> httpx.Response | None:
        return self.last.response if self.last else None

    # --- auth ---------------------------------------------------------------------------------

    def token_request(
        self, username: str, password: str, scope: str = "", token_url: str | None = None
    ) -> RequestSpec:
        """The OAuth2 password-flow request to the app's tokenUrl (or `token_url`)."""
        url = token_url or self.credentials.token_url
        if not url:
            raise ExplorerError("The app declares no OAuth2 password flow; pass token_url=...")
        path = urljoin("/", url) if not url.startswith(("http://", "https://")) else url
        data: dict[str, str | list[str]] = {
            "grant_type": "password",
            "username": username,
            "password": password,
        }
        if scope:
            data["scope"] = scope
        return RequestSpec("POST", path, data=data)

    def use_token(self, outcome: Outcome) -> str | None:
        """The access token of a token reply, now sent as Bearer; None when there is none."""
        token = _access_token(outcome.response)
        if token is not None:
            self.credentials.set_bearer(token)
        return token

    def fetch_token(
        self, username: str, password: str, scope: str = "", token_url: str | None = None
    ) -> str | None:
        """OAuth2 password flow: get a token from the app's tokenUrl and use it as Bearer."""
        return self.use_token(self.run(self.token_request(username, password, scope, token_url)))

    # --- history: diffs and code ----------------------------------------------------------------

    def entry(self, index: int | None) -> Entry:
        """History entry `index` (None: the newest)."""
        if not self.history.entries:
            raise ExplorerError("Send a request first: a test asserts on an observed response")
        try:
            return self.history[-1 if index is None else index]
        except IndexError:
            raise ExplorerError(f"No history entry {index}; there are {len(self.history)}") from None

    def diff(self, i: int | None = None, j: int | None = None) -> ResponseDiff:
        """How a response differs from an earlier one: status, headers, JSON body by path.

        No entries: the newest response against the previous one to the same request;
        `diff(i, j)`: history entries i and j (negative indices count from the newest).
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

    def diff_since_edit(self) -> ResponseDiff | None:
        """The newest response against the same request's before cells ran; None if no cell did."""
        newest = len(self.history) - 1
        earlier = self.history.previous(newest)
        if earlier is None or self.history[earlier].count == self.history[newest].count:
            return None
        if self.history[earlier].response is None:
            return None
        return self._diff_entries(earlier, newest)

    def _diff_entries(self, i: int, j: int) -> ResponseDiff:
        before, after = self.entry(i), self.entry(j)
        if before.response is None or after.response is None:
            failed = before if before.response is None else after
            raise ExplorerError(f"That request got no response ({failed.error}); nothing to compare")
        request = f"{after.spec.method} {after.spec.path}"
        return diff_responses(request, before.response, after.response, before.count, after.count)

    def code(self, kind: str = "curl", entry: int | None = None) -> str:
        """Code reproducing a request: "curl", "httpx", or "test" (asserts on the observed reply).

        curl/httpx describe the current form unless `entry` names a history entry; "test"
        uses the newest history entry (or `entry`), since it asserts on a real response.
        """
        if kind not in _codegen.KINDS:
            raise ExplorerError(f"copy_as takes one of {', '.join(_codegen.KINDS)}, not {kind!r}")
        base_url = self._safe_base_url()
        if kind == "test" or entry is not None:
            chosen = self.entry(entry)
            if kind == "test":
                if chosen.response is None:
                    raise ExplorerError(f"That request got no response ({chosen.error}); nothing to assert")
                whole = not chosen.cut_short
                return _codegen.to_test(
                    chosen.spec, chosen.response, base_url, self.base_url_code, whole_body=whole
                )
            spec = chosen.spec
        else:
            spec = self.request_spec()
        if spec.method == "WS":
            raise ExplorerError("copy_as is for HTTP requests; this is a WebSocket route")
        if kind == "curl":
            return _codegen.to_curl(spec, base_url)
        return _codegen.to_httpx(spec, base_url, self.base_url_code)

    def _safe_base_url(self) -> str:
        try:
            return self.base_url
        except RuntimeError as error:
            raise ExplorerError(str(error)) from None

    # --- websockets ---------------------------------------------------------------------------

    def ws_connect(self) -> str | None:
        """Open the selected WebSocket route with the form's path/query values, headers and auth.

        Returns the error (also in `ws.log`); raises RuntimeError while the server is stopped.
        """
        op = self.operation
        if op is None or not op.is_websocket:
            raise ExplorerError("Select a WebSocket route first, e.g. ex.select('WS', '/ws')")
        spec = self.request_spec()
        url = httpx.URL(spec.url(self.base_url), params=spec.params or None)
        ws_url = str(url.copy_with(scheme="wss" if url.scheme == "https" else "ws"))
        headers = dict(spec.headers)
        if spec.basic_auth:
            headers["Authorization"] = basic_header(*spec.basic_auth)
        if spec.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in spec.cookies.items())
        return self.ws.connect(ws_url, headers, self.timeout)

    def close(self) -> None:
        """Close the WebSocket and the HTTP client."""
        self.ws.close()
        self.sender.close()


class HeaderEditor(MutableMapping[str, str]):
    """Extra headers as a mapping, stored as `Name: value` lines in `owner.<name>` (text)."""

    def __init__(self, owner: Any, name: str = "value") -> None:
        self._owner, self._name = owner, name

    def _parse(self) -> dict[str, str]:
        headers = {}
        for line in getattr(self._owner, self._name).splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip():
                headers[name.strip()] = value.strip()
        return headers

    def replace(self, headers: dict[str, str]) -> None:
        setattr(self._owner, self._name, "\n".join(f"{name}: {value}" for name, value in headers.items()))

    def __getitem__(self, name: str) -> str:
        return self._parse()[name]

    def __setitem__(self, name: str, value: str) -> None:
        self.replace({**self._parse(), name: value})

    def __delitem__(self, name: str) -> None:
        headers = self._parse()
        del headers[name]
        self.replace(headers)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parse())

    def __len__(self) -> int:
        return len(self._parse())

    def __repr__(self) -> str:
        return f"HeaderEditor({self._parse()!r})"


def _ignore(_entry: LogEntry) -> None:
    pass


def _method(method: str) -> str:
    upper = method.strip().upper()
    return "WS" if upper in ("WEBSOCKET", "WSS") else upper


def _sort_key(op: Operation) -> tuple[str, str, int]:
    order = ("GET", "POST", "PUT", "PATCH", "DELETE", "WS")
    rank = order.index(op.method) if op.method in order else len(order)
    return (op.tag, op.path, rank)


def _fill_path(template: str, form: Form) -> str:
    path = template
    for item in form.inputs:
        if item.param.location != "path":
            continue
        values = item.request_values()
        path = path.replace("{" + item.param.name + "}", quote(values[0], safe="") if values else "")
    return path


def _apply_body(spec: RequestSpec, form: Form) -> None:
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
    if not form.has_body or not text.strip():
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
