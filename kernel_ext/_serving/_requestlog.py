"""The request log: access lines, endpoint tracebacks and output printed while serving.

Output produced while handling a request would otherwise land in whichever cell is running.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TextIO

from .._changes._coverage import Hits
from ._gateway import in_request

Sink = Callable[[str], None]
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# The gateway records access lines itself (RequestLog.access). With no handler and no
# propagation, uvicorn's access logger has no handlers, and uvicorn then skips building a
# LogRecord per request: that cost a tenth of the server's time.
ACCESS_LOGGER = "uvicorn.access"


# One request served, as the gateway saw it when the response started: (time, client, method,
# raw path, query string, HTTP version, status). Formatted only when the log is read.
Access = tuple[float, "tuple[str, int] | None", str, bytes, bytes, str, int]


class RequestLog:
    """Lines of text and access records, oldest first, the last `maxlen` of them."""

    def __init__(self, maxlen: int = 5000) -> None:
        self._entries: deque[str | Access] = deque(maxlen=maxlen)
        self.hits = Hits()  # every request since the session began, for `%api coverage`
        self._sinks: list[Sink] = []
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        lines = text.rstrip("\n").split("\n") if text.strip() else []
        with self._lock:
            self._entries.extend(lines)
            sinks = list(self._sinks)
        for sink in sinks:
            for line in lines:
                sink(line + "\n")

    def access(self, entry: Access) -> None:
        """Record a request. This runs for every request, so it only appends a tuple (one
        atomic deque operation); the line is formatted when someone reads the log."""
        self._entries.append(entry)
        self.hits.add(entry[2], entry[3], entry[6])  # method, raw path, status: one dict update
        if self._sinks:  # a live view is open: it needs the text now
            line = format_access(entry) + "\n"
            for sink in list(self._sinks):
                sink(line)

    def lines(self) -> list[str]:
        entries = list(self._entries)  # one C-level copy: appends from the server thread wait
        return [entry if isinstance(entry, str) else format_access(entry) for entry in entries]

    def text(self, last: int | None = None) -> str:
        lines = self.lines()
        return "\n".join(lines[-last:] if last else lines)

    def add_sink(self, sink: Sink) -> None:
        with self._lock:
            self._sinks.append(sink)

    def remove_sink(self, sink: Sink) -> None:
        with self._lock:
            if sink in self._sinks:
                self._sinks.remove(sink)


def format_access(entry: Access) -> str:
    """The line uvicorn's access logger would have written, as our handler formats it."""
    created, client, method, raw_path, query, version, status = entry
    target = raw_path.decode("latin-1")
    if query:
        target += "?" + query.decode("ascii", "replace")
    target = target.replace('"', "%22")
    address = f"{client[0]}:{client[1]}" if client else ""
    clock = time.strftime("%H:%M:%S", time.localtime(created))
    return f'{clock} INFO    uvicorn.access: {address} - "{method} {target} HTTP/{version}" {status}'


class _Formatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime("%H:%M:%S", time.localtime(record.created))


class RequestLogHandler(logging.Handler):
    """Formats records into the request log."""

    def __init__(self, log: RequestLog, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.log = log
        self.setFormatter(_Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.log.write(self.format(record))
        except Exception:  # a log line must never break a request
            self.handleError(record)


class LastResort(RequestLogHandler):
    """Python's handler of last resort (used when no handler is configured), made request-aware.

    Not a root handler: that would make `logging.basicConfig()` in a cell a silent no-op. With
    basicConfig, records reach sys.stderr, which RequestAwareStream routes the same way.
    """

    def __init__(self, log: RequestLog, previous: logging.Handler | None) -> None:
        # NOTSET: a logger the user set to INFO shows INFO in the request log even without a
        # handler; outside requests the previous handler applies its own WARNING threshold.
        super().__init__(log, logging.NOTSET)
        self.previous = previous

    def emit(self, record: logging.LogRecord) -> None:
        if in_request.get():
            super().emit(record)
        elif self.previous is not None:
            self.previous.handle(record)


class RequestAwareStream:
    """Stands in for sys.stdout/stderr: request output to the log, the rest where it went."""

    def __init__(self, log: RequestLog, original: TextIO) -> None:
        self.log = log
        self.original = original
        self._partial: dict[int, str] = {}  # per thread: print() writes a line in pieces

    def write(self, text: str) -> int:
        if not in_request.get():
            return self.original.write(text)
        thread = threading.get_ident()
        pending = self._partial.pop(thread, "") + text
        complete, newline, rest = pending.rpartition("\n")
        if newline:
            self.log.write(complete)
        if rest:
            self._partial[thread] = rest
        return len(text)

    def flush(self) -> None:
        self.original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


class LogCapture:
    """Installs and removes everything that routes request output to a RequestLog."""

    def __init__(self, log: RequestLog) -> None:
        self.log = log
        self._uvicorn_handler = RequestLogHandler(log)
        self._last_resort: LastResort | None = None
        self._saved: dict[str, tuple[bool, int]] = {}

    def install(self) -> None:
        for name in UVICORN_LOGGERS:
            logger = logging.getLogger(name)
            self._saved[name] = (logger.propagate, logger.level)
            if name != ACCESS_LOGGER:
                logger.addHandler(self._uvicorn_handler)
            logger.propagate = False
            logger.setLevel(logging.INFO)
        self._last_resort = LastResort(self.log, logging.lastResort)
        logging.lastResort = self._last_resort
        sys.stdout = RequestAwareStream(self.log, sys.stdout)
        sys.stderr = RequestAwareStream(self.log, sys.stderr)

    def uninstall(self) -> None:
        for name, (propagate, level) in self._saved.items():
            logger = logging.getLogger(name)
            logger.removeHandler(self._uvicorn_handler)
            logger.propagate = propagate
            logger.setLevel(level)
        if self._last_resort is not None and logging.lastResort is self._last_resort:
            logging.lastResort = self._last_resort.previous
        sys.stdout = _unwrap(sys.stdout, self.log)
        sys.stderr = _unwrap(sys.stderr, self.log)


def _unwrap(stream: TextIO, log: RequestLog) -> TextIO:
    # Only peel our own wrapper; something installed after us stays in place.
    if isinstance(stream, RequestAwareStream) and stream.log is log:
        return stream.original
    return stream
