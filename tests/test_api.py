"""The plain functions behind `%api`, called directly: what notebooks and tests use."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

import kernel_ext
from kernel_ext._display import DocsView, RouteTable, StatusCard
from kernel_ext._serving._server import ServerError
from tests.support.ports import free_port, port_is_free
from tests.support.shell import Shell

APP = (
    "from fastapi import FastAPI, Depends\n"
    "from pydantic import BaseModel\n"
    "app = FastAPI()\n"
    "class Item(BaseModel):\n"
    "    name: str\n"
    "def get_db(): return 'db'\n"
    "@app.post('/items')\n"
    "def create(item: Item, db: str = Depends(get_db)) -> Item:\n"
    "    print('creating', item.name)\n"
    "    return item\n"
)


def test_every_function_needs_the_extension() -> None:
    from kernel_ext._session import current_session

    assert current_session() is None
    for call in (kernel_ext.status, kernel_ext.routes, kernel_ext.docs, kernel_ext.base_url, kernel_ext.stop):
        with pytest.raises(RuntimeError, match="not loaded; run %load_ext kernel_ext first"):
            call()


def test_status_is_a_card_of_the_current_state(shell: Shell) -> None:
    shell.ok(APP)
    card = kernel_ext.status()
    assert isinstance(card, StatusCard)
    assert repr(card).startswith(f"kernel_ext state: running | url: {shell.url}/ | docs: {shell.url}/docs")
    assert "| app: app | routes: 1 |" in repr(card)


def test_routes_table(shell: Shell) -> None:
    count = shell.ok(APP).execution_count
    table = kernel_ext.routes()
    assert isinstance(table, RouteTable)
    [row] = table.rows
    assert vars(row) == {
        "methods": "POST",
        "path": "/items",
        "endpoint": "create",
        "cell": f"[{count}]",
        "request_model": "Item",
        "response_model": "Item",
        "dependencies": "get_db",
    }
    assert table.warnings == []


def test_routes_shows_stale_model_warnings(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok(
        "class Order(BaseModel):\n    item: Item\n@app.post('/orders')\ndef order(o: Order) -> Order: return o"
    )
    shell.ok("class Item(BaseModel):\n    name: str\n    price: float = 0")
    [warning] = kernel_ext.routes().warnings
    assert warning.startswith("model Order still uses the old Item; re-run the cell that defines it (In [")
    assert "warning: model Order still uses the old Item" in repr(kernel_ext.routes())


def test_docs_points_at_swagger_ui(shell: Shell) -> None:
    shell.ok(APP)
    view = kernel_ext.docs()
    assert isinstance(view, DocsView) and view.url == shell.url + "/docs"
    page = httpx.get(view.url, timeout=10)
    assert page.status_code == 200 and "swagger-ui" in page.text
    shell.ok("app = FastAPI(docs_url='/swagger')")
    assert kernel_ext.docs().url == shell.url + "/swagger"
    shell.ok("app = FastAPI(docs_url=None)")
    with pytest.raises(ValueError, match="app has no docs page"):
        kernel_ext.docs()
    kernel_ext.stop()
    with pytest.raises(RuntimeError, match="the server is stopped; %api start starts it"):
        kernel_ext.docs()


def test_log_is_fed_as_requests_arrive(shell: Shell) -> None:
    shell.ok(APP)
    live = kernel_ext.log()
    try:
        assert shell.post("/items", json={"name": "pen"}).status_code == 200
        # (pytest swaps sys.stdout between phases, so `print` in endpoints is checked in test_magics)
        lines = shell.session.request_log.lines()
        access = [line for line in lines if '"POST /items HTTP/1.1" 200' in line]
        assert len(access) == 1
        # The widget is fed by the sink and redrawn (throttled) with the latest lines.
        live.flush()
        streamed = "".join(o["text"] for o in live.output.outputs)
        assert streamed.endswith(access[0] + "\n")
        assert access[0] in repr(live)
    finally:
        live.close()
    shell.post("/items", json={"name": "after close"})
    assert "".join(o["text"] for o in live.output.outputs) == streamed
    last = kernel_ext.log(last=1)
    assert "".join(o["text"] for o in last.output.outputs) == shell.session.request_log.lines()[-1] + "\n"
    last.close()


def test_stop_start_restart(shell: Shell) -> None:
    shell.ok(APP)
    url, port = shell.url, shell.session.port
    assert "state: stopped" in repr(kernel_ext.stop())
    assert port_is_free(port)
    with pytest.raises(RuntimeError, match="not running"):
        kernel_ext.base_url()
    card = kernel_ext.start()
    assert "state: running" in repr(card) and kernel_ext.base_url() == url  # the same port again
    assert shell.post("/items", json={"name": "x"}).status_code == 200
    assert "state: running" in repr(kernel_ext.restart()) and kernel_ext.base_url() == url
    kernel_ext.stop()
    other = free_port()
    kernel_ext.start(port=other)
    assert kernel_ext.base_url() == f"http://127.0.0.1:{other}"
    with pytest.raises(ServerError, match="already running"):
        kernel_ext.start()


def test_a_taken_port_shows_as_the_last_error(shell: Shell) -> None:
    kernel_ext.stop()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        with pytest.raises(ServerError, match="already in use"):
            kernel_ext.start(port=taken)
    card = repr(kernel_ext.status())
    assert card.startswith("kernel_ext state: stopped")
    assert f"last error: Port {taken} on 127.0.0.1 is already in use" in card
    kernel_ext.start()
    assert "last error" not in repr(kernel_ext.status())


def test_a_failed_lifespan_shows_as_the_last_error(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok(
        "from contextlib import asynccontextmanager\n"
        "@asynccontextmanager\n"
        "async def broken(app):\n"
        "    raise RuntimeError('no database')\n"
        "    yield\n"
        "app = FastAPI(lifespan=broken)\n"
    )
    card = kernel_ext.status()
    assert "last error: the new app's lifespan failed at startup" in repr(card)
    assert "no database" in repr(card) and "no database" in card._repr_html_()
    assert shell.post("/items", json={"name": "x"}).status_code == 200  # the previous app serves on


def test_serve_another_app_and_refuse_what_is_not_one(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok("admin = FastAPI()\n@admin.get('/')\ndef admin_root(): return 'admin'")
    assert "app: admin | routes: 1" in repr(kernel_ext.serve("admin"))
    assert shell.get("/").json() == "admin"
    assert [r.endpoint for r in kernel_ext.routes().rows] == ["admin_root"]
    with pytest.raises(ValueError, match="there is no 'nothere' in the notebook"):
        kernel_ext.serve("nothere")
    shell.ok("number = 3")
    with pytest.raises(ValueError, match=r"number is not an app such as FastAPI\(\) \(it is a int\)"):
        kernel_ext.serve("number")
    kernel_ext.serve("app")
    assert shell.get("/").status_code == 404 and shell.post("/items", json={"name": "a"}).status_code == 200


def test_explore_returns_the_explorer_of_the_served_app(shell: Shell) -> None:
    shell.ok(APP)
    explorer = kernel_ext.explore()
    assert [(op.method, op.path) for op in explorer.operations] == [("POST", "/items")]
    assert kernel_ext.explore() is explorer


def test_export_writes_the_package(shell: Shell, tmp_path: Path) -> None:
    shell.ok(APP)
    result = kernel_ext.export(str(tmp_path / "out"))
    assert "app/main.py" in result.files and (tmp_path / "out" / "requirements.txt").exists()
    assert "def create(item: Item" in (tmp_path / "out" / "app" / "main.py").read_text()
    with pytest.raises(ValueError, match="--force"):
        kernel_ext.export(str(tmp_path / "out"))
    assert kernel_ext.export(str(tmp_path / "out"), force=True).files == result.files


def test_one_live_log_per_session_redrawn_not_appended(shell: Shell) -> None:
    shell.ok(APP)
    first = kernel_ext.log()
    second = kernel_ext.log()
    assert shell.session.live_log is second
    for _ in range(30):
        shell.post("/items", json={"name": "x"})
    second.flush()
    assert len(second.output.outputs) == 1  # one stream, redrawn: cost does not grow per line
    assert second.output.outputs[0]["text"].count('"POST /items HTTP/1.1"') == 30
    first_text = "".join(o["text"] for o in first.output.outputs)
    assert '"POST /items' not in first_text  # the replaced widget stopped listening


def test_serve_refuses_callables_that_are_not_asgi_apps(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok("def handler(): pass\nasync def raw_asgi(scope, receive, send): pass")
    with pytest.raises(ValueError, match=r"handler is not an app such as FastAPI\(\) \(it is a function\)"):
        kernel_ext.serve("handler")
    with pytest.raises(ValueError, match=r"Item is not an app such as FastAPI\(\) \(it is a class\)"):
        kernel_ext.serve("Item")
    kernel_ext.serve("raw_asgi")  # a bare ASGI callable is an app
    result = shell.run("x = 1")  # and hot reload copes with an app that has no router
    assert result.success and shell.session.last_error is None
    kernel_ext.serve("app")
    assert shell.post("/items", json={"name": "x"}).status_code == 200


def test_app_rebound_to_something_else_keeps_the_last_app_serving(shell: Shell) -> None:
    shell.ok(APP)
    result = shell.run("def app(): return 'not an app'")
    assert result.success and shell.session.last_error is None
    assert shell.post("/items", json={"name": "x"}).status_code == 200


def test_a_failed_start_keeps_neither_its_host_nor_its_port(shell: Shell) -> None:
    shell.ok(APP)
    kernel_ext.stop()
    with pytest.raises(ServerError, match=r"Cannot listen on 10\.255\.255\.1"):
        kernel_ext.start(host="10.255.255.1")
    with pytest.raises(ServerError, match=r"Port 99999 is not a port number \(0-65535"):
        kernel_ext.start(port=99999)
    with pytest.raises(ServerError, match="The host is empty"):
        kernel_ext.start(host=" ")
    kernel_ext.start()
    assert kernel_ext.base_url().startswith("http://127.0.0.1:")
    assert shell.post("/items", json={"name": "x"}).status_code == 200


def test_start_while_running_is_not_recorded_as_an_error(shell: Shell) -> None:
    with pytest.raises(ServerError, match="already running"):
        kernel_ext.start()
    assert "last error" not in repr(kernel_ext.status())


def test_routes_while_stopped_lists_the_app_that_would_be_served(shell: Shell) -> None:
    shell.ok(APP)
    kernel_ext.stop()
    assert [row.path for row in kernel_ext.routes().rows if row.endpoint == "create"] == ["/items"]


def test_start_and_stop_tell_the_listeners(shell: Shell) -> None:
    calls: list[bool] = []
    shell.session.add_listener(lambda: calls.append(shell.session.running))
    kernel_ext.stop()
    kernel_ext.start()
    assert calls == [False, True]


def test_docs_refuses_an_app_without_a_schema(shell: Shell) -> None:
    shell.ok("from fastapi import FastAPI\napp = FastAPI(openapi_url=None)")
    with pytest.raises(ValueError, match="no docs page"):
        kernel_ext.docs()
    assert "/docs" not in kernel_ext.status()._repr_html_()


def test_log_text_reads_the_request_log_after_its_view_is_replaced(shell: Shell) -> None:
    # (from 00_quickstart; the notebooks read the request log with kernel_ext.log().text())
    shell.ok(APP)
    live = kernel_ext.log()
    assert shell.get("/missing").status_code == 404
    assert '"GET /missing HTTP/1.1" 404' in live.text()
    newer = kernel_ext.log(last=1)  # replaces the view above; its text still reads the log
    assert shell.post("/items", json={"name": "x"}).status_code == 200
    assert '"POST /items HTTP/1.1" 200' in live.text() and '"GET /missing' in live.text()
    assert newer.text() == shell.session.request_log.lines()[-1]
    newer.close()
