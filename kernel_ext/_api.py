"""The plain Python functions behind `%api`: notebooks and tests call them directly."""

from __future__ import annotations

from typing import Any

from ._display import RouteTable, StatusCard, route_rows
from ._session import Session, current_session


def session() -> Session:
    found = current_session()
    if found is None:
        raise RuntimeError("kernel_ext is not loaded; run %load_ext kernel_ext first.")
    return found


def base_url() -> str:
    """The in-kernel server's URL, e.g. http://127.0.0.1:8000, for code in cells."""
    return session().base_url


def status() -> StatusCard:
    return StatusCard(session())


def routes() -> RouteTable:
    s = session()
    rows = route_rows(s.served_app(), s.reloader.defined_in)
    return RouteTable(rows, s.reloader.stale_warnings())


def start(port: int | None = None, host: str | None = None) -> StatusCard:
    session().start(port=port, host=host)
    return status()


def stop() -> StatusCard:
    session().stop()
    return status()


def restart() -> StatusCard:
    session().restart()
    return status()


def serve(name: str) -> StatusCard:
    session().serve(name)
    return status()


def log(last: int | None = None) -> Any:
    """The request log as a live output area (a widget), or its text outside widget frontends."""
    from ._livelog import LiveLog

    return LiveLog(session().request_log, last=last)


def docs(height: int = 600) -> Any:
    """Swagger UI for the live app, inline, with a link to open it in its own tab."""
    from IPython.display import HTML

    url = session().public_url.rstrip("/") + "/docs"
    return HTML(
        f"<a href='{url}' target='_blank'>{url}</a><br>"
        f"<iframe src='{url}' width='100%' height='{height}' style='border:1px solid #ddd'></iframe>"
    )


def explore() -> Any:
    """The request explorer for the served app (see kernel_ext._explorer)."""
    from ._explorer import explore as build

    return build(session())


def export(directory: str, force: bool = False) -> Any:
    """Write the cells that built the app, as run in this kernel, as a deployable package."""
    from ._export import export_session

    return export_session(session(), directory, force=force)
