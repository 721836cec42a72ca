"""The notebook as the kernel knows it: latest sources, first-run order, deleted cells."""

from __future__ import annotations

import json

from kernel_ext._reload._notebook import CellRun, NotebookCells, deleted_cells
from tests.support.kernel import Kernel
from tests.support.shell import Shell


def run(cell_id: str | None, source: str, count: int) -> CellRun:
    return CellRun(cell_id, source, count, True)


def test_a_rerun_cell_keeps_its_place_with_its_latest_source() -> None:
    cells = NotebookCells()
    cells.record(run("a", "app = 1", 1))
    cells.record(run("b", "x = 1", 2))
    cells.record(run("a", "app = 2", 3))
    assert [(c.cell_id, c.source) for c in cells.current()] == [("a", "app = 2"), ("b", "x = 1")]


def test_cells_without_an_id_are_each_their_own_cell() -> None:
    cells = NotebookCells()
    cells.record(run(None, "x = 1", 1))
    cells.record(run(None, "x = 1", 2))
    assert [c.count for c in cells.current()] == [1, 2]


def test_forgotten_cells_leave_and_a_restored_one_comes_back_last() -> None:
    cells = NotebookCells()
    cells.record(run("a", "a", 1))
    cells.record(run("b", "b", 2))
    assert [c.cell_id for c in cells.forget(["a", "unknown"])] == ["a"]
    assert [c.cell_id for c in cells.current()] == ["b"]
    cells.record(run("a", "a", 3))  # JupyterLab's undo of a delete brings the same id back
    assert [c.cell_id for c in cells.current()] == ["b", "a"]
    assert cells.deleted == {"unknown"}


def test_find_by_id_or_execution_count() -> None:
    cells = NotebookCells()
    cells.record(run("a", "a", 7))
    assert cells.find("a") is cells.find("In [7]") is cells.find("7") is not None
    assert cells.find("8") is None


def test_no_front_end_means_no_deleted_cells(shell: Shell) -> None:
    assert deleted_cells(shell.ip) == []


def test_deleted_cells_sent_by_jupyterlab_drop_their_routes_on_the_next_execution() -> None:
    k = Kernel().start()
    try:
        assert k.run("%load_ext kernel_ext", cell_id="load").status == "ok"
        k.run("from fastapi import FastAPI\napp = FastAPI()", cell_id="app")
        k.run("@app.get('/gone')\ndef gone(): return 1", cell_id="route")
        k.run("@app.get('/kept')\ndef kept(): return 2", cell_id="other")
        probe = "import httpx, kernel_ext; print(httpx.get(kernel_ext.base_url() + '{}').status_code)"
        assert k.run(probe.format("/gone"), cell_id="probe").stdout.strip() == "200"
        reply = k.run(probe.format("/gone"), cell_id="probe", deleted=["route"])
        assert reply.stdout.strip() == "404", reply.stderr
        assert k.run(probe.format("/kept"), cell_id="probe").stdout.strip() == "200"
        ids = k.value("[c.cell_id for c in kernel_ext._api.session().cells.current()]")
        assert "route" not in ids and ids[:2] == ["load", "app"]
    finally:
        k.shutdown()


def test_vscode_cell_uris_are_cell_ids() -> None:
    uri = "vscode-notebook-cell:/home/me/api.ipynb#W3sZmlsZQ%3D%3D"
    k = Kernel().start()
    try:
        k.run("%load_ext kernel_ext")
        k.run("import kernel_ext\nfrom fastapi import FastAPI\napp = FastAPI()")
        k.run("@app.get('/a')\ndef a(): return 'a'", cell_id=uri)
        k.run("@app.get('/b')\ndef b(): return 'b'", cell_id=uri)  # edited in place: /a is gone
        paths = k.value("sorted(r.path for r in app.routes if r.path in ('/a', '/b'))")
        assert paths == ["/b"]
        sources = k.value(f"kernel_ext._api.session().cells.find({json.dumps(uri)}).source")
        assert "/b" in sources
    finally:
        k.shutdown()
