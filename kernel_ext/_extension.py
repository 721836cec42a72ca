"""`%load_ext kernel_ext` glue: load registers everything, unload mirrors it exactly."""

from __future__ import annotations

import atexit
import os
import sys
from typing import Any

from IPython.display import display

from . import _compat
from ._display import StatusCard
from ._magics import ApiMagics
from ._serving._server import ServerError
from ._session import Session

# Set in the fresh run of `%api check`: load the hooks, start no server, show no card.
NO_SERVER_ENV = "KERNEL_EXT_NO_SERVER"


def load_ipython_extension(ipython: Any) -> None:
    if Session.current is not None:  # loaded already: harmless, show where it is
        display(StatusCard(Session.current))
        return
    session = Session(ipython)
    session.open()
    ipython.register_magics(ApiMagics)
    atexit.register(session.stop)
    if os.environ.get(NO_SERVER_ENV, "").strip() not in ("", "0"):
        return  # `%api check`'s fresh run: the hooks build the app, nothing serves it
    sock, Session.handover = Session.handover, None
    try:
        session.start(sock=sock)
    except ServerError as exc:
        # The extension stays loaded so `%api start --port N` can try again.
        session.last_error = str(exc)
        print(f"kernel_ext: {exc}", file=sys.stderr)
    display(StatusCard(session))


def unload_ipython_extension(ipython: Any) -> None:
    session = Session.current
    if session is None:
        return
    atexit.unregister(session.stop)
    _compat.unregister_magics(ipython, ApiMagics.__name__, {"line": ("api",), "cell": ("http",)})
    # %reload_ext: the port stays bound for the new instance.
    session.close(keep_socket=_compat.reloading_extension())
