"""`%api check`: does the live app equal a fresh run of the notebook's current cells?

The live cells (`session.cells.current()`: latest source, first-run order, deleted cells out)
run again in a new process with the same interpreter, in a copy of the working directory, with
kernel_ext's hooks but no server. Both apps are then described the same way (_shape.py) and
compared (_diff.py). The live app is only read, never changed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ._cells import FreshCell, prepare
from ._diff import CheckFailed, CheckResult, Difference, compare, without_cells
from ._fresh import FreshRunError, run_fresh
from ._shape import describe

__all__ = ["CheckFailed", "CheckResult", "Difference", "FreshRunError", "check_session", "live_shape"]


def check_session(session: Any, strict: bool = False) -> CheckResult:
    started = time.perf_counter()
    runs = session.cells.current()
    cells = prepare(runs)
    progress = _Progress(sum(1 for c in cells if c.code))
    try:
        answer, left_out = run_fresh(cells, session.app_name, Path.cwd(), progress.update)
    except KeyboardInterrupt:
        progress.done("Check interrupted: the fresh run was stopped; the live app is unchanged.")
        raise CheckInterrupted(
            "check interrupted; the fresh run was stopped, the live app is unchanged"
        ) from None
    skipped = {c.index for c in cells if c.skipped}
    live = without_cells(live_shape(session), skipped)
    labels = [run.label for run in runs]

    def label(cell: int | None) -> str:
        return labels[cell] if cell is not None and 0 <= cell < len(labels) else "an unknown cell"

    result = CheckResult(
        compare(live, answer["shape"], label, {e["index"]: e["error"] for e in answer["errors"]})
        + _stale_objects(session),
        _notes(cells, answer["errors"], left_out, label),
        cells=progress.total,
        seconds=time.perf_counter() - started,
    )
    progress.done(None)
    if strict and not result:
        listed = "; ".join(d.line() for d in result.differences)
        raise CheckFailed(f"the live app differs from a fresh run: {listed}")
    return result


def live_shape(session: Any) -> dict[str, Any]:
    """The live app described as a fresh run's is (cells as positions in the current cells)."""
    from .._display import cell_finder

    app = session.served_app() if session.running else session._candidate()
    counts = cell_finder(session.shell, session.reloader.defined_in)
    positions: dict[Any, int] = {}
    for index, run in enumerate(session.cells.current()):
        positions[run.cell_id if run.cell_id is not None else run.count] = index

    def cell_of(obj: Any) -> int | None:
        count = counts(obj)
        if count is None:
            return None
        cell_id = session.cell_runs.get(count, (None, True))[0]
        return positions.get(cell_id if cell_id is not None else count)

    return describe(app, cell_of, session.shell.user_ns)


def _stale_objects(session: Any) -> list[Difference]:
    """Values built from a class that a module reload replaced: a fresh run builds new ones."""
    modules = getattr(session, "modules", None)
    stale = modules.stale_objects() if modules is not None else []
    return [Difference("stale object", s.label, s.detail, s.fix) for s in stale]


def _notes(
    cells: list[FreshCell], errors: list[dict[str, Any]], left_out: list[str], label: Any
) -> list[str]:
    notes = [f"{c.label} was not run: {c.skipped}" for c in cells if c.skipped]
    notes += [f"{label(e['index'])} raised in the fresh run: {e['error']}" for e in errors]
    dropped = [c for c in cells if c.dropped]
    if dropped:
        notes.append(
            "left out as probes of the live server: "
            + ", ".join(f"{c.label} ({_statements(len(c.dropped))})" for c in dropped)
        )
    if left_out:
        notes.append(
            f"not copied to the fresh run's directory (over 50 MB, or unreadable): {', '.join(left_out)}"
        )
    return notes


def _statements(count: int) -> str:
    return f"{count} statement{'s' if count > 1 else ''}"


class CheckInterrupted(KeyboardInterrupt):
    def _render_traceback_(self) -> list[str]:
        return [f"kernel_ext: {self}"]


class _Progress:
    """One line, updated in place while the fresh run goes from cell to cell (in a kernel)."""

    def __init__(self, total: int) -> None:
        from IPython import get_ipython
        from IPython.display import display

        self.total = total
        in_kernel = getattr(get_ipython(), "kernel", None) is not None  # a terminal can't update
        self.handle = display(_Line(self._text(0, "")), display_id=True) if in_kernel else None

    def _text(self, number: int, label: str) -> str:
        at = f" Cell {number} of {self.total} ({label})." if number else ""
        return (
            f"Checking: running the notebook's {self.total} cells again in a fresh process "
            f"(side effects included).{at} Interrupt the kernel to stop."
        )

    def update(self, number: int, total: int, label: str) -> None:
        if self.handle is not None:
            self.handle.update(_Line(self._text(number, label)))

    def done(self, message: str | None) -> None:
        if self.handle is not None:
            self.handle.update(_Line(message or ""))


class _Line:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return self.text
