"""`%api log`: the request log as an Output widget that keeps filling as requests arrive.

Lines arrive on the server thread. Appending each one to the widget would re-send its whole
output list per request and slow serving as the log grows, so lines are buffered and the widget
is redrawn at most every FLUSH_SECONDS with the last MAX_LINES lines.
"""

from __future__ import annotations

import threading
from collections import deque

import ipywidgets as widgets

from ._requestlog import RequestLog

MAX_LINES = 500
FLUSH_SECONDS = 0.2


class LiveLog:
    def __init__(self, log: RequestLog, last: int | None = None) -> None:
        self.log = log
        self.last = last
        self.output = widgets.Output(layout={"max_height": "300px", "overflow": "auto"})
        self._lines: deque[str] = deque(log.lines()[-MAX_LINES:], maxlen=MAX_LINES)
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self.flush()
        log.add_sink(self._receive)

    def _receive(self, line: str) -> None:
        with self._lock:
            self._lines.append(line.rstrip("\n"))
            if self._timer is None:
                self._timer = threading.Timer(FLUSH_SECONDS, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Redraw the widget now. Setting its state directly is safe from any thread; `with
        output:` would depend on whichever cell is running."""
        with self._lock:
            self._timer = None
            lines = list(self._lines)[-self.last :] if self.last else list(self._lines)
        text = "\n".join(lines) + "\n" if lines else ""
        self.output.outputs = ({"output_type": "stream", "name": "stdout", "text": text},) if text else ()

    def text(self) -> str:
        """The log as text (the last N lines when shown with `last=N`)."""
        return self.log.text(self.last)

    def close(self) -> None:
        self.log.remove_sink(self._receive)
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
        self.output.close()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.output)

    def __repr__(self) -> str:
        return self.log.text(self.last) or "(the request log is empty)"
