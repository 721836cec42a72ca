"""The one object holding the extension's state for a kernel."""

from __future__ import annotations

import os
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

from ._gateway import Gateway, Served, build_stack
from ._hotreload import HotReloader, warn
from ._lifespan import LifespanError
from ._requestlog import LogCapture, RequestLog
from ._server import PORT_ENV, ServerError, ServerThread

Listener = Callable[[], None]
LIFESPAN_TIMEOUT = 30.0


class Session:
    current: ClassVar[Session | None] = None
    last_port: ClassVar[int | None] = None  # survives %reload_ext, which re-imports only __init__

    def __init__(self, shell: Any, app_name: str = "app") -> None:
        self.shell = shell
        self.gateway = Gateway(app_name)
        self.request_log = RequestLog()
        self.reloader = HotReloader(shell.user_ns)
        self.server: ServerThread | None = None
        self.host = "127.0.0.1"
        self.last_reload: float | None = None
        self.last_error: str | None = None
        self._capture = LogCapture(self.request_log)
        self._listeners: list[Listener] = []

    # --- lifecycle ----------------------------------------------------------------------------

    def open(self) -> None:
        self._capture.install()
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)
        Session.current = self

    def close(self) -> None:
        self.stop()
        self.shell.events.unregister("post_run_cell", self.post_run_cell)
        self.shell.events.unregister("pre_run_cell", self.pre_run_cell)
        self._capture.uninstall()
        if Session.current is self:
            Session.current = None

    def start(self, port: int | None = None, host: str | None = None) -> None:
        """Start serving; raises ServerError with a one-line reason when it can't."""
        if self.server is not None and self.server.running:
            raise ServerError(f"The server is already running at {self.base_url}; %api stop first.")
        if host is not None:
            self.host = host
        if self.host in ("0.0.0.0", "::"):
            warnings.warn(
                f"kernel_ext is listening on {self.host}: every machine that can reach this one "
                "can call your API.",
                stacklevel=2,
            )
        if port is None and not os.environ.get(PORT_ENV) and Session.last_port is not None:
            port = _free_or_none(self.host, Session.last_port)
        server = ServerThread(self.gateway, host=self.host, port=port)
        server.start()
        self.server = server
        Session.last_port = server.port
        self.last_error = None
        self._sync_app(force=True)

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is None:
            return
        served = self.gateway.current
        if served is not None and server.running:
            try:
                server.call(served.lifespan.shutdown(), timeout=LIFESPAN_TIMEOUT)
            except Exception as exc:
                self._report(f"the app's lifespan shutdown failed: {exc}")
        self.gateway.current = None
        server.stop()

    def restart(self) -> None:
        port = self.port
        self.stop()
        self.start(port=port)

    @property
    def running(self) -> bool:
        return self.server is not None and self.server.running

    @property
    def port(self) -> int | None:
        return self.server.port if self.server is not None else None

    @property
    def base_url(self) -> str:
        if self.server is None or self.server.port is None:
            raise RuntimeError("The kernel_ext server is not running; %api start starts it.")
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.server.port}"

    @property
    def public_url(self) -> str:
        """The URL a browser should use: through jupyter-server-proxy when that is present."""
        try:
            from ._proxy import public_url
        except ImportError:
            return self.base_url
        assert self.port is not None
        return public_url(self.port) or self.base_url

    # --- the served app -----------------------------------------------------------------------

    @property
    def app_name(self) -> str:
        return self.gateway.app_name

    def served_app(self) -> Any | None:
        served = self.gateway.current
        return served.app if served is not None else None

    def serve(self, name: str) -> None:
        """Serve the object bound to `name` in the notebook instead of `app`."""
        self.gateway.app_name = name
        self._sync_app(force=True)
        self._notify()

    def _sync_app(self, force: bool = False) -> bool:
        """Serve whatever the app name is bound to now. True if that changed."""
        candidate = self.shell.user_ns.get(self.app_name)
        if candidate is not None and not callable(candidate):
            candidate = None
        served = self.gateway.current
        if not force and (served.app if served else None) is candidate:
            return False
        if served is not None and served.app is candidate:
            return False
        if self.server is None or not self.server.running:
            self.reloader.attach(candidate)
            return True
        new = Served(candidate, build_stack(candidate)) if candidate is not None else None
        if new is not None and hasattr(candidate, "router"):
            try:
                self.server.call(new.lifespan.startup(), timeout=LIFESPAN_TIMEOUT)
            except (LifespanError, TimeoutError) as exc:
                self._report(
                    f"the new {self.app_name}'s lifespan failed at startup ({exc}); "
                    "the previous app keeps serving."
                )
                return False
        self.gateway.current = new
        self.reloader.attach(candidate)
        if served is not None:
            try:
                self.server.call(served.lifespan.shutdown(), timeout=LIFESPAN_TIMEOUT)
            except Exception as exc:
                self._report(f"the previous app's lifespan shutdown failed: {exc}")
        return True

    # --- listeners ----------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception as exc:
                self._report(f"a listener failed: {type(exc).__name__}: {exc}")

    # --- IPython hooks: they never raise into the user's cell ---------------------------------

    def pre_run_cell(self, info: Any = None) -> None:
        try:
            self.reloader.before_cell()
        except Exception:
            self._report_bug("before the cell")

    def post_run_cell(self, result: Any) -> None:
        try:
            swapped = self._sync_app()
            info = getattr(result, "info", None)
            changes = self.reloader.after_cell(
                cell_id=getattr(info, "cell_id", None),
                succeeded=bool(getattr(result, "success", True)),
                count=getattr(result, "execution_count", None),
            )
            if changes.middleware:
                self.gateway.rebuild_stack()
            for message in changes.warnings:
                warn(message)
            if swapped or changes.any:
                self.last_reload = time.time()
                self._notify()
        except Exception:
            self._report_bug("after the cell")

    def _report(self, message: str) -> None:
        self.last_error = message
        warn(message)

    def _report_bug(self, where: str) -> None:
        # Our own failure: one visible line in the cell, the details in the request log.
        self.request_log.write(f"kernel_ext internal error {where}:\n{traceback.format_exc()}")
        self._report(f"hot reload failed {where}; details in %api log. The app keeps serving.")


def current_session() -> Session | None:
    return Session.current


def _free_or_none(host: str, port: int) -> int | None:
    from ._server import bind

    try:
        bind(host, port).close()
    except OSError:
        return None
    return port
