"""The project's own notebooks as a corpus: each runs in a real kernel, with JupyterLab-style
cell ids, then `kernel_ext.check()` must find the live app equal to a fresh run of its cells.

Long profile only (`make fuzz-reload`): every notebook, each in its own kernel and a copy of
notebooks/. (The quickstart's own `%api check --strict` cell checks one in `make test`.)
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.support.kernel import Kernel

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
LONG = os.environ.get("KERNEL_EXT_FUZZ") == "long"
CHECK = "import kernel_ext as _k\n_r = _k.check()\nprint('MATCH' if _r else 'DIFFER')\nprint(repr(_r))"


def code_cells(path: Path) -> list[tuple[str, str]]:
    cells = json.loads(path.read_text())["cells"]
    return [
        (c.get("id") or f"c{i}", "".join(c["source"]))
        for i, c in enumerate(cells)
        if c["cell_type"] == "code"
    ]


# Found by this test, not fixed yet: {notebook: what differs}.
DIVERGING = {
    "04_modules.ipynb": "check finds GET /api/items/all live only, GET /api/items/ only in the fresh "
    "run, GET /api/items/total's code and a stale `sample`: the routes of the module the notebook "
    "edits and reloads (timing of file edits and reloads in a fresh run?)",
}


def notebooks() -> list[object]:
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    return [
        pytest.param(n, marks=pytest.mark.xfail(reason=DIVERGING[n])) if n in DIVERGING else n for n in names
    ]


@pytest.mark.skipif(not LONG, reason="long profile: make fuzz-reload")
@pytest.mark.parametrize("name", notebooks())
def test_each_notebook_equals_a_fresh_run_of_its_cells(name: str, tmp_path: Path) -> None:
    work = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns("*.db", ".env"))
    k = Kernel().start()
    try:
        assert k.run(f"import os; os.chdir({str(work)!r})").status == "ok"
        for cell_id, source in code_cells(work / name):
            if "%api check" in source:
                continue
            k.run(source, cell_id=cell_id, timeout=300)  # cells meant to fail are part of it
        reply = k.run(CHECK, timeout=600)
        assert reply.status == "ok", reply.traceback
        print(f"\n{name}: {reply.stdout.strip()}")
        assert reply.stdout.startswith("MATCH"), reply.stdout
    finally:
        k.shutdown()
