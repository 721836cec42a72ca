"""What the notebook shows: the status card and the route table (HTML, and text elsewhere)."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from . import _fastapi_private as private


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


def _type_name(annotation: Any) -> str:
    if annotation is None:
        return ""
    return getattr(annotation, "__name__", None) or repr(annotation).replace("typing.", "")


def route_rows(app: Any, defined_in: dict[str, int | None]) -> list[RouteRow]:
    rows = []
    for route, path in operations(app):
        endpoint = getattr(route, "endpoint", None)
        name = getattr(endpoint, "__name__", type(route).__name__)
        cell = defined_in.get(name)
        request_model = response_model = deps = ""
        if isinstance(route, (APIRoute, APIWebSocketRoute)):
            dependant = route.dependant
            request_model = ", ".join(
                _type_name(getattr(p.field_info, "annotation", None)) for p in dependant.body_params
            )
            deps = ", ".join(
                getattr(d.call, "__name__", repr(d.call)) for d in dependant.dependencies if d.call
            )
        if isinstance(route, APIRoute):
            response_model = _type_name(route.response_model)
        if isinstance(route, (APIWebSocketRoute, WebSocketRoute)):
            methods = "WS"
        elif isinstance(route, Mount):
            methods = "MOUNT"
        else:
            methods = ",".join(sorted(getattr(route, "methods", None) or []))
        rows.append(
            RouteRow(methods, path, name, f"[{cell}]" if cell else "", request_model, response_model, deps)
        )
    return rows


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
        if s.running:
            facts["url"] = s.public_url
            facts["docs"] = s.public_url.rstrip("/") + "/docs"
        app = s.served_app()
        facts["app"] = s.app_name if app is not None else f"none yet (define {s.app_name} = FastAPI())"
        facts["routes"] = str(count_routes(app))
        if s.last_reload:
            facts["last reload"] = time.strftime("%H:%M:%S", time.localtime(s.last_reload))
        if s.last_error:
            facts["last error"] = s.last_error
        return facts

    def __repr__(self) -> str:
        return "kernel_ext " + " | ".join(f"{k}: {v}" for k, v in self._facts().items())

    def _repr_html_(self) -> str:
        facts = self._facts()
        rows = []
        for key, value in facts.items():
            shown = html.escape(value)
            if key in ("url", "docs"):
                shown = f"<a href='{shown}' target='_blank'>{shown}</a>"
            rows.append(f"<tr><th style='text-align:left;padding-right:1em'>{key}</th><td>{shown}</td></tr>")
        colour = "#16a34a" if self.session.running else "#dc2626"
        return (
            f"<div class='kernel-ext-status' style='border-left:4px solid {colour};padding:4px 8px'>"
            f"<b>kernel_ext</b><table>{''.join(rows)}</table></div>"
        )
