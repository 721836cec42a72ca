"""Export a notebook's app as a deployable package: `app/`, requirements, Dockerfile, README.

    export_notebook("api.ipynb", "out/")                   # python -m kernel_ext export
    export_cells([(source, tags), ...], "out/")            # cells in execution order
    export_session(session, "out/")                        # %api export, from the kernel's history

The rules (what is exported, what is not, overrides) are in docs/export.md.
"""

from ._cells import Cell
from ._errors import ExportError
from ._pipeline import ExportResult, export_cells, export_notebook, export_session
from ._plan import CellDecision

__all__ = [
    "Cell",
    "CellDecision",
    "ExportError",
    "ExportResult",
    "export_cells",
    "export_notebook",
    "export_session",
]
