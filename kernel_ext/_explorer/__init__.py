"""The widget request explorer: probe every live endpoint from the notebook.

`ExplorerModel` (`_model.py`: operations, inputs, sending, history; no widgets) and `Explorer`
(`_view.py`: the widgets that show it, each action also a method).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import ExplorerError
from ._model import ExplorerModel, HeaderEditor

if TYPE_CHECKING:
    from ._view import Explorer

__all__ = ["Explorer", "ExplorerError", "ExplorerModel", "HeaderEditor", "explore"]

_BASE_URL_CODE = "kernel_ext.base_url()"


def explore(session: Any = None) -> Explorer:
    """The explorer for the current kernel_ext session's served app.

    One explorer per session: calling this again returns (and re-displays) the same one,
    with what was typed in it. It refreshes itself after each cell that changes the routes.
    """
    if session is None:
        from .._session import current_session

        session = current_session()
    if session is None:
        raise ExplorerError("kernel_ext is not loaded: run %load_ext kernel_ext first")
    existing = session.explorer  # the session holds it, as all per-kernel state
    if existing is not None and not existing.closed:
        existing.refresh()
        return existing
    from ._view import Explorer

    explorer = Explorer(
        lambda: _app_of(session),
        lambda: session.base_url,
        base_url_code=_BASE_URL_CODE,
        notice=lambda: _server_notice(session),
        app_name=lambda: session.app_name,
        cell_count=lambda: session.shell.execution_count - 1,  # the cell running, or the last
    )
    explorer.attach(session)
    session.explorer = explorer
    return explorer


def __getattr__(name: str) -> Any:
    # The widgets are imported when first asked for, so the model runs without ipywidgets.
    if name == "Explorer":
        from ._view import Explorer

        return Explorer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _app_of(session: Any) -> Any:
    # While the server is stopped, the app it would serve: its inputs can be filled in already.
    if session.running:
        return session.served_app()
    return session._candidate()


def _server_notice(session: Any) -> str:
    if session.running:
        return ""
    return "The kernel_ext server is stopped: %api start (or kernel_ext.start()) starts it again."
