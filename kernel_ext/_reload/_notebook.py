"""The notebook as this kernel knows it: each cell's latest source, in the order cells first ran.

A fresh run of the notebook is what the live app must equal (`%api check`). The kernel never sees
the notebook file, only executions: JupyterLab and VS Code send a cell id with each, and
JupyterLab also sends `deletedCells`, the ids of cells deleted since the previous execution.
Executions without a cell id (nbclient, nbmake, a console) are each a cell of their own.

A fresh run runs each live cell once, with its latest source, in the order the cells *first* ran:
that is the notebook's order as far as the kernel can tell. Cells re-run in place keep their
place; ordering them by their last run would put a re-run model cell after the routes that use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CellRun:
    cell_id: str | None
    source: str
    count: int | None
    succeeded: bool

    @property
    def label(self) -> str:
        return f"In [{self.count}]" if self.count is not None else "a cell"


class NotebookCells:
    def __init__(self) -> None:
        self._latest: dict[str | int, CellRun] = {}  # cell id (or count) -> latest run, first-run order
        self.deleted: set[str] = set()

    def record(self, run: CellRun) -> None:
        key: str | int | None = run.cell_id if run.cell_id is not None else run.count
        if key is None:
            return
        self._latest[key] = run  # a known key keeps its place: dicts keep insertion order
        if run.cell_id is not None:
            self.deleted.discard(run.cell_id)  # undo of a deletion: the cell is back

    def forget(self, cell_ids: Iterable[str]) -> list[CellRun]:
        """Cells the front end deleted; returns the runs that were known."""
        gone = []
        for cell_id in cell_ids:
            self.deleted.add(cell_id)
            run = self._latest.pop(cell_id, None)
            if run is not None:
                gone.append(run)
        return gone

    def current(self) -> list[CellRun]:
        """Each live cell's latest run, in the order the cells first ran."""
        return list(self._latest.values())

    def find(self, label: str) -> CellRun | None:
        """A cell by id, or by `In [N]` / `N` for the execution count of its latest run."""
        text = label.strip()
        if text.startswith("In [") and text.endswith("]"):
            text = text[4:-1]
        for run in self._latest.values():
            if run.cell_id == label or (text.isdigit() and run.count == int(text)):
                return run
        return None


def deleted_cells(shell: Any) -> list[str]:
    """The `deletedCells` JupyterLab put in the metadata of the execute request being handled."""
    kernel = getattr(shell, "kernel", None)
    get_parent = getattr(kernel, "get_parent", None)
    if get_parent is None:  # a plain IPython shell, no front end
        return []
    try:
        parent = get_parent()
    except Exception:
        return []
    metadata = parent.get("metadata") if isinstance(parent, dict) else None
    ids = metadata.get("deletedCells") if isinstance(metadata, dict) else None
    return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []
