"""`%api check`: the live app against a fresh run of the notebook's current cells."""

from __future__ import annotations

import sys
from pathlib import Path

import psutil
import pytest

import kernel_ext
from kernel_ext._check._cells import prepare
from kernel_ext._reload._notebook import CellRun
from tests.support.kernel import Kernel
from tests.support.shell import Shell

APP = "from fastapi import FastAPI\nfrom pydantic import BaseModel\napp = FastAPI()"
PROBE = "import httpx, kernel_ext\nr = httpx.get(kernel_ext.base_url() + '/openapi.json')\nassert r.status_code == 200\nr"


@pytest.fixture
def nb(shell: Shell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Shell:
    monkeypatch.chdir(tmp_path)  # the fresh run copies the working directory
    shell.ok(APP, "app")
    return shell


def test_a_clean_notebook_matches_a_fresh_run(nb: Shell) -> None:
    nb.ok("class Item(BaseModel):\n    name: str", "model")
    nb.ok("@app.post('/items')\ndef create(item: Item) -> Item:\n    return item", "route")
    nb.ok("class Item(BaseModel):\n    name: str\n    price: float = 0", "model")  # rebuilt live
    nb.ok(PROBE, "probe")
    nb.ok("%api routes", "table")
    result = kernel_ext.check()
    assert result, repr(result)
    assert "matches a fresh run" in repr(result)
    assert "side effects included" in repr(result)
    assert "left out as probes of the live server" in repr(result)


def test_a_stale_route_is_found_and_its_cell_named(nb: Shell) -> None:
    nb.ok("@app.get('/a')\ndef a(): return 1\n\n@app.get('/b')\ndef b(): return 2", "routes")
    # Edited: /b is gone, but the cell raises before the run completes, so /b keeps serving.
    failed = nb.run("@app.get('/a')\ndef a(): return 1\n\nraise ValueError('half done')", "routes")
    assert not failed.success
    assert nb.get("/b").status_code == 200
    result = kernel_ext.check()
    assert not result
    [difference] = result.differences
    count = failed.execution_count
    assert (difference.kind, difference.what, difference.rerun) == (
        "stale route",
        "GET /b",
        f"re-run In [{count}]",
    )
    assert f"In [{count}] raised in the fresh run: ValueError: half done" in result.notes
    assert difference.detail.endswith(f"In [{count}] raised in the fresh run: ValueError: half done")
    assert "GET /b" in result._repr_html_() and "stale route" in repr(result)


def test_strict_raises_one_line_naming_the_differences(nb: Shell) -> None:
    nb.ok("@app.get('/a')\ndef a(): return 1\n\n@app.get('/b')\ndef b(): return 2", "routes")
    nb.run("@app.get('/a')\ndef a(): return 1\n\nraise ValueError('half done')", "routes")
    result = nb.run("%api check --strict", "check")
    assert not result.success
    message = str(result.error_in_exec)
    assert "differs from a fresh run" in message and "stale route: GET /b" in message
    assert "\n" not in message
    with pytest.raises(kernel_ext._check.CheckFailed, match="GET /b"):
        kernel_ext.check(strict=True)


def test_a_skip_marked_cell_is_not_run_and_its_routes_are_not_held_against_the_live_app(nb: Shell) -> None:
    # Run again, this cell would kill the fresh run's process.
    nb.ok(
        "# kernel_ext: skip\nimport os, signal\nif os.environ.get('KERNEL_EXT_NO_SERVER'):\n    os.kill(os.getpid(), signal.SIGKILL)\n\n@app.get('/debug')\ndef debug(): return 1",
        "debug",
    )
    nb.ok("@app.get('/a')\ndef a(): return 1", "routes")
    result = kernel_ext.check()
    assert result, repr(result)
    assert any("not run: marked # kernel_ext: skip" in note for note in result.notes)


def test_two_cells_defining_one_route_name_the_cell_a_fresh_run_takes(nb: Shell) -> None:
    nb.ok("@app.get('/x')\ndef first(): return 1", "one")
    nb.ok("@app.get('/x')\ndef second(): return 2", "two")
    rerun = nb.ok("@app.get('/x')\ndef first(): return 1", "one")  # run last: serves live
    assert nb.get("/x").json() == 1
    result = kernel_ext.check()
    [difference] = result.differences
    two = nb.session.cells.find("two").label
    assert difference.kind == "defined by another cell" and difference.what == "GET /x"
    assert f"served live by In [{rerun.execution_count}], by {two} in a fresh run" in difference.detail
    assert difference.rerun == f"re-run {two}"


def test_a_changed_handler_and_middleware_are_compared_by_key(nb: Shell) -> None:
    nb.ok(
        "from fastapi.responses import JSONResponse\n"
        "@app.exception_handler(404)\nasync def nf(request, exc): return JSONResponse({'nf': 1}, status_code=404)\n"
        "@app.middleware('http')\nasync def tag(request, call_next):\n    response = await call_next(request)\n    response.headers['x-tag'] = '1'\n    return response",
        "extras",
    )
    assert kernel_ext.check()


def test_a_cell_using_a_name_defined_below_it_is_explained(nb: Shell) -> None:
    nb.run("@app.get('/uses')\ndef uses(x: int = LIMIT): return x", "route")  # fails: no LIMIT yet
    nb.ok("LIMIT = 3", "limit")
    nb.ok("@app.get('/uses')\ndef uses(x: int = LIMIT): return x", "route")  # fixed in place
    [difference] = kernel_ext.check().differences
    assert difference.what == "GET /uses" and difference.kind == "stale route"
    assert "NameError" in difference.detail and "defined in a cell below it?" in difference.detail


def test_the_fresh_run_starts_no_server(nb: Shell) -> None:
    served = "from kernel_ext._session import current_session\nif current_session().server is not None and os.environ.get('KERNEL_EXT_NO_SERVER'):\n    raise RuntimeError('a server started')"
    nb.ok("import os\n" + served, "served")
    result = kernel_ext.check()
    assert result and not any("raised" in note for note in result.notes), repr(result)


def test_cells_that_raise_in_the_fresh_run_are_notes_not_crashes(nb: Shell) -> None:
    nb.run("undefined_name + 1", "broken")
    nb.ok("@app.get('/a')\ndef a(): return 1", "routes")
    result = kernel_ext.check()
    assert result
    assert any("raised in the fresh run: NameError" in note for note in result.notes)


def test_the_fresh_run_works_in_a_copy_of_the_working_directory(
    nb: Shell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "check_helpers.py").write_text("GREETING = 'hi'\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # a kernel has its directory on sys.path
    monkeypatch.delitem(sys.modules, "check_helpers", raising=False)
    nb.ok(
        "import check_helpers as helpers\nfrom pathlib import Path\nPath('written.txt').write_text('x')\n@app.get('/hi')\ndef hi(): return helpers.GREETING",
        "routes",
    )
    (tmp_path / "written.txt").unlink()
    assert kernel_ext.check()
    assert not (tmp_path / "written.txt").exists()  # written in the copy, not here


# --- what the fresh run executes ------------------------------------------------------------------


def runs(*sources: str) -> list[CellRun]:
    return [CellRun(f"c{i}", source, i + 1, True) for i, source in enumerate(sources)]


def test_probes_are_left_out_with_what_they_bound_and_lines_keep_their_numbers() -> None:
    cells = prepare(
        runs(
            "%load_ext kernel_ext",
            "import httpx, kernel_ext\nURL = kernel_ext.base_url()\nx = 1\nr = httpx.get(URL)\nassert r.status_code == 200\nr",
            "y = x + 1\nresp = httpx.get('http://127.0.0.1:8000/a')",
            "%api routes",
            "%%http\nGET /a",
            "%%writefile mod.py\nA = 1",
        )
    )
    assert cells[0].code.strip() == "pass"
    assert cells[1].code.splitlines() == ["import httpx, kernel_ext", "pass", "x = 1", "pass", "pass", "pass"]
    assert [d.split(":")[0] for d in cells[1].dropped] == ["line 2", "line 4", "line 5", "line 6"]
    assert cells[2].code.splitlines() == ["y = x + 1", "pass"]
    assert "%api routes needs the live server" in cells[3].dropped[0]
    assert cells[4].skipped is not None and "%%http" in cells[4].skipped
    assert cells[5].code.startswith("%%writefile")


def test_a_cell_without_probes_runs_as_written() -> None:
    source = "%time x = 1\n@app.get('/a')\ndef a(): return x"
    [cell] = prepare(runs(source))
    assert cell.code == source and not cell.dropped


# --- in a real kernel -------------------------------------------------------------------------


def test_interrupting_a_check_kills_the_fresh_run_and_leaves_the_live_app(tmp_path: Path) -> None:
    k = Kernel().start()
    try:
        assert (
            k.run(f"import os; os.chdir({str(tmp_path)!r})\n%load_ext kernel_ext", cell_id="load").status
            == "ok"
        )
        k.run(APP, cell_id="app")
        slow = "import os, time\nif os.environ.get('KERNEL_EXT_NO_SERVER'):\n    time.sleep(120)\n@app.get('/a')\ndef a(): return 1"
        assert k.run(slow, cell_id="slow").status == "ok"
        msg_id = k.send("%api check", cell_id="check")
        k.wait_for_output(msg_id, "Cell 3 of 3")
        k.manager.interrupt_kernel()
        reply = k.wait(msg_id)
        assert reply.status == "error"
        assert "check interrupted" in reply.traceback and "Traceback" not in reply.traceback
        kernel_pid = k.value("os.getpid()")
        runners = [
            p
            for p in psutil.Process(kernel_pid).children(recursive=True)
            if "kernel_ext._check" in " ".join(p.cmdline())
        ]
        assert runners == []
        assert (
            k.run(
                "import httpx, kernel_ext\nassert httpx.get(kernel_ext.base_url() + '/a').json() == 1"
            ).status
            == "ok"
        )
    finally:
        k.shutdown()


def test_deleted_cells_are_not_run_again_and_a_match_is_shown_as_a_table(tmp_path: Path) -> None:
    k = Kernel().start()
    try:
        k.run(f"import os; os.chdir({str(tmp_path)!r})\n%load_ext kernel_ext", cell_id="load")
        k.run(APP, cell_id="app")
        k.run("@app.get('/gone')\ndef gone(): return 1", cell_id="route")
        k.run("@app.get('/kept')\ndef kept(): return 2", cell_id="other")
        reply = k.run(
            "kernel_ext = __import__('kernel_ext'); kernel_ext.check()", cell_id="check", deleted=["route"]
        )
        assert reply.status == "ok", reply.traceback
        assert "matches a fresh run" in reply.html
    finally:
        k.shutdown()
