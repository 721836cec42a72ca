"""The plain Python functions behind `%api`: notebooks and tests call them directly."""

from __future__ import annotations

from typing import Any

from ._changes._contractdiff import ContractDiff
from ._changes._coverage import Coverage
from ._display import DocsView, RouteTable, StatusCard, cell_finder, docs_path, route_rows, stale_models
from ._serving._server import ServerError
from ._session import Session, current_session, is_asgi_app


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
    """The served app's routes: `.rows` (RouteRow: methods, path, endpoint, cell, ...), `.warnings`."""
    s = session()
    app = s.served_app() if s.running else s._candidate()  # stopped: what would be served
    rows = route_rows(app, cell_finder(s.shell, s.reloader.defined_in))
    warnings = [*s.reloader.stale_warnings(), *stale_models(app, s.shell.user_ns)]
    return RouteTable(rows, list(dict.fromkeys(warnings)))


def start(port: int | None = None, host: str | None = None) -> StatusCard:
    s = session()
    try:
        s.start(port=port, host=host)
    except ServerError as exc:
        if not s.running:  # the status card shows why it is stopped
            s.last_error = str(exc)
        raise
    return status()


def stop() -> StatusCard:
    session().stop()
    return status()


def restart() -> StatusCard:
    session().restart()
    return status()


def serve(name: str) -> StatusCard:
    """Serve the ASGI app bound to `name` in the notebook (a FastAPI object) instead of `app`."""
    s = session()
    if not name.isidentifier():
        raise ValueError(f"serve needs the name of a notebook variable, got {name!r}")
    value = s.shell.user_ns.get(name)
    if value is None:
        raise ValueError(f"there is no {name!r} in the notebook; define {name} = FastAPI() first")
    if not is_asgi_app(value):
        kind = "class" if isinstance(value, type) else type(value).__name__
        raise ValueError(f"{name} is not an app such as FastAPI() (it is a {kind})")
    s.serve(name)
    return status()


def log(last: int | None = None) -> Any:
    """The request log as a live output area (a widget), or its text outside widget frontends."""
    from ._serving._livelog import LiveLog

    s = session()
    if s.live_log is not None:  # one widget and one sink per session, however often shown
        s.live_log.close()
    s.live_log = LiveLog(s.request_log, last=last)
    return s.live_log


def docs(height: int = 600) -> DocsView:
    """Swagger UI for the live app, inline, with a link to open it in its own tab.

    The URL is the one a browser reaches: through jupyter-server-proxy when that is present.
    """
    s = session()
    app = s.served_app()
    if not s.running:
        raise RuntimeError("the server is stopped; %api start starts it.")
    if app is None:
        raise RuntimeError(f"no app is served yet; define {s.app_name} = FastAPI() first.")
    path = docs_path(app)
    if not path:
        raise ValueError(
            f"{s.app_name} has no docs page (it was created with docs_url=None or openapi_url=None)."
        )
    return DocsView(s.public_url.rstrip("/") + path, height)


def explore() -> Any:
    """The request explorer for the served app (see kernel_ext._explorer)."""
    from ._explorer import explore as build

    return build(session())


def check(strict: bool = False) -> Any:
    """Run the notebook's current cells again in a fresh process and compare that app with the
    live one: truthy when they match; strict=True raises on a difference (for nbmake)."""
    from ._check import check_session

    return check_session(session(), strict=strict)


def export(directory: str, force: bool = False) -> Any:
    """Write the cells that built the app, as run in this kernel, as a deployable package."""
    from ._export import export_session

    return export_session(session(), directory, force=force)


def last_diff() -> ContractDiff | None:
    """What the last cell that changed the API did to its contract (None before any change).

    `.changes` lists each change (`.operation`, `.kind`, `.where`, `.detail`, `.breaking`);
    `.breaking`, `.added` and `.removed` are views of it.
    """
    return session().contract.last


def diff_switch(state: str | None) -> Any:
    """`%api diff on|off`; without a state, the last diff."""
    s = session()
    if state is None:
        return s.contract.last if s.contract.last is not None else "No API change yet."
    if state not in ("on", "off"):
        raise ValueError(f"%api diff takes on or off, not {state!r}")
    s.contract.set_enabled(state == "on")
    return f"Contract diffs under cells are {state}."


def forget(cell: str | int) -> None:
    """Drop what a cell registered (routes, middleware, handlers), as deleting it in JupyterLab
    does. For front ends that don't say when a cell is deleted (VS Code). `cell`: In [N], N or
    a cell id."""
    s = session()
    run = s.cells.find(str(cell))
    if run is None:
        raise ValueError(f"no cell {cell!r} has run in this kernel; give In [N], N or a cell id.")
    if run.cell_id is None:
        raise ValueError(
            f"{run.label} ran without a cell id (nbclient, a console), so what it registered "
            "can't be told apart; re-run the cells that should serve, or restart the kernel."
        )
    s.forget_cells([run.cell_id])
    print(f"kernel_ext: {run.label} is forgotten; what it registered no longer serves.")


def reload(*modules: str, recursive: bool = False) -> None:
    """Reload modules of the notebook's own (`"shop.items"`) and apply what they redefine to the
    live app, as re-run cells would be; `recursive=True` reloads their submodules too. A module
    that doesn't compile or raises keeps its previous version serving (ReloadError, one line)."""
    from ._reload._modules import ReloadError

    if not modules:
        raise ValueError("name the modules to reload, e.g. kernel_ext.reload('shop.items')")
    s = session()
    try:
        s.modules.reload(modules, recursive=recursive)
    except ReloadError as exc:
        s.request_log.write(f"kernel_ext: {exc}")
        s.last_error = str(exc)
        raise


def watch(*paths: str, off: bool = False) -> str:
    """Reload the notebook's modules when their files under `paths` (default: the working
    directory) are saved, while the kernel is idle; `off=True` stops watching."""
    import os

    from ._reload._watch import FileWatch

    s = session()
    if s.watch is not None:
        s.watch.stop()
        s.watch = None
    if off:
        s._notify()
        return "kernel_ext: not watching files."
    s.watch = FileWatch(s, paths or [os.getcwd()])
    s._notify()
    return f"kernel_ext: watching {', '.join(s.watch.paths)}; %api watch off stops."


def coverage(fail_under: float | None = None) -> Coverage:
    """Every operation of the served app with the requests that reached it this session.

    `.percent` is the share of operations hit at least once; each operation lists its hit
    count, the statuses seen and the documented responses never seen. With `fail_under`,
    raises CoverageError (an AssertionError) when `.percent` is below it.
    """
    from ._changes._coverage import coverage as measure

    s = session()
    report = measure(s.current_app(), s.request_log.hits.snapshot())
    return report.fail_under(fail_under) if fail_under is not None else report
