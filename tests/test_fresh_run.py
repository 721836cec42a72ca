"""The live app equals a fresh run of the notebook's live cells (issue 11), in a real shell."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.shell import Shell

APP = "import kernel_ext\nfrom fastapi import FastAPI, APIRouter, Depends, Request\napp = FastAPI()"


def paths(shell: Shell, path: str) -> list:
    return [r for r in shell.ns["app"].router.routes if getattr(r, "path", None) == path]


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package beside the kernel, as FastAPI's "Bigger Applications" tutorial has."""
    package = tmp_path / "shop_pkg"
    (package / "routers").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "routers" / "__init__.py").write_text("")
    (package / "routers" / "users.py").write_text(
        "from fastapi import APIRouter\nrouter = APIRouter()\n\n"
        "@router.get('/users/')\ndef read_users():\n    return [{'username': 'Rick'}]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield package
    for name in [m for m in sys.modules if m.startswith("shop_pkg")]:
        del sys.modules[name]


def test_rerunning_an_include_of_a_router_reached_through_an_attribute_keeps_it(
    shell: Shell, shop: Path
) -> None:
    shell.ok(APP, cell_id="app")
    include = "from shop_pkg.routers import users\napp.include_router(users.router)"
    shell.ok(include, cell_id="include")
    shell.ok(include, cell_id="include")
    assert shell.get("/users/").json() == [{"username": "Rick"}]
    shell.ok(include.replace("router)", "router, prefix='/v1')"), cell_id="include")
    assert shell.get("/v1/users/").status_code == 200
    assert shell.get("/users/").status_code == 404


def test_a_module_router_bound_to_a_name_survives_reruns(shell: Shell, shop: Path) -> None:
    shell.ok(APP, cell_id="app")
    cell = "from shop_pkg.routers.users import router as users_router\napp.include_router(users_router)"
    for _ in range(3):
        shell.ok(cell, cell_id="include")
        assert shell.get("/users/").status_code == 200


def test_two_definitions_of_one_method_and_path_in_one_cell_the_last_wins(shell: Shell) -> None:
    shell.ok(APP, cell_id="app")
    cell = (
        "@app.post('/items/')\ndef create_item(): return {'v': 1}\n\n"
        "@app.post('/items/', status_code=201)\ndef create_item(): return {'v': 2}"
    )
    shell.ok(cell, cell_id="items")
    response = shell.post("/items/")
    assert (response.status_code, response.json()) == (201, {"v": 2})
    assert len(paths(shell, "/items/")) == 1
    shell.ok(cell, cell_id="items")  # and again on a re-run
    assert shell.post("/items/").status_code == 201
    assert len(paths(shell, "/items/")) == 1


def test_an_edited_away_redefinition_brings_back_the_other_cells_route(shell: Shell) -> None:
    shell.ok(APP, cell_id="app")
    shell.ok("@app.get('/x')\ndef x_a(): return 'a'", cell_id="a")
    shell.ok("@app.get('/y')\ndef y(): return 'y'", cell_id="between")
    shell.ok("@app.get('/x')\ndef x_b(): return 'b'", cell_id="b")
    assert shell.get("/x").json() == "b"
    shell.ok("@app.get('/z')\ndef x_b(): return 'z'", cell_id="b")  # b no longer defines /x
    assert shell.get("/x").json() == "a"
    assert [r.path for r in shell.ns["app"].router.routes][-3:] == ["/x", "/y", "/z"]  # a's place


def test_a_deleted_redefinition_brings_back_the_other_cells_route(shell: Shell) -> None:
    shell.ok(APP, cell_id="app")
    shell.ok("@app.get('/x')\ndef x_a(): return 'a'", cell_id="a")
    shell.ok("@app.get('/x')\ndef x_b(): return 'b'", cell_id="b")
    shell.session.forget_cells(["b"])
    assert shell.get("/x").json() == "a"
    shell.session.forget_cells(["a"])
    assert shell.get("/x").status_code == 404


def test_a_route_its_own_cell_edited_away_does_not_come_back(shell: Shell) -> None:
    shell.ok(APP, cell_id="app")
    shell.ok("@app.get('/x')\ndef x_a(): return 'a'", cell_id="a")
    shell.ok("@app.get('/x')\ndef x_b(): return 'b'", cell_id="b")
    shell.ok("pass", cell_id="a")  # a no longer defines /x
    shell.ok("pass", cell_id="b")  # nor b: nothing is left to bring back
    assert shell.get("/x").status_code == 404


def test_a_brought_back_route_uses_the_current_model(shell: Shell) -> None:
    shell.ok(APP + "\nfrom pydantic import BaseModel", cell_id="app")
    shell.ok("class Item(BaseModel):\n    name: str", cell_id="model")
    shell.ok("@app.post('/i')\ndef make(item: Item): return item", cell_id="a")
    shell.ok("@app.post('/i')\ndef make2(): return 'b'", cell_id="b")
    shell.ok("class Item(BaseModel):\n    name: str\n    size: int", cell_id="model")
    shell.session.forget_cells(["b"])
    assert shell.post("/i", json={"name": "n"}).status_code == 422  # size is required now
    assert shell.post("/i", json={"name": "n", "size": 1}).json() == {"name": "n", "size": 1}


# --- @app.on_event ---------------------------------------------------------------------------

STARTUP = (
    "@app.on_event('startup')\nasync def fill():\n    events.append('start')\n    items['a'] = 1\n\n"
    "@app.on_event('shutdown')\ndef empty():\n    events.append('stop')"
)


def test_a_startup_handler_added_to_a_serving_app_runs_once_per_run_of_its_cell(shell: Shell) -> None:
    shell.ok(APP + "\nitems, events = {}, []", cell_id="app")
    shell.ok("@app.get('/items')\ndef read(): return items", cell_id="route")
    assert shell.get("/items").json() == {}
    shell.ok(STARTUP, cell_id="events")
    assert shell.get("/items").json() == {"a": 1}
    assert shell.ns["events"] == ["start"]
    shell.ok(STARTUP, cell_id="events")  # replaces, does not stack
    assert shell.ns["events"] == ["start", "start"]
    assert len(shell.ns["app"].router.on_startup) == len(shell.ns["app"].router.on_shutdown) == 1
    shell.ok("app = FastAPI()", cell_id="app")  # swapped: the old app's shutdown handlers run
    assert shell.ns["events"] == ["start", "start", "stop"]


def test_a_handler_appended_to_router_on_startup_runs_too(shell: Shell) -> None:
    shell.ok(APP + "\nseen = []", cell_id="app")
    shell.ok("app.router.on_startup.append(lambda: seen.append(1))", cell_id="append")
    assert shell.ns["seen"] == [1]
    shell.session.forget_cells(["append"])
    assert shell.ns["app"].router.on_startup == []


def test_startup_handlers_of_an_app_with_a_lifespan_do_not_run(shell: Shell) -> None:
    # FastAPI ignores on_event when lifespan= is given; so does a fresh run.
    shell.ok(
        APP.replace("app = FastAPI()", "") + "\nfrom contextlib import asynccontextmanager\nseen = []\n"
        "@asynccontextmanager\nasync def life(app):\n    yield\n\napp = FastAPI(lifespan=life)",
        cell_id="app",
    )
    shell.ok("@app.on_event('startup')\ndef never(): seen.append(1)", cell_id="events")
    assert shell.ns["seen"] == []


def test_a_failing_startup_handler_is_one_line_and_the_app_keeps_serving(shell: Shell, capsys) -> None:
    shell.ok(APP, cell_id="app")
    shell.ok("@app.get('/ok')\ndef ok(): return 1", cell_id="route")
    shell.ok("@app.on_event('startup')\ndef broken(): raise ValueError('no db')", cell_id="events")
    assert "the startup handler broken failed: ValueError: no db" in capsys.readouterr().err
    assert shell.get("/ok").json() == 1


# --- exception handlers and middleware --------------------------------------------------------


def test_exception_handlers_by_status_code_follow_edits_and_deletes(shell: Shell) -> None:
    shell.ok(APP + "\nfrom fastapi.responses import JSONResponse", cell_id="app")
    handler = "@app.exception_handler({code})\nasync def h(request, exc): return JSONResponse({{'h': '{v}'}}, {code})"
    shell.ok(handler.format(code=404, v="a"), cell_id="a")
    assert shell.get("/nowhere").json() == {"h": "a"}
    shell.ok(handler.format(code=404, v="b"), cell_id="b")
    assert shell.get("/nowhere").json() == {"h": "b"}
    shell.session.forget_cells(["b"])
    assert shell.get("/nowhere").json() == {"h": "a"}
    shell.ok(handler.format(code=418, v="a"), cell_id="a")  # edited: no 404 handler is left
    assert shell.get("/nowhere").json() == {"detail": "Not Found"}


def test_exception_handlers_by_class_follow_the_class_and_the_handler_cell(shell: Shell) -> None:
    shell.ok(APP + "\nfrom fastapi.responses import JSONResponse", cell_id="app")
    shell.ok("class Nope(Exception): pass", cell_id="exc")
    shell.ok("@app.get('/n')\ndef n(): raise Nope()", cell_id="route")
    cell = "@app.exception_handler(Nope)\nasync def on_nope(request, exc): return JSONResponse({'v': V}, 409)"
    shell.ok(cell.replace("V", "1"), cell_id="handler")
    assert shell.get("/n").json() == {"v": 1}
    shell.ok(cell.replace("V", "2"), cell_id="handler")
    assert shell.get("/n").json() == {"v": 2}
    shell.ok("class Nope(Exception): pass", cell_id="exc")  # a new class: the handler must follow
    shell.ok(cell.replace("V", "3"), cell_id="handler")
    assert shell.get("/n").json() == {"v": 3}
    shell.session.forget_cells(["handler"])
    assert shell.get("/n").status_code == 500


MIDDLEWARE = (
    "@app.middleware('http')\nasync def {name}(request, call_next):\n"
    "    response = await call_next(request)\n"
    "    response.headers['x-trail'] = response.headers.get('x-trail', '') + '{tag};'\n"
    "    return response"
)


def test_a_rerun_middleware_keeps_its_place_in_the_stack(shell: Shell) -> None:
    shell.ok(APP, cell_id="app")
    shell.ok("@app.get('/')\ndef root(): return 1", cell_id="route")
    shell.ok(MIDDLEWARE.format(name="first", tag="1"), cell_id="m1")
    shell.ok(MIDDLEWARE.format(name="second", tag="2"), cell_id="m2")
    order = shell.get("/").headers["x-trail"]
    shell.ok(MIDDLEWARE.format(name="first", tag="1b"), cell_id="m1")
    assert shell.get("/").headers["x-trail"] == order.replace("1;", "1b;")
    shell.session.forget_cells(["m2"])
    assert shell.get("/").headers["x-trail"] == "1b;"


def test_a_deleted_middleware_redefinition_brings_back_the_older_one(shell: Shell) -> None:
    shell.ok(APP, cell_id="app")
    shell.ok("@app.get('/')\ndef root(): return 1", cell_id="route")
    shell.ok(MIDDLEWARE.format(name="tag", tag="a"), cell_id="a")
    shell.ok(MIDDLEWARE.format(name="tag", tag="b"), cell_id="b")  # same name: replaces a's
    assert shell.get("/").headers["x-trail"] == "b;"
    shell.session.forget_cells(["b"])
    assert shell.get("/").headers["x-trail"] == "a;"


# --- front ends that don't report deleted cells ------------------------------------------------


def test_api_forget_drops_a_cell_by_execution_count_or_id(shell: Shell, capsys) -> None:
    shell.ok(APP, cell_id="app")
    result = shell.ok("@app.get('/a')\ndef a(): return 1", cell_id="vscode-notebook-cell:/nb.ipynb#a")
    shell.ok("@app.get('/b')\ndef b(): return 2", cell_id="vscode-notebook-cell:/nb.ipynb#b")
    shell.ok(f"%api forget {result.execution_count}")
    assert f"In [{result.execution_count}] is forgotten" in capsys.readouterr().out
    assert shell.get("/a").status_code == 404
    shell.ok("kernel_ext.forget('vscode-notebook-cell:/nb.ipynb#b')")
    assert shell.get("/b").status_code == 404
    assert shell.session.cells.deleted == {
        "vscode-notebook-cell:/nb.ipynb#a",
        "vscode-notebook-cell:/nb.ipynb#b",
    }


def test_api_forget_says_plainly_what_it_cannot_do(shell: Shell) -> None:
    shell.ok(APP)
    unknown = shell.run("%api forget 999")
    assert "no cell '999' has run in this kernel" in str(unknown.error_in_exec)
    no_id = shell.run("@app.get('/x')\ndef x(): return 1")  # no cell id, as under nbclient
    failed = shell.run(f"%api forget {no_id.execution_count}")
    assert "ran without a cell id" in str(failed.error_in_exec)
    assert shell.get("/x").status_code == 200


def test_export_leaves_out_deleted_cells(shell: Shell, tmp_path: Path) -> None:
    shell.ok(APP, cell_id="app")
    shell.ok("@app.get('/kept')\ndef kept(): return 1", cell_id="kept")
    shell.ok("@app.get('/deleted')\ndef deleted(): return 2", cell_id="gone")
    shell.session.forget_cells(["gone"])
    shell.ok(f"kernel_ext.export({str(tmp_path / 'out')!r})", cell_id="export")
    code = "\n".join(p.read_text() for p in (tmp_path / "out").rglob("*.py"))
    assert "/kept" in code and "/deleted" not in code


# --- where the live app and a fresh run part, it says so ---------------------------------------


def test_rerunning_a_cell_above_another_that_defines_the_same_route_warns(shell: Shell, capsys) -> None:
    shell.ok(APP, cell_id="app")
    shell.ok("@app.get('/x')\ndef x_a(): return 'a'", cell_id="above")
    shell.ok("@app.get('/x')\ndef x_b(): return 'b'", cell_id="below")
    assert "lower in the notebook" not in capsys.readouterr().err  # below wins in a fresh run too
    below = shell.session.cells.find("below")
    shell.ok("@app.get('/x')\ndef x_a(): return 'a2'", cell_id="above")
    assert shell.get("/x").json() == "a2"
    err = capsys.readouterr().err
    assert f"GET /x is also defined in {below.label}, lower in the notebook" in err


def test_a_cell_that_failed_on_its_first_run_owns_what_it_registered(shell: Shell) -> None:
    shell.ok(APP, cell_id="app")
    failed = shell.run("@app.get('/half')\ndef half(): return 1\n\nraise RuntimeError('typo')", cell_id="c")
    assert not failed.success
    assert shell.get("/half").json() == 1  # what ran before the error is live, as in a fresh run
    shell.ok("@app.get('/whole')\ndef whole(): return 2", cell_id="c")  # fixed, and /half edited away
    assert shell.get("/half").status_code == 404
    assert shell.get("/whole").json() == 2


def test_a_redefined_exception_class_keeps_its_handler_as_a_fresh_run_would(shell: Shell) -> None:
    shell.ok(APP + "\nfrom fastapi.responses import JSONResponse", cell_id="app")
    shell.ok("class Nope(Exception): pass", cell_id="exc")
    shell.ok("@app.get('/n')\ndef n(): raise Nope()", cell_id="route")
    handler = (
        "@app.exception_handler(Nope)\nasync def on_nope(request, exc): return JSONResponse({'v': 1}, 409)"
    )
    shell.ok(handler, cell_id="handler")
    shell.ok("class Nope(Exception): pass", cell_id="exc")  # only the class cell is re-run
    assert shell.get("/n").json() == {"v": 1}
    shell.session.forget_cells(["handler"])  # and the handler still belongs to its cell
    assert shell.get("/n").status_code == 500


def test_middleware_added_as_a_redefined_class_uses_the_new_class(shell: Shell) -> None:
    shell.ok(APP + "\nfrom starlette.middleware.base import BaseHTTPMiddleware", cell_id="app")
    shell.ok("@app.get('/')\ndef root(): return 1", cell_id="route")
    mw = (
        "class Tag(BaseHTTPMiddleware):\n    async def dispatch(self, request, call_next):\n"
        "        response = await call_next(request)\n        response.headers['x-tag'] = 'V'\n"
        "        return response"
    )
    shell.ok(mw.replace("V", "1"), cell_id="class")
    shell.ok("app.add_middleware(Tag)", cell_id="add")
    assert shell.get("/").headers["x-tag"] == "1"
    shell.ok(mw.replace("V", "2"), cell_id="class")
    assert shell.get("/").headers["x-tag"] == "2"
    assert len(shell.ns["app"].user_middleware) == 1


def test_rerunning_the_cell_that_makes_a_mounted_sub_app_serves_the_new_one(shell: Shell) -> None:
    shell.ok(APP, cell_id="app")
    sub = "sub = FastAPI()\n\n@sub.get('/v')\ndef v(): return V"
    shell.ok(sub.replace("V", "1"), cell_id="sub")
    shell.ok("app.mount('/sub', sub)", cell_id="mount")
    assert shell.get("/sub/v").json() == 1
    shell.ok(sub.replace("V", "2"), cell_id="sub")  # the mount cell is not re-run
    assert shell.get("/sub/v").json() == 2


def test_a_redefined_lifespan_function_runs_for_the_app_that_uses_it(shell: Shell) -> None:
    shell.ok(
        APP.replace("app = FastAPI()", "") + "\nfrom contextlib import asynccontextmanager", cell_id="imports"
    )
    life = "@asynccontextmanager\nasync def lifespan(app):\n    state['v'] = V\n    yield\n    state.clear()"
    shell.ok("state = {}\n" + life.replace("V", "1"), cell_id="life")
    shell.ok("app = FastAPI(lifespan=lifespan)", cell_id="app")
    shell.ok("@app.get('/v')\ndef v(): return state['v']", cell_id="route")
    assert shell.get("/v").json() == 1
    shell.ok("state = {}\n" + life.replace("V", "2"), cell_id="life")  # the app cell is not re-run
    assert shell.get("/v").json() == 2


def test_recreating_a_router_keeps_the_routes_other_cells_put_on_it_and_their_cells_own_them(
    shell: Shell,
) -> None:
    shell.ok(APP, cell_id="app")
    shell.ok("r = APIRouter()", cell_id="router")
    shell.ok("@r.get('/x')\ndef x(): return 1", cell_id="route")
    shell.ok("app.include_router(r, prefix='/p')", cell_id="include")
    shell.ok("r = APIRouter()", cell_id="router")  # re-run: a new, empty router
    assert shell.get("/p/x").json() == 1
    shell.session.forget_cells(["route"])
    assert shell.get("/p/x").status_code == 404
