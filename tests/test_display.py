"""The route table, the status card and the docs view: what `%api` shows, as text and HTML."""

# No `from __future__ import annotations`: FastAPI must see the endpoints' real annotations.
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, WebSocket
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel

from kernel_ext._display import DocsView, RouteTable, StatusCard, route_rows, stale_models, type_name
from tests.support.shell import Shell


class Item(BaseModel):
    name: str


def no_cells(obj: object) -> None:
    return None


def demo_app() -> FastAPI:
    app = FastAPI()
    scheme = OAuth2PasswordBearer(tokenUrl="token")

    def get_db() -> str:
        return "db"

    @app.get("/")
    def root() -> dict:
        return {}

    router = APIRouter(prefix="/items", dependencies=[Depends(get_db)])

    @router.post("/", response_model=Item)
    def create(item: Item, token: Annotated[str, Depends(scheme)]) -> Item:
        return item

    @router.put("/{item_id}")
    def replace(item_id: int, item: Item, tags: list[str]) -> list[Item]:
        return [item]

    @app.post("/token")
    def login(username: Annotated[str, Form()], password: Annotated[str, Form()]) -> dict:
        return {}

    @app.websocket("/ws")
    async def echo(ws: WebSocket) -> None:
        await ws.close()

    app.include_router(router)
    app.mount("/sub", FastAPI())
    return app


def test_rows_list_every_user_route_with_models_and_dependencies() -> None:
    rows = {(r.methods, r.path): r for r in route_rows(demo_app(), no_cells)}
    assert set(rows) == {
        ("GET", "/"),
        ("POST", "/items/"),
        ("PUT", "/items/{item_id}"),
        ("POST", "/token"),
        ("WS", "/ws"),
        ("MOUNT", "/sub"),
    }  # /docs, /openapi.json, /redoc left out
    create = rows["POST", "/items/"]
    assert (create.endpoint, create.request_model, create.response_model) == ("create", "Item", "Item")
    assert create.dependencies == "get_db, OAuth2PasswordBearer"  # router-level first, then the route's
    replace = rows["PUT", "/items/{item_id}"]
    assert replace.request_model == "item: Item, tags: list[str]"
    assert replace.response_model == "list[Item]"
    assert rows["POST", "/token"].request_model == "username: str, password: str"
    assert rows["MOUNT", "/sub"].endpoint == "FastAPI"
    assert rows["WS", "/ws"].endpoint == "echo"


def test_type_names_drop_module_prefixes() -> None:
    assert type_name(Item) == "Item"
    assert type_name(list[Item]) == "list[Item]"
    assert type_name(dict[str, Item | None]) == "dict[str, Item | None]"
    assert type_name(None) == ""


def test_table_text_and_html() -> None:
    table = RouteTable(route_rows(demo_app(), lambda obj: 7), ["model X still uses the old Y"])
    text = repr(table)
    assert text.splitlines()[0].split() == list(RouteTable.headers)
    assert any(line.split()[:4] == ["POST", "/items/", "create", "[7]"] for line in text.splitlines())
    assert text.splitlines()[-1] == "warning: model X still uses the old Y"
    html = table._repr_html_()
    assert html.count("<tr>") == 1 + len(table.rows)
    assert "<th style='text-align:left'>cell</th>" in html and "<code>[7]</code>" in html
    assert "model X still uses the old Y" in html
    assert repr(RouteTable([])).endswith("(no routes yet)")


def test_a_route_on_a_redefined_model_is_flagged() -> None:
    app = FastAPI()

    class Thing(BaseModel):
        a: int

    @app.post("/things")
    def make(thing: Thing) -> Thing:
        return thing

    class Thing(BaseModel):  # the notebook redefined it
        a: int
        b: int = 0

    assert stale_models(app, {"Thing": Thing}) == [
        "/things still uses the old Thing; re-run the cell that defines the route."
    ]
    assert stale_models(app, {}) == []


def test_docs_view_is_an_iframe_with_a_link_and_text_elsewhere() -> None:
    view = DocsView("/user/x/proxy/8123/docs", height=400)
    assert repr(view) == "Swagger UI: /user/x/proxy/8123/docs"
    html = view._repr_html_()
    assert "<iframe" in html and 'src="/user/x/proxy/8123/docs"' in html and 'height="400"' in html
    assert "<a href='/user/x/proxy/8123/docs' target='_blank'>" in html


def test_status_card_facts(shell: Shell) -> None:
    card = StatusCard(shell.session)
    assert "app: none yet (define app = FastAPI())" in repr(card)
    shell.ok("from fastapi import FastAPI\napp = FastAPI()\n@app.get('/')\ndef root(): return 1")
    text = repr(card)  # rendered when shown: the same card now tells the new state
    assert text.startswith("kernel_ext state: running | url: " + shell.url + "/ | docs: ")
    assert "| routes: 1 |" in text and "| last reload: " in text
    html = card._repr_html_()
    assert f"<a href='{shell.url}/docs' target='_blank'>" in html and "#16a34a" in html
    shell.ok("app = FastAPI(docs_url=None)")
    assert "docs:" not in repr(card)
    shell.session.stop()
    assert repr(card).startswith("kernel_ext state: stopped | app: app | routes: 0 |")  # what start serves
    assert "#dc2626" in card._repr_html_()


def test_cell_column_follows_redefinitions_and_included_routers(shell: Shell) -> None:
    import kernel_ext

    shell.ok("from fastapi import FastAPI, APIRouter\napp = FastAPI()")
    first = shell.ok("@app.get('/')\ndef root(): return 1").execution_count
    shell.ok("users = APIRouter(prefix='/users')\nitems = APIRouter(prefix='/items')")
    users = shell.ok("@users.get('/')\ndef listing(): return 'users'").execution_count
    items = shell.ok("@items.get('/')\ndef listing(): return 'items'").execution_count
    shell.ok("app.include_router(users)\napp.include_router(items)")
    later = shell.ok("@users.get('/later')\ndef later(): return 2").execution_count
    cells = {row.path: row.cell for row in kernel_ext.routes().rows}
    assert cells == {
        "/": f"[{first}]",
        "/users/": f"[{users}]",
        "/items/": f"[{items}]",
        "/users/later": f"[{later}]",
    }
    again = shell.ok("@app.get('/')\ndef root(): return 'v2'").execution_count
    assert {row.path: row.cell for row in kernel_ext.routes().rows}["/"] == f"[{again}]"
    assert shell.get("/").json() == "v2"
    # Not a function: the cell that bound the object's name.
    sub = shell.ok("sub = FastAPI()").execution_count
    shell.ok("app.mount('/sub', sub)")
    [mount] = [row for row in kernel_ext.routes().rows if row.methods == "MOUNT"]
    assert (mount.path, mount.endpoint, mount.cell) == ("/sub", "FastAPI", f"[{sub}]")


def test_a_route_redefined_on_an_included_router_moves_to_its_new_cell(shell: Shell) -> None:
    # (from 02_magics) the router's other route keeps the cell that defined it
    import kernel_ext

    shell.ok("from fastapi import FastAPI, APIRouter\napp = FastAPI()\nitems = APIRouter(prefix='/items')")
    first = shell.ok(
        "@items.post('/{i}')\ndef create(i: int): return i\n"
        "@items.get('/{i}')\ndef read(i: int): return i\n"
        "app.include_router(items)"
    ).execution_count
    again = shell.ok("@items.get('/{i}')\ndef read(i: int): return -i").execution_count
    cells = {(row.methods, row.path): row.cell for row in kernel_ext.routes().rows}
    assert cells == {("POST", "/items/{i}"): f"[{first}]", ("GET", "/items/{i}"): f"[{again}]"}
    assert shell.get("/items/3").json() == -3
