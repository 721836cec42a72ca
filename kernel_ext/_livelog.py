"""`%api log`: the request log as an Output widget that keeps filling as requests arrive."""

from __future__ import annotations

import ipywidgets as widgets

from ._requestlog import RequestLog


class LiveLog:
    def __init__(self, log: RequestLog, last: int | None = None) -> None:
        self.log = log
        self.output = widgets.Output(layout={"max_height": "300px", "overflow": "auto"})
        self.output.append_stdout(log.text(last) + "\n" if log.lines() else "")
        # append_stdout edits widget state directly, which is safe from the server thread;
        # `with output:` would depend on whichever cell is running.
        log.add_sink(self.output.append_stdout)

    def close(self) -> None:
        self.log.remove_sink(self.output.append_stdout)
        self.output.close()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.output)

    def __repr__(self) -> str:
        return self.log.text() or "(the request log is empty)"
