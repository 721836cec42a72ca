"""`%api watch`: reload the notebook's modules when their files are saved, in the kernel.

A thread waits on the file system (watchfiles) and only schedules: the reload itself runs on the
kernel's main thread, through the kernel's event loop, while no cell runs. A file saved while a
cell runs is reloaded right after that cell. No user code ever runs on the watching thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

STEP_MS = 10  # how long a burst of file events may pause before it is handled (watchfiles: 50)
DEBOUNCE_MS = 1600  # the longest a burst is grouped


class FileWatch:
    def __init__(self, session: Any, paths: Sequence[str]) -> None:
        resolved = [Path(p).expanduser().resolve() for p in paths]
        missing = [str(p) for p in resolved if not p.exists()]
        if missing:
            raise ValueError(f"cannot watch {', '.join(missing)}: no such file or directory")
        self.session = session
        self.paths = [str(p) for p in resolved]
        try:  # in a kernel, a cell runs inside the kernel's event loop
            self.loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # a terminal: saved files are reloaded before the next cell
            self.loop = None
        self.seen = 0  # bursts of changes noticed (tests wait on it)
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kernel_ext-watch", daemon=True)
        session.shell.events.register("pre_run_cell", self.before_cell)
        session.shell.events.register("post_run_cell", self.after_cell)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        for event, hook in (("pre_run_cell", self.before_cell), ("post_run_cell", self.after_cell)):
            if hook in self.session.shell.events.callbacks[event]:
                self.session.shell.events.unregister(event, hook)
        self._thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        from watchfiles import PythonFilter, watch

        try:
            for changes in watch(
                *self.paths,
                watch_filter=PythonFilter(),
                stop_event=self._stop,
                step=STEP_MS,
                debounce=DEBOUNCE_MS,
                raise_interrupt=False,
                ignore_permission_denied=True,
            ):
                with self._lock:
                    self._pending.update(path for _, path in changes)
                    self.seen += 1
                if self.loop is not None and not self.loop.is_closed():
                    self.loop.call_soon_threadsafe(self._when_idle)
        except Exception as exc:  # the thread ends; say so where the user looks
            self.session.request_log.write(f"kernel_ext: watching stopped: {type(exc).__name__}: {exc}")

    # --- on the kernel's main thread ----------------------------------------------------------

    def _when_idle(self) -> None:
        if self.session.gateway.cell_running:  # an async cell awaiting: after_cell takes them
            return
        self.reload_pending()

    def before_cell(self, info: Any = None) -> None:
        self.reload_pending(serve_new_app=False)  # saved but not yet handled: before the cell runs

    def after_cell(self, result: Any = None) -> None:
        self.reload_pending()

    def reload_pending(self, serve_new_app: bool = True) -> None:
        with self._lock:
            paths, self._pending = self._pending, set()
        if not paths:
            return
        session = self.session
        try:
            session.modules.reload_files(paths)
            if serve_new_app:  # the module made a new `app` that the notebook imports
                session._sync_app()
        except Exception:
            session._report_bug("reloading saved files")
