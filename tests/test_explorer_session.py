"""kernel_ext.explore() in an IPython shell with kernel_ext loaded: refreshes as cells run."""

from __future__ import annotations

import pytest

from kernel_ext._explorer import Explorer, ExplorerError, explore
from tests.support.shell import Shell

APP_CELL = """
from fastapi import FastAPI
app = FastAPI()

@app.get("/items/{item_id}", tags=["items"])
def read_item(item_id: int, q: str | None = None):
    return {"item_id": item_id, "q": q}
"""


def test_explore_needs_the_extension() -> None:
    from kernel_ext._session import current_session

    if current_session() is not None:
        pytest.skip("another test in this process left kernel_ext loaded")
    with pytest.raises(ExplorerError, match="run %load_ext kernel_ext first"):
        explore()


def test_explorer_follows_route_edits_and_keeps_typed_values(shell: Shell) -> None:
    shell.ok(APP_CELL)
    shell.ok("import kernel_ext\nex = kernel_ext.explore()")
    ex: Explorer = shell.ns["ex"]
    assert ex.base_url == shell.url
    ex.select("GET", "/items/{item_id}")
    ex.set(item_id=7, q="typed")
    assert ex.send().json() == {"item_id": 7, "q": "typed"}

    shell.ok(
        "@app.get('/items/{item_id}', tags=['items'])\n"
        "def read_item(item_id: int, q: str | None = None, extra: int = 3):\n"
        "    return {'item_id': item_id, 'q': q, 'extra': extra}\n"
        "@app.get('/other')\n"
        "def other():\n"
        "    return 1\n"
    )
    assert ("GET", "/other") in {key for _, key in ex.picker.options}  # refreshed by the session
    assert ex.values == {"item_id": 7, "q": "typed", "extra": None}
    assert ex.send().json() == {"item_id": 7, "q": "typed", "extra": 3}


def test_explore_returns_the_same_explorer_and_api_magic_shows_it(shell: Shell) -> None:
    shell.ok(APP_CELL)
    first = shell.ok("import kernel_ext\nkernel_ext.explore()").result
    assert isinstance(first, Explorer)
    assert shell.ok("%api explore").result is first
    first.close()
    assert shell.ok("kernel_ext.explore()").result is not first


def test_generated_test_cell_runs_in_the_notebook(shell: Shell) -> None:
    shell.ok(APP_CELL)
    shell.ok(
        "import kernel_ext\nex = kernel_ext.explore()\n"
        "ex.select('GET', '/items/{item_id}')\nex.set(item_id=2)\nex.send()"
    )
    code = shell.ns["ex"].copy_as("test")
    assert "kernel_ext.base_url() + '/items/2'" in code
    shell.ok(code)
    shell.ok("@app.get('/items/{item_id}')\ndef read_item(item_id: int):\n    return {'changed': True}")
    assert not shell.run(code).success  # the generated test notices the change


def test_a_new_app_object_is_followed(shell: Shell) -> None:
    shell.ok(APP_CELL)
    shell.ok("import kernel_ext\nex = kernel_ext.explore()")
    shell.ok("app = FastAPI()\n@app.get('/fresh')\ndef fresh():\n    return 'new'")
    ex: Explorer = shell.ns["ex"]
    assert [key for _, key in ex.picker.options] == [("GET", "/fresh")]
    ex.select("GET", "/fresh")
    assert ex.send().json() == "new"


def test_a_broken_cell_does_not_break_the_explorer(shell: Shell) -> None:
    shell.ok(APP_CELL)
    shell.ok("import kernel_ext\nex = kernel_ext.explore()")
    result = shell.run("@app.get('/bad')\ndef bad(x: NotDefined): ...")
    assert not result.success
    ex: Explorer = shell.ns["ex"]
    ex.select("GET", "/items/{item_id}")
    ex.set(item_id=1)
    assert ex.send().status_code == 200


def test_an_explorer_made_while_stopped_says_so_and_follows_the_start(shell: Shell) -> None:
    shell.ok(APP_CELL)
    shell.ok("%api stop")
    shell.ok("import kernel_ext\nex = kernel_ext.explore()")
    ex: Explorer = shell.ns["ex"]
    assert "server is stopped: %api start" in ex.notice.value
    assert "No FastAPI app" not in ex.op_info.value
    assert [key for _, key in ex.picker.options] == [("GET", "/items/{item_id}")]  # fill in already
    ex.set(item_id=4)
    assert ex.send() is None and "not running" in ex.output_text

    shell.ok("%api start")
    assert ex.notice.value == ""
    assert [key for _, key in ex.picker.options] == [("GET", "/items/{item_id}")]
    assert ex.send().json() == {"item_id": 4, "q": None}

    shell.ok("%api stop")
    assert "server is stopped" in ex.notice.value
    shell.ok("%api start")
    assert ex.notice.value == ""


def test_an_explorer_made_while_stopped_before_any_app_follows_the_start(shell: Shell) -> None:
    shell.ok("%api stop")
    shell.ok("import kernel_ext\nex = kernel_ext.explore()")
    ex: Explorer = shell.ns["ex"]
    assert repr(ex).startswith("<Explorer 0 operations")
    assert "server is stopped" in ex.notice.value
    assert "define <code>app = FastAPI()</code>" in ex.op_info.value
    shell.ok(APP_CELL)
    shell.ok("%api start")
    assert [key for _, key in ex.picker.options] == [("GET", "/items/{item_id}")]
    assert ex.notice.value == ""
    assert ex.send().status_code == 200


def test_zero_routes_say_how_to_add_one_and_clear_the_old_route(shell: Shell) -> None:
    shell.ok("from fastapi import FastAPI\napp = FastAPI()")
    shell.ok("import kernel_ext\nex = kernel_ext.explore()")
    ex: Explorer = shell.ns["ex"]
    assert "No routes yet" in ex.op_info.value and "@app.get(&quot;/&quot;)" in ex.op_info.value
    shell.ok("@app.get('/a')\ndef a():\n    return 1")
    assert ex.operation is not None and "<code>/a</code>" in ex.op_info.value
    shell.ok("app = FastAPI()")
    assert ex.picker.options == ()
    assert ex.operation is None and "/a" not in ex.op_info.value
    assert "No routes yet" in ex.op_info.value
    assert ex.form_box.children == () and ex.code_area.value == ""
