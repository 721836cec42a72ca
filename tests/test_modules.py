"""Edits to the modules a notebook imports follow as re-run cells do (a real IPython shell)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.shell import Shell
from tests.support.shop import APP, Package


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Package]:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    package = Package(tmp_path)
    try:
        yield package
    finally:
        for name in [n for n in sys.modules if n == "shop" or n.startswith("shop.")]:
            del sys.modules[name]


def paths(s: Shell) -> list[str]:
    return list(s.get("/openapi.json").json()["paths"])


def test_a_new_route_in_the_module_serves_after_importlib_reload(shell: Shell, shop: Package) -> None:
    shell.ok(APP)
    assert shell.get("/api/items/new").status_code == 404
    shop.edit(
        '@router.get("/me")',
        '@router.get("/new")\ndef new() -> str:\n    return "new"\n\n\n@router.get("/me")',
    )
    shell.ok("import importlib; importlib.reload(items)")
    assert shell.get("/api/items/new").json() == "new"
    assert paths(shell) == ["/first", "/api/items/list", "/api/items/new", "/api/items/me", "/last"]
    assert shell.get("/api/items/list").json() == [{"name": "a"}]


def test_a_removed_route_stops_serving_after_kernel_ext_reload(shell: Shell, shop: Package) -> None:
    shell.ok(APP)
    shop.edit('@router.get("/me")\ndef me', "def me")
    shell.ok("import kernel_ext; kernel_ext.reload('shop.items')")
    assert shell.get("/api/items/me").status_code == 404
    assert paths(shell) == ["/first", "/api/items/list", "/last"]


def test_a_changed_path_serves_before_the_next_cell_runs_with_autoreload(shell: Shell, shop: Package) -> None:
    shell.ok(APP, cell_id="app")  # cells with ids, as JupyterLab sends them
    shell.ok("%load_ext autoreload", cell_id="load")  # after kernel_ext: its hook runs after ours
    shell.ok("%autoreload 2", cell_id="mode")
    shop.edit('@router.get("/list")', '@router.get("/all")')
    # The cell itself already sees the new app: the reload is settled before its code runs.
    shell.ok(
        "import httpx, kernel_ext\nseen = httpx.get(kernel_ext.base_url() + '/api/items/all').json()",
        cell_id="probe",
    )
    assert shell.ns["seen"] == [{"name": "a"}]
    assert shell.get("/api/items/list").status_code == 404
    assert paths(shell) == ["/first", "/api/items/all", "/api/items/me", "/last"]
    shell.ok("%autoreload 0")


def test_a_new_model_field_rebuilds_module_and_notebook_routes(shell: Shell, shop: Package) -> None:
    shell.ok(APP)
    shell.ok(
        """
        @app.post("/echo")
        def echo(item: items.Item) -> items.Item:
            return item
    """.replace("\n        ", "\n")
    )
    shell.ok("%load_ext autoreload")
    shell.ok("%autoreload 2")
    shop.edit("    name: str\n", "    name: str\n    price: float = 1.5\n")
    shell.ok("pass")
    assert shell.get("/api/items/list").json() == [{"name": "a", "price": 1.5}]
    assert shell.post("/echo", json={"name": "x", "price": 3}).json() == {"name": "x", "price": 3.0}
    schema = shell.get("/openapi.json").json()["components"]["schemas"]["Item"]
    assert "price" in schema["properties"]
    shell.ok("%autoreload 0")


def test_a_redefined_dependency_is_used_by_module_and_notebook_routes(shell: Shell, shop: Package) -> None:
    shell.ok(APP)
    shell.ok(
        """
        from fastapi import Depends

        @app.get("/whoami")
        def whoami(user: str = Depends(items.get_user)) -> str:
            return user
    """.replace("\n        ", "\n")
    )
    assert shell.get("/whoami").json() == "alice"
    # A new signature too: FastAPI must read the new header parameter.
    shop.edit(
        'def get_user() -> str:\n    return "alice"',
        'from fastapi import Header\n\n\ndef get_user(x_user: str = Header("bob")) -> str:\n    return x_user',
    )
    shell.ok("importlib = __import__('importlib'); importlib.reload(items)")
    assert shell.get("/whoami").json() == "bob"
    assert shell.get("/whoami", headers={"x-user": "carol"}).json() == "carol"
    assert shell.get("/api/items/me", headers={"x-user": "dave"}).json() == "dave"


def test_a_module_imported_under_two_names_is_settled_once(shell: Shell, shop: Package) -> None:
    shell.ok(APP)
    shell.ok("import shop.items\nfrom shop.items import Item")
    shop.edit('@router.get("/list")', '@router.get("/all")')
    shop.edit("    name: str\n", "    name: str\n    price: float = 1.5\n")
    shell.ok("import importlib; importlib.reload(shop.items)")
    assert shell.ns["items"] is shell.ns["shop"].items
    assert shell.ns["Item"] is shell.ns["items"].Item  # `from shop.items import Item` follows
    assert paths(shell) == ["/first", "/api/items/all", "/api/items/me", "/last"]
    assert shell.get("/api/items/all").json() == [{"name": "a", "price": 1.5}]
    shell.ok("import kernel_ext; kernel_ext.reload('shop.items')")  # once more: still one include
    assert paths(shell) == ["/first", "/api/items/all", "/api/items/me", "/last"]


def test_a_syntax_error_in_the_file_keeps_the_previous_version_serving(
    shell: Shell, shop: Package, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.ok(APP)
    shop.edit('@router.get("/list")', '@router.get("/all"')
    result = shell.run("%api reload shop.items")
    assert not result.success
    assert "syntax error" in str(result.error_in_exec) and "items.py:" in str(result.error_in_exec)
    assert shell.get("/api/items/list").status_code == 200
    assert "syntax error" in (shell.session.last_error or "")
    assert any("syntax error" in line for line in shell.session.request_log.lines())
    # With %autoreload the same: autoreload reports it, the old version serves.
    shell.ok("%load_ext autoreload")
    shell.ok("%autoreload 2")
    shell.ok("pass")
    assert shell.get("/api/items/list").status_code == 200
    shop.edit('@router.get("/all"', '@router.get("/all")')
    shell.ok("pass")
    assert shell.get("/api/items/all").status_code == 200
    shell.ok("%autoreload 0")


def test_a_runtime_error_while_reloading_restores_the_module(shell: Shell, shop: Package) -> None:
    shell.ok(APP)
    shop.edit("class Item", "raise RuntimeError('half way')\n\n\nclass Item")
    result = shell.run("import kernel_ext; kernel_ext.reload('shop.items')")
    assert "half way" in str(result.error_in_exec)
    assert shell.ns["items"].Item is not None and shell.get("/api/items/list").status_code == 200


def test_an_instance_of_an_old_class_is_named_in_a_warning(
    shell: Shell, shop: Package, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.ok(APP)
    shell.ok("cached = items.Item(name='kept')")
    shell.ok("import functools\nuser = functools.partial(items.get_user)")
    shop.edit("    name: str\n", "    name: str\n    price: float = 1.5\n")
    capsys.readouterr()
    shell.ok("import kernel_ext; kernel_ext.reload('shop.items')")
    err = capsys.readouterr().err
    assert "cached is a Item made before shop.items was reloaded" in err
    assert "user is a partial of get_user made before shop.items was reloaded" in err
    assert "re-run In [" in err
    assert sorted(s.name for s in shell.session.modules.stale_objects()) == ["cached", "user"]
    shell.ok("cached = items.Item(name='new')\nuser = functools.partial(items.get_user)")
    assert shell.session.modules.stale_objects() == []


def test_reload_names_an_unknown_module(shell: Shell) -> None:
    result = shell.run("%api reload no_such_module_here")
    assert "no_such_module_here is not imported" in str(result.error_in_exec)


def test_the_include_cell_rerun_after_a_reload_still_replaces_its_include(
    shell: Shell, shop: Package
) -> None:
    shell.ok("from fastapi import FastAPI\nfrom shop import items\napp = FastAPI()", cell_id="a")
    shell.ok("app.include_router(items.router, prefix='/api')", cell_id="include")
    shop.edit('@router.get("/list")', '@router.get("/all")')
    shell.ok("import kernel_ext; kernel_ext.reload('shop.items')", cell_id="reload")
    assert paths(shell) == ["/api/items/all", "/api/items/me"]
    shell.ok("app.include_router(items.router, prefix='/api')", cell_id="include")
    assert paths(shell) == ["/api/items/all", "/api/items/me"]
    shell.ok("app.include_router(items.router, prefix='/v2')", cell_id="include")  # edited
    assert paths(shell) == ["/v2/items/all", "/v2/items/me"]


def test_check_reports_an_instance_of_an_old_class(
    shell: Shell, shop: Package, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kernel_ext

    monkeypatch.chdir(shop.root)  # the fresh run copies the working directory, shop/ with it
    shell.ok(APP)
    shell.ok("cached = items.Item(name='kept')")
    shop.edit("    name: str\n", "    name: str\n    price: float = 1.5\n")
    shell.ok("%api reload shop.items")
    result = kernel_ext.check()
    assert [(d.kind, d.what) for d in result.differences] == [("stale object", "cached")]
    assert "re-run In [" in result.differences[0].rerun


def test_an_app_made_in_a_module_is_served_again_after_its_reload(shell: Shell, shop: Package) -> None:
    shop.write(
        "main.py",
        "from fastapi import FastAPI\nfrom shop import items\n\napp = FastAPI()\napp.include_router(items.router)\n",
    )
    shell.ok("from shop.main import app")
    assert shell.get("/items/list").status_code == 200
    shop.edit("app.include_router(items.router)", "app.include_router(items.router, prefix='/v2')", "main.py")
    shell.ok("import kernel_ext; kernel_ext.reload('shop.main')")
    assert shell.ns["app"] is sys.modules["shop.main"].app
    assert shell.get("/v2/items/list").status_code == 200
    assert shell.get("/items/list").status_code == 404


MAIN = """
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shop import items

app = FastAPI()
app.include_router(items.router)


class Teapot(Exception):
    pass


@app.exception_handler(Teapot)
def teapot(request: Request, exc: Teapot) -> JSONResponse:
    return JSONResponse({"brewed": "v1"}, status_code=418)


@app.middleware("http")
async def stamp(request: Request, call_next):
    response = await call_next(request)
    response.headers["x-stamp"] = "v1"
    return response


@app.get("/tea")
def tea() -> None:
    raise Teapot()
"""


def test_middleware_and_handlers_of_a_module_app_follow_its_reload(shell: Shell, shop: Package) -> None:
    shop.write("main.py", MAIN)
    shell.ok("from shop.main import app")
    r = shell.get("/tea")
    assert (r.status_code, r.json(), r.headers["x-stamp"]) == (418, {"brewed": "v1"}, "v1")
    shop.write("main.py", MAIN.replace('"v1"', '"v2"'))
    shell.ok("%api reload shop.main")
    r = shell.get("/tea")
    assert (r.status_code, r.json(), r.headers["x-stamp"]) == (418, {"brewed": "v2"}, "v2")
    assert shell.get("/items/list").status_code == 200


def test_a_mounted_app_of_a_module_serves_its_new_version(shell: Shell, shop: Package) -> None:
    shop.write(
        "admin.py",
        "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get('/ping')\ndef ping() -> str:\n    return 'v1'\n",
    )
    shell.ok(
        "from fastapi import FastAPI\nfrom shop import admin\n\napp = FastAPI()\napp.mount('/admin', admin.app)"
    )
    assert shell.get("/admin/ping").json() == "v1"
    shop.edit("return 'v1'", "return 'v2'", "admin.py")
    shell.ok("%api reload shop.admin")
    assert shell.get("/admin/ping").json() == "v2"
    assert [getattr(r, "path", None) for r in shell.ns["app"].router.routes][-1] == "/admin"


def test_autoreload_loaded_before_kernel_ext_is_settled_before_the_cell_too(
    shell: Shell, shop: Package
) -> None:
    shell.ok(APP, cell_id="app")
    shell.ok("%load_ext autoreload\n%autoreload 2", cell_id="mode")
    callbacks = shell.ip.events.callbacks["pre_run_cell"]
    autoreload = next(c for c in callbacks if "autoreload" in getattr(c, "__module__", ""))
    callbacks.remove(autoreload)
    callbacks.insert(0, autoreload)  # as if %load_ext autoreload had come first
    shop.edit('@router.get("/list")', '@router.get("/all")')
    shell.ok(
        "import httpx, kernel_ext\nseen = httpx.get(kernel_ext.base_url() + '/api/items/all').json()",
        cell_id="probe",
    )
    assert shell.ns["seen"] == [{"name": "a"}]
    assert paths(shell) == ["/first", "/api/items/all", "/api/items/me", "/last"]
    shell.ok("%autoreload 0")


def test_reload_recursive_takes_the_package_submodules_first(shell: Shell, shop: Package) -> None:
    shop.write("__init__.py", "from shop.items import router as items_router\n")
    shell.ok(
        "from fastapi import FastAPI\nimport shop\n\napp = FastAPI()\napp.include_router(shop.items_router)"
    )
    shop.edit('@router.get("/list")', '@router.get("/all")')
    shell.ok("%api reload shop --recursive")
    assert paths(shell) == ["/items/all", "/items/me"]
    assert shell.ns["shop"].items_router is sys.modules["shop.items"].router


def test_a_module_taken_out_of_sys_modules_is_no_longer_tracked(shell: Shell, shop: Package) -> None:
    shell.ok(APP)
    watch = shell.session.modules
    assert "shop.items" in watch._tracked
    shell.ok("import sys\ndel sys.modules['shop.items']")
    assert "shop.items" not in watch._tracked
    assert watch.settle() is None
    assert shell.get("/api/items/list").status_code == 200


def test_a_route_a_module_adds_to_another_modules_router_is_replaced_by_a_reload_in_a_cell(
    shell: Shell, shop: Package
) -> None:
    shop.write(
        "extra.py",
        "from shop.items import router\n\n\n@router.get('/extra')\ndef extra() -> str:\n    return 'v1'\n",
    )
    shell.ok(APP + "\nimport shop.extra")
    assert shell.get("/api/items/extra").json() == "v1"
    shop.edit("return 'v1'", "return 'v2'", "extra.py")
    shell.ok("%api reload shop.extra")
    assert shell.get("/api/items/extra").json() == "v2"
    assert paths(shell).count("/api/items/extra") == 1


HOOKS = """
from fastapi.responses import JSONResponse
from shop.base import app


@app.middleware("http")
async def stamp(request, call_next):
    response = await call_next(request)
    response.headers["x-hooks"] = "v1"
    return response


@app.exception_handler(404)
async def missing(request, exc):
    return JSONResponse({"missing": "v1"}, status_code=404)
"""


def test_middleware_and_handlers_a_module_adds_to_an_app_made_elsewhere_follow_its_reloads(
    shell: Shell, shop: Package
) -> None:
    shop.write("base.py", "from fastapi import FastAPI\n\napp = FastAPI()\n")
    shop.write("hooks.py", HOOKS)
    shell.ok(
        "from shop.base import app\nimport shop.hooks\n\n@app.get('/')\ndef root():\n    return 1", "cell"
    )
    assert shell.get("/").headers["x-hooks"] == "v1"
    shop.write("hooks.py", HOOKS.replace('"v1"', '"v2"'))
    shell.ok("%api reload shop.hooks", "reload")
    response = shell.get("/nowhere")
    assert (response.json(), response.headers["x-hooks"]) == ({"missing": "v2"}, "v2")
    assert len(shell.ns["app"].user_middleware) == 1  # replaced, not stacked
    shell.ok(
        "from shop.base import app\nimport shop.hooks\n\n@app.get('/')\ndef root():\n    return 1", "cell"
    )
    assert shell.get("/").headers["x-hooks"] == "v2"  # the cell's re-run does not drop the module's
    shop.write("hooks.py", "from shop.base import app\n")  # the file no longer registers either
    shell.ok("%api reload shop.hooks", "reload")
    response = shell.get("/nowhere")
    assert response.json() == {"detail": "Not Found"}
    assert "x-hooks" not in response.headers
