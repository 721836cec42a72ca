"""The one object holding the extension's state for a kernel."""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

from starlette.applications import Starlette

from ._changes._contract import ContractWatch
from ._compat import build_stack
from ._http._memory import HttpMemory
from ._reload._boundnames import NameWatch
from ._reload._hotreload import HotReloader, warn
from ._reload._modules import ModuleWatch
from ._reload._notebook import CellRun, NotebookCells, deleted_cells
from ._serving._gateway import Gateway, Served
from ._serving._hostcheck import HostPolicy
from ._serving._lifespan import Lifespan, LifespanError
from ._serving._requestlog import LogCapture, RequestLog
from ._serving._server import PORT_ENV, ServerError, ServerThread

Listener = Callable[[], None]
LIFESPAN_TIMEOUT = 30.0
SERVING_SWITCH_INTERVAL = 0.001  # seconds


class Session:
    current: ClassVar[Session | None] = None
    # Class attributes survive %reload_ext, which re-imports only the package's __init__.
    last_port: ClassVar[int | None] = None
    handover: ClassVar[socket.socket | None] = None  # the listening socket, kept across a reload

    def __init__(self, shell: Any, app_name: str = "app") -> None:
        self.shell = shell
        self.gateway = Gateway(app_name)
        self.request_log = RequestLog()
        self.gateway.record_access = self.request_log.access
        self.reloader = HotReloader(shell.user_ns)
        self.name_watch = NameWatch(self.reloader.note_cell)
        self.modules = ModuleWatch(self)  # reloaded modules, settled like re-run cells
        self.watch: Any | None = None  # `%api watch`: a FileWatch while on
        self.server: ServerThread | None = None
        self.host = "127.0.0.1"
        self.last_reload: float | None = None
        self.last_error: str | None = None
        self._capture = LogCapture(self.request_log)
        self._listeners: list[Listener] = []
        self._refused: Any | None = None
        self.live_log: Any | None = None  # the `%api log` widget, if shown
        self.explorer: Any | None = None  # `%api explore`: one Explorer per session
        self.cell_runs: dict[int, tuple[str | None, bool]] = {}  # count -> (cell id, succeeded)
        self.cells = NotebookCells()  # each cell's latest source: what a fresh run would run
        self.http = HttpMemory()  # `%%http`: named responses and variables for later cells
        self._public_url: tuple[int, str] | None = None
        self._switch_interval: float | None = None
        # The contract diff: noted by a listener, made once the cell's changes serve.
        self.contract = ContractWatch(
            self.current_app,
            lambda: self.shell.execution_count - 1,
            warn,
            in_cell=lambda: self.gateway.cell_running,
            log=self.request_log.write,
        )
        self.add_listener(self.contract.mark_changed)

    # --- lifecycle ----------------------------------------------------------------------------

    def open(self) -> None:
        self._capture.install()
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)
        self.shell.events.register("post_run_cell", self.contract.after_cell)  # after ours
        self.contract.set_enabled(True)
        self.shell.ast_transformers.append(self.name_watch)
        self.shell.ast_transformers.append(self.modules)  # after %autoreload's pre_run_cell hook
        Session.current = self

    def close(self, *, keep_socket: bool = False) -> None:
        Session.handover = self.stop(keep_socket=keep_socket)
        if self.live_log is not None:
            self.live_log.close()
        if self.watch is not None:
            self.watch.stop()
        for transformer in (self.name_watch, self.modules):
            if transformer in self.shell.ast_transformers:
                self.shell.ast_transformers.remove(transformer)
        self.shell.events.unregister("post_run_cell", self.contract.after_cell)
        self.shell.events.unregister("post_run_cell", self.post_run_cell)
        self.shell.events.unregister("pre_run_cell", self.pre_run_cell)
        self._capture.uninstall()
        if Session.current is self:
            Session.current = None

    def start(
        self, port: int | None = None, host: str | None = None, *, sock: socket.socket | None = None
    ) -> None:
        """Start serving; raises ServerError with a one-line reason when it can't."""
        if self.server is not None and self.server.running:
            raise ServerError(f"The server is already running at {self.base_url}; %api stop first.")
        host = self.host if host is None else host.strip()
        any_port = os.environ.get(PORT_ENV, "").strip() in ("", "0")
        if sock is None and port is None and any_port and Session.last_port:  # keep the URL if free
            port = _free_or_none(host, Session.last_port)
        candidate = self._candidate()
        self._refused = None
        problems: list[str] = []

        async def serve_app_first() -> None:
            # Runs before the first request is accepted: no 503 while an app is defined.
            problem = await self._swap_to(candidate)
            if problem:
                problems.append(problem)

        self.gateway.host_policy = HostPolicy.for_server(host)
        server = ServerThread(self.gateway, host=host, port=port)
        server.start(before_serving=serve_app_first, sock=sock)
        self.server, self.host = server, host  # a host that failed to bind is not kept
        if host in ("0.0.0.0", "::"):
            warnings.warn(
                f"kernel_ext is listening on {host}: every machine that can reach this one "
                "can call your API.",
                stacklevel=2,
            )
        self._shorten_gil_switch()
        Session.last_port = server.port
        self.last_error = None
        self.reloader.attach(self.served_app() or candidate)
        for problem in problems:
            self._report(problem)
        self._notify()  # explorers and cards: the app is served again

    def stop(self, *, keep_socket: bool = False) -> socket.socket | None:
        """Stop serving (the app's lifespan shuts down first). keep_socket: see ServerThread.stop."""
        server, self.server = self.server, None
        if server is None:
            return None
        served = self.gateway.current
        if served is not None and server.running:
            try:
                server.call(served.lifespan.shutdown(), timeout=LIFESPAN_TIMEOUT)
            except Exception as exc:
                self._report(f"the app's lifespan shutdown failed: {exc}")
        kept = server.stop(keep_socket=keep_socket)
        self.gateway.current = None  # after the stop, so requests in flight never see a 503
        self._restore_gil_switch()
        self._notify()
        return kept

    def restart(self) -> None:
        """Stop and start again; the port stays bound throughout, so no connection is refused."""
        self.start(sock=self.stop(keep_socket=True))

    def _shorten_gil_switch(self) -> None:
        # A cell looping in Python holds the GIL; the server thread gets it back only every
        # switch interval, several times per request. 1 ms instead of 5 ms keeps a request
        # answered within tens of ms while a cell computes (bench: p99 under a busy cell).
        if self._switch_interval is None:
            self._switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(self._switch_interval, SERVING_SWITCH_INTERVAL))

    def _restore_gil_switch(self) -> None:
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None

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
        assert self.port is not None
        if self._public_url is None or self._public_url[0] != self.port:
            from ._serving._proxy import public_url  # looks for the Jupyter server once per port

            self._public_url = (self.port, public_url(self.port) or self.base_url)
        return self._public_url[1]

    # --- the served app -----------------------------------------------------------------------

    @property
    def app_name(self) -> str:
        return self.gateway.app_name

    def served_app(self) -> Any | None:
        served = self.gateway.current
        return served.app if served is not None else None

    def current_app(self) -> Any | None:
        """The app served, or while stopped the one `start` would serve."""
        return self.served_app() if self.running else self._candidate()

    def serve(self, name: str) -> None:
        """Serve the object bound to `name` in the notebook instead of `app`."""
        self.gateway.app_name = name
        self._sync_app()
        self._notify()

    def _candidate(self) -> Any | None:
        candidate = self.shell.user_ns.get(self.app_name)
        return candidate if is_asgi_app(candidate) else None

    def _sync_app(self) -> bool:
        """Serve whatever the app name is bound to now. True if that changed."""
        candidate = self._candidate()
        if candidate is self.served_app() or candidate is self._refused:
            return False
        if self.server is None or not self.server.running:
            self.reloader.attach(candidate)
            return True
        problem = self.server.call(self._swap_to(candidate), timeout=2 * LIFESPAN_TIMEOUT + 5)
        if problem:
            self._report(problem)
        if self.served_app() is not candidate:
            self._refused = candidate  # its startup failed: not again until `app` is rebound
            return False
        self.reloader.attach(candidate)
        return True

    async def _swap_to(self, candidate: Any | None) -> str | None:
        """On the server's loop: start the new app's lifespan, switch, shut the old one down.

        Returns a problem to report, or None. A new app whose startup fails is not served.
        """
        old = self.gateway.current
        new = Served(candidate, build_stack(candidate)) if candidate is not None else None
        if new is not None and hasattr(candidate, "router"):
            try:
                await asyncio.wait_for(new.lifespan.startup(), LIFESPAN_TIMEOUT)
            except (LifespanError, TimeoutError) as exc:
                keeps = "the previous app keeps serving" if old else "nothing is served"
                return f"the new {self.app_name}'s lifespan failed at startup ({exc}); {keeps}."
        self.gateway.current = new
        if old is not None:
            try:
                await asyncio.wait_for(old.lifespan.shutdown(), LIFESPAN_TIMEOUT)
            except Exception as exc:
                return f"the previous app's lifespan shutdown failed: {exc}"
        return None

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
        self.gateway.cell_running = True
        try:
            for transformer in (self.name_watch, self.modules):  # someone cleared the list
                if transformer not in self.shell.ast_transformers:
                    self.shell.ast_transformers.append(transformer)
            deleted = deleted_cells(self.shell)
            if deleted:
                self.forget_cells(deleted)
            self.reloader.before_cell()
        except Exception:
            self._report_bug("before the cell")

    def forget_cells(self, cell_ids: list[str]) -> list[CellRun]:
        """Drop what deleted cells registered, as if each had been run again empty."""
        changes = self.reloader.forget_cells(cell_ids)
        forgotten = self.cells.forget(cell_ids)
        if changes.middleware:
            self.gateway.rebuild_stack()
        if changes.any:
            self.last_reload = time.time()
            self._notify()
        return forgotten

    def post_run_cell(self, result: Any) -> None:
        try:
            self.modules.settle_quietly()  # importlib.reload in the cell: the module's, not the cell's
            swapped = self._sync_app()
            info = getattr(result, "info", None)
            cell_id = getattr(info, "cell_id", None)
            succeeded = bool(getattr(result, "success", True))
            count = getattr(result, "execution_count", None)
            if count is not None:
                self.cell_runs[count] = (cell_id, succeeded)  # what `%api export` skips
            source = getattr(info, "raw_cell", None)
            if isinstance(source, str):
                self.cells.record(CellRun(cell_id, source, count, succeeded))
            changes = self.reloader.after_cell(cell_id=cell_id, succeeded=succeeded, count=count)
            if changes.middleware:
                self.gateway.rebuild_stack()
            if changes.startup and self.running:
                self._run_startup_handlers(changes.startup)
            if changes.lifespan and self.running and not swapped:
                self._restart_lifespan()
            for message in [*changes.warnings, *self._conflict_warnings(changes, cell_id)]:
                warn(message)
            if swapped or changes.any:
                self.last_reload = time.time()
                self._notify()
        except Exception:
            self._report_bug("after the cell")
        finally:
            self.gateway.cell_running = False  # only now is the app settled

    def _conflict_warnings(self, changes: Any, cell_id: str | None) -> list[str]:
        """The one place the live app and a fresh run part: two live cells define one route.
        The cell run last serves; a fresh run serves the one lower in the notebook."""
        if not changes.conflicts:  # every cell passes here: cost nothing unless there are some
            return []
        order = {run.cell_id: (i, run) for i, run in enumerate(self.cells.current())}
        here = order.get(cell_id)
        messages = []
        for route, other in changes.conflicts:
            there = order.get(other)
            if here is None or there is None or there[0] < here[0]:
                continue  # the other cell is above this one: a fresh run agrees
            what = f"{' '.join(sorted(getattr(route, 'methods', None) or ()))} {getattr(route, 'path', '')}"
            messages.append(
                f"{what.strip()} is also defined in {there[1].label}, lower in the notebook: this "
                f"cell's version serves now, but a fresh run would serve that one. Delete one of "
                "the two definitions."
            )
        return messages

    def _restart_lifespan(self) -> None:
        """Run the served app's lifespan again: shutdown, then startup, as a fresh run would
        have started it with what the cells define now. Not overlapped, unlike a swap: both
        runs share the notebook's globals."""
        served = self.gateway.current
        assert self.server is not None
        if served is None:
            return

        async def again() -> None:
            await served.lifespan.shutdown()
            fresh = Lifespan(served.app)
            await fresh.startup()
            served.lifespan = fresh

        try:
            self.server.call(asyncio.wait_for(again(), LIFESPAN_TIMEOUT), timeout=LIFESPAN_TIMEOUT + 5)
        except Exception as exc:
            self._report(f"the app's lifespan failed when run again: {type(exc).__name__}: {exc}")

    def _run_startup_handlers(self, handlers: list[Any]) -> None:
        """Startup handlers added to an app already serving run now, on the server's loop, as
        its lifespan would have run them; its shutdown runs them at a swap or stop as usual."""
        assert self.server is not None
        for handler in handlers:
            try:
                self.server.call(_call_handler(handler), timeout=LIFESPAN_TIMEOUT)
            except Exception as exc:
                name = getattr(handler, "__qualname__", repr(handler))
                self._report(f"the startup handler {name} failed: {type(exc).__name__}: {exc}")

    def _report(self, message: str) -> None:
        self.last_error = message
        warn(message)

    def _report_bug(self, where: str) -> None:
        # Our own failure: one visible line in the cell, the details in the request log.
        self.request_log.write(f"kernel_ext internal error {where}:\n{traceback.format_exc()}")
        self._report(f"hot reload failed {where}; details in %api log. The app keeps serving.")


def is_asgi_app(value: Any) -> bool:
    """A FastAPI/Starlette app, or a callable taking (scope, receive, send); not a class."""
    if isinstance(value, Starlette):
        return True
    if not callable(value) or isinstance(value, type):
        return False
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):  # some builtins have none: give them the benefit of the doubt
        return True
    try:
        signature.bind(None, None, None)
    except TypeError:
        return False
    return True


async def _call_handler(handler: Any) -> None:
    result = handler()
    if inspect.isawaitable(result):
        await result


def current_session() -> Session | None:
    return Session.current


def _free_or_none(host: str, port: int) -> int | None:
    from ._serving._server import bind

    try:
        bind(host, port).close()
    except OSError:
        return None
    return port
