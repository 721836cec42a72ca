"""What the notebook shows: the status card and the route table (HTML, and text elsewhere)."""

from __future__ import annotations

import html
import inspect
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from . import _compat as private


@dataclass
class RouteRow:
    methods: str
    path: str
    endpoint: str
    cell: str
    request_model: str
    response_model: str
    dependencies: str


def operations(app: Any) -> list[tuple[BaseRoute, str]]:
    """The routes a user defined (docs and openapi routes left out), with their served paths."""
    if app is None or not hasattr(app, "router"):
        return []
    found = []
    for route, path in private.iter_effective_routes(app.router.routes):
        if isinstance(route, (Route, WebSocketRoute)) and not getattr(route, "include_in_schema", True):
            continue
        found.append((route, path))
    return found


def count_routes(app: Any) -> int:
    return len(operations(app))


CellOf = Callable[[Any], "int | None"]
_QUALIFIED = re.compile(r"\b(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*)")


def type_name(annotation: Any) -> str:
    """`Item`, `list[Item]`, `Optional[str]`: module prefixes left out."""
    if annotation is None:
        return ""
    if isinstance(annotation, type) and not getattr(annotation, "__args__", None):
        return annotation.__name__
    return _QUALIFIED.sub(r"\1", repr(annotation))


def _call_name(call: Any) -> str:
    # Depends(get_db) names a function or class; Security(OAuth2PasswordBearer(...)) an instance.
    return getattr(call, "__name__", None) or type(call).__name__


def cell_finder(shell: Any, defined_in: dict[str, int | None]) -> CellOf:
    """The execution count of the cell that defined an object: exact for functions (their code
    names the cell that compiled them, so redefinitions and same-named endpoints on different
    routers are told apart), else the cell that last bound a notebook name to that object."""
    names = {id(v): n for n, v in getattr(shell, "user_ns", {}).items() if not n.startswith("_")}

    def cell_of(obj: Any) -> int | None:
        code = getattr(inspect.unwrap(obj), "__code__", None) if callable(obj) else None
        number = private.cell_number(shell, code) if code is not None else None
        if number is not None:
            return number
        name = names.get(id(obj))
        return defined_in.get(name) if name is not None else None

    return cell_of


def route_rows(app: Any, cell_of: CellOf) -> list[RouteRow]:
    return [_row(route, path, cell_of) for route, path in operations(app)]


def _row(route: BaseRoute, path: str, cell_of: CellOf) -> RouteRow:
    target = getattr(route, "endpoint", None) or getattr(route, "app", None)
    name = getattr(target, "__name__", None) or type(target if target is not None else route).__name__
    cell = cell_of(target) if target is not None else None
    request_model = response_model = deps = ""
    if isinstance(route, (APIRoute, APIWebSocketRoute)):
        body = [(p.name, type_name(p.annotation)) for p in private.body_params(route)]
        # One body parameter is the model; several (or form fields) need their names.
        request_model = ", ".join(kind if len(body) == 1 else f"{name}: {kind}" for name, kind in body)
        deps = ", ".join(_call_name(d.call) for d in private.dependencies(route) if d.call is not None)
    if isinstance(route, APIRoute):
        response_model = type_name(route.response_model)
    if isinstance(route, (APIWebSocketRoute, WebSocketRoute)):
        methods = "WS"
    elif isinstance(route, Mount):
        methods = "MOUNT"
    else:
        methods = ",".join(sorted(getattr(route, "methods", None) or []))
    return RouteRow(methods, path, name, f"[{cell}]" if cell else "", request_model, response_model, deps)


def stale_models(app: Any, namespace: dict[str, Any]) -> list[str]:
    """Routes still validating with a class the notebook has since redefined."""
    found = []
    for route, path in operations(app):
        for model in _models(route):
            current = namespace.get(model.__name__)
            if isinstance(current, type) and current is not model and current.__module__ == model.__module__:
                found.append(
                    f"{path} still uses the old {model.__name__}; re-run the cell that defines the route."
                )
    return list(dict.fromkeys(found))


def _models(route: BaseRoute) -> list[type]:
    if not isinstance(route, (APIRoute, APIWebSocketRoute)):
        return []
    annotations = [p.annotation for p in private.body_params(route)]
    if isinstance(route, APIRoute):
        annotations.append(route.response_model)
    found: list[type] = []
    for annotation in annotations:
        found += _classes_in(annotation)
    return found


def _classes_in(annotation: Any) -> list[type]:
    if isinstance(annotation, type) and not getattr(annotation, "__args__", None):
        return [annotation]
    return [c for arg in getattr(annotation, "__args__", ()) for c in _classes_in(arg)]


class RouteTable:
    headers = ("method", "path", "endpoint", "cell", "request", "response", "dependencies")

    def __init__(self, rows: list[RouteRow], warnings: list[str] | None = None) -> None:
        self.rows = rows
        self.warnings = warnings or []

    def _cells(self) -> list[tuple[str, ...]]:
        return [tuple(vars(r).values()) for r in self.rows]

    def __repr__(self) -> str:
        cells = [self.headers, *self._cells()]
        widths = [max(len(str(row[i])) for row in cells) for i in range(len(self.headers))]
        lines = [
            "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
        ]
        if not self.rows:
            lines.append("(no routes yet)")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{h}</th>" for h in self.headers)
        body = "".join(
            "<tr>" + "".join(f"<td><code>{html.escape(str(v))}</code></td>" for v in row) + "</tr>"
            for row in self._cells()
        )
        notes = "".join(f"<div style='color:#b45309'>⚠ {html.escape(w)}</div>" for w in self.warnings)
        return f"<table class='kernel-ext-routes'><tr>{head}</tr>{body}</table>{notes}"


class StatusCard:
    """Rendered when displayed, so re-displaying shows the current state."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def _facts(self) -> dict[str, str]:
        s = self.session
        facts = {"state": "running" if s.running else "stopped"}
        # Stopped, nothing is served: tell about the app that `start` would serve.
        app = s.served_app() if s.running else s.shell.user_ns.get(s.app_name)
        if s.running:
            facts["url"] = s.public_url
            docs = docs_path(app) if app is not None else "/docs"  # where they will be
            if docs:
                facts["docs"] = s.public_url.rstrip("/") + docs
        facts["app"] = s.app_name if app is not None else f"none yet (define {s.app_name} = FastAPI())"
        facts["routes"] = str(count_routes(app))
        if s.last_reload:
            facts["last reload"] = time.strftime("%H:%M:%S", time.localtime(s.last_reload))
        if s.last_error:
            facts["last error"] = s.last_error
        watch = getattr(s, "watch", None)
        if watch is not None:
            facts["watching"] = ", ".join(watch.paths) + ("" if watch.running else " (stopped: see %api log)")
        return facts

    def __repr__(self) -> str:
        return "kernel_ext " + " | ".join(f"{k}: {v}" for k, v in self._facts().items())

    def _repr_html_(self) -> str:
        facts = self._facts()
        rows = []
        for key, value in facts.items():
            shown = html.escape(value)
            if key in ("url", "docs"):
                # The address as plain text too: where the link cannot open (VS Code on a remote
                # machine before the port is forwarded, a webview), it can still be copied.
                shown = f"<code>{shown}</code> <a href='{shown}' target='_blank'>open</a>"
            rows.append(f"<tr><th style='text-align:left;padding-right:1em'>{key}</th><td>{shown}</td></tr>")
        colour = "#16a34a" if self.session.running else "#dc2626"
        return (
            f"<div class='kernel-ext-status' style='border-left:4px solid {colour};padding:4px 8px'>"
            f"<b>kernel_ext</b><table>{''.join(rows)}</table></div>"
        )


def docs_path(app: Any) -> str | None:
    """Where the app serves Swagger UI: `docs_url=None`, or `openapi_url=None`, turns it off."""
    if app is None or not getattr(app, "openapi_url", None):
        return None
    return getattr(app, "docs_url", None)


class DocsView:
    """Swagger UI inline (an IFrame) with a link to open it in its own tab; the URL as text."""

    def __init__(self, url: str, height: int = 600) -> None:
        self.url = url
        self.height = height

    def __repr__(self) -> str:
        return f"Swagger UI: {self.url}"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        from ._serving._proxy import colab_target

        target = colab_target(self.url)
        if target is None:
            display({"text/plain": repr(self), "text/html": self._repr_html_()}, raw=True)
            return
        # In Colab an output frame reaches a kernel port only through the proxy, with Colab's
        # own helper: it resolves the proxied URL in the browser.
        from google.colab.output import serve_kernel_port_as_iframe

        url = html.escape(self.url, quote=True)
        link = f"<div><a href='{url}' target='_blank'>{url}</a> (opens in a new tab)</div>"
        display({"text/plain": repr(self), "text/html": link}, raw=True)
        port, path = target
        serve_kernel_port_as_iframe(port, path=path, height=str(self.height))

    def _repr_html_(self) -> str:
        from IPython.display import IFrame

        url = html.escape(self.url, quote=True)
        frame = IFrame(self.url, width="100%", height=self.height)._repr_html_()
        return f"<div><a href='{url}' target='_blank'>{url}</a> (opens in a new tab)</div>{frame}"
