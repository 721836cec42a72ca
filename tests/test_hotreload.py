"""Every hot-reload behaviour of issue 2, against a real IPython shell and a real server."""

from __future__ import annotations

import threading
import time
import warnings

import httpx
import pytest

from tests.support.shell import Shell

APP = "import kernel_ext\nfrom fastapi import FastAPI, APIRouter, Depends\napp = FastAPI()"


def routes_for(shell: Shell, path: str) -> list:
    return [r for r in shell.ns["app"].router.routes if getattr(r, "path", None) == path]


def operation_ids(shell: Shell) -> list[str]:
    schema = shell.get("/openapi.json").json()
    return [op["operationId"] for item in schema["paths"].values() for op in item.values()]


# 1
def test_rerun_route_cell_serves_new_body_and_leaves_one_route(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok("@app.get('/x')\ndef read_x(): return {'v': 1}", cell_id="c1")
    assert shell.get("/x").json() == {"v": 1}
    shell.ok("@app.get('/x')\ndef read_x(): return {'v': 2}", cell_id="c1")
    assert shell.get("/x").json() == {"v": 2}
    assert len(routes_for(shell, "/x")) == 1
    ids = operation_ids(shell)
    assert len(ids) == len(set(ids)) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Duplicate Operation ID" is a UserWarning
        shell.ns["app"].openapi_schema = None
        shell.ns["app"].openapi()


def test_rerun_without_cell_id_also_replaces(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok("@app.get('/x')\ndef read_x(): return 1")
    shell.ok("@app.get('/x')\ndef read_x(): return 2")
    assert shell.get("/x").json() == 2
    assert len(routes_for(shell, "/x")) == 1


def test_rerun_after_the_user_reordered_the_route_list_in_place(shell: Shell) -> None:
    # The reloader caches where routes sit; an in-place change to the list must not fool it.
    shell.ok(APP)
    for name in "abcd":
        shell.ok(f"@app.get('/{name}')\ndef read_{name}(): return '{name}1'", cell_id=name)
    shell.ok("@app.get('/c')\ndef read_c(): return 'c2'", cell_id="c")  # caches the positions
    shell.ok("app.router.routes.reverse()\napp.router.routes.insert(0, app.router.routes.pop())")
    before = len(shell.ns["app"].router.routes)
    shell.ok("@app.get('/b')\ndef read_b(): return 'b2'")  # no cell id: replaced by method and path
    assert [shell.get(f"/{name}").json() for name in "abcd"] == ["a1", "b2", "c2", "d1"]
    assert all(len(routes_for(shell, f"/{name}")) == 1 for name in "abcd")
    assert len(shell.ns["app"].router.routes) == before and shell.get("/redoc").status_code == 200


# 2
def test_later_cell_with_same_method_and_path_wins(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok("@app.get('/items/{item_id}')\ndef first(item_id: int): return 'first'", cell_id="a")
    shell.ok("@app.post('/items/{item_id}')\ndef poster(item_id: int): return 'post'", cell_id="b")
    shell.ok("@app.get('/items/{id}')\ndef second(id: int): return 'second'", cell_id="c")
    assert shell.get("/items/1").json() == "second"
    assert shell.post("/items/1").json() == "post"  # another method on the path is kept
    assert len(routes_for(shell, "/items/{id}")) == 1
    assert not routes_for(shell, "/items/{item_id}")[0].methods & {"GET"}


def test_replacement_keeps_route_order(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok("@app.get('/users/me')\ndef me(): return 'me'", cell_id="me")
    shell.ok("@app.get('/users/{name}')\ndef user(name: str): return name", cell_id="user")
    shell.ok("@app.get('/users/me')\ndef me(): return 'me v2'", cell_id="me")
    assert shell.get("/users/me").json() == "me v2"  # not captured by /users/{name}


# 3
def test_edited_decorator_path_removes_old_path_with_cell_id(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok("@app.get('/a')\ndef handler(): return 'a'", cell_id="cell-1")
    shell.ok("@app.get('/b')\ndef renamed(): return 'b'", cell_id="cell-1")
    assert shell.get("/a").status_code == 404
    assert shell.get("/b").json() == "b"


def test_edited_decorator_path_without_cell_id_matches_by_function_name(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok("@app.get('/a')\ndef handler(): return 'a'")
    shell.ok("@app.get('/b')\ndef handler(): return 'b'")
    assert shell.get("/a").status_code == 404
    assert shell.get("/b").json() == "b"


def test_cell_id_mode_keeps_same_named_functions_of_other_cells(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok("@app.get('/a')\ndef handler(): return 'a'", cell_id="one")
    shell.ok("@app.get('/b')\ndef handler(): return 'b'", cell_id="two")
    assert shell.get("/a").json() == "a"
    assert shell.get("/b").json() == "b"


# 4
MODEL_V1 = "from pydantic import BaseModel\nclass Item(BaseModel):\n    name: str"
MODEL_V2 = "class Item(BaseModel):\n    name: str\n    price: float = 9.5"


@pytest.mark.parametrize(
    "route",
    [
        "@app.post('/m')\ndef make(item: Item) -> Item: return item",
        "@app.post('/m', response_model=Item)\ndef make(item: Item): return item",
        "@app.post('/m')\ndef make(item: Item) -> list[Item]: return [item]",
        "@app.post('/m')\ndef make(item: Item | None = None) -> Item | None: return item",
    ],
    ids=["annotation", "response_model", "list", "optional"],
)
def test_redefined_model_is_used_without_rerunning_routes(shell: Shell, route: str) -> None:
    shell.ok(APP)
    shell.ok(MODEL_V1, cell_id="model")
    shell.ok(route, cell_id="route")
    first = shell.post("/m", json={"name": "a"}).json()
    assert "price" not in str(first)
    shell.ok(MODEL_V2, cell_id="model")
    body = shell.post("/m", json={"name": "a"}).json()
    assert (body[0] if isinstance(body, list) else body) == {"name": "a", "price": 9.5}
    schemas = shell.get("/openapi.json").json()["components"]["schemas"]
    items = [name for name in schemas if "Item" in name]
    assert items == ["Item"], items
    assert "price" in schemas["Item"]["properties"]


def test_model_validates_with_the_new_class(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok(MODEL_V1)
    shell.ok("@app.post('/m')\ndef make(item: Item): return item")
    shell.ok("class Item(BaseModel):\n    name: str\n    qty: int")
    assert shell.post("/m", json={"name": "a"}).status_code == 422
    assert shell.post("/m", json={"name": "a", "qty": 2}).json() == {"name": "a", "qty": 2}


def test_model_nesting_old_class_gets_a_warning_naming_it_and_its_cell(shell: Shell, capsys) -> None:
    shell.ok(APP)
    shell.ok(MODEL_V1)
    shell.ok("class Order(BaseModel):\n    items: list[Item]")
    count = shell.ip.execution_count - 1
    capsys.readouterr()
    shell.ok(MODEL_V2)
    err = capsys.readouterr().err
    assert "Order" in err and "Item" in err and f"In [{count}]" in err
    assert any("Order" in w for w in shell.session.reloader.stale_warnings())
    shell.ok("class Order(BaseModel):\n    items: list[Item]")
    assert shell.session.reloader.stale_warnings() == []


# 5
@pytest.mark.parametrize(
    ("define", "route"),
    [
        ("def dep():\n    return '{v}'", "def r(v=Depends(dep)): return v"),
        (
            "class Dep:\n    def __init__(self):\n        self.v = '{v}'",
            "def r(d: Dep = Depends()): return d.v",
        ),
        ("def dep():\n    yield '{v}'", "def r(v=Depends(dep)): return v"),
        (
            "def dep():\n    return '{v}'\ndef outer(x=Depends(dep)):\n    return x",
            "def r(v=Depends(outer)): return v",
        ),
    ],
    ids=["function", "class", "generator", "sub-dependency"],
)
def test_redefined_dependency_is_used_every_time(shell: Shell, define: str, route: str) -> None:
    shell.ok(APP)
    shell.ok(define.format(v="v1"), cell_id="dep")
    shell.ok(f"@app.get('/d')\n{route}", cell_id="route")
    assert shell.get("/d").json() == "v1"
    for version in ("v2", "v3", "v4"):
        # the sub-dependency case redefines only the inner function
        code = define.format(v=version).split("\ndef outer")[0]
        shell.ok(code, cell_id="dep")
        assert shell.get("/d").json() == version


@pytest.mark.parametrize(
    "route",
    [
        "@app.get('/d')\ndef r(v=Depends(dep)): return v",
        "from typing import Annotated\n@app.get('/d')\ndef r(v: Annotated[str, Depends(dep)]): return v",
        "@app.get('/d', dependencies=[Depends(dep)])\ndef r(): return 'ok'",
    ],
    ids=["default", "annotated", "route-dependencies"],
)
def test_openapi_shows_the_redefined_dependencys_parameters(shell: Shell, route: str) -> None:
    shell.ok(APP)
    shell.ok("def dep(q: str = 'a'): return q", cell_id="dep")
    shell.ok(route, cell_id="route")
    shell.ok("def dep(q: str = 'a', limit: int = 10): return f'{q}{limit}'", cell_id="dep")
    params = shell.get("/openapi.json").json()["paths"]["/d"]["get"]["parameters"]
    assert [p["name"] for p in params] == ["q", "limit"]
    assert shell.get("/d", params={"limit": "x"}).status_code == 422  # validated as declared
    assert shell.get("/d", params={"q": "b", "limit": 3}).status_code == 200
    shell.ok("def dep(): return 'none'", cell_id="dep")
    assert "parameters" not in shell.get("/openapi.json").json()["paths"]["/d"]["get"]


@pytest.mark.parametrize(
    "outer",
    [
        "def outer(v=Depends(dep)): return v",
        "from typing import Annotated\ndef outer(v: Annotated[str, Depends(dep)]): return v",
        "class Outer:\n    def __init__(self, v=Depends(dep)): self.v = v\n"
        "def outer(o: Outer = Depends()): return o.v",
    ],
    ids=["default", "annotated", "class"],
)
def test_openapi_shows_a_redefined_sub_dependencys_parameters(shell: Shell, outer: str) -> None:
    shell.ok(APP)
    shell.ok("def dep(q: str = 'a'): return q", cell_id="dep")
    shell.ok(outer, cell_id="outer")
    shell.ok("@app.get('/d')\ndef r(v=Depends(outer)): return v", cell_id="route")
    shell.ok("@app.get('/e')\ndef e(v=Depends(outer)): return v", cell_id="route2")
    shell.ok("def dep(q: str = 'a', limit: int = 10): return f'{q}{limit}'", cell_id="dep")
    for path in ("/d", "/e"):
        params = shell.get("/openapi.json").json()["paths"][path]["get"]["parameters"]
        assert [p["name"] for p in params] == ["q", "limit"]
        assert shell.get(path, params={"q": "b", "limit": 3}).json() == "b3"
        assert shell.get(path, params={"limit": "x"}).status_code == 422
    shell.ok("app.dependency_overrides[outer] = lambda: 'fake'")  # `outer` is still the object
    assert shell.get("/d").json() == "fake"
    shell.ok("app.dependency_overrides.clear()")
    shell.ok("def outer(): return 'outer v2'", cell_id="outer")  # and can itself be redefined
    assert shell.get("/d").json() == "outer v2"
    assert "parameters" not in shell.get("/openapi.json").json()["paths"]["/d"]["get"]


def test_user_override_applies_to_a_route_rebuilt_for_a_new_dependency(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok("def dep(): return 'v1'", cell_id="dep")
    shell.ok("@app.get('/d')\ndef r(v=Depends(dep)): return v", cell_id="route")
    shell.ok("def dep(): return 'v2'", cell_id="dep")
    shell.ok("app.dependency_overrides[dep] = lambda: 'fake'")
    assert shell.get("/d").json() == "fake"
    shell.ok("app.dependency_overrides.clear()")
    assert shell.get("/d").json() == "v2"


def test_new_app_gets_every_dependency_redefined_before_it(shell: Shell) -> None:
    # The hooks visit only the names a cell rebinds; an app created later still needs the map.
    shell.ok(APP)
    shell.ok("def dep(): return 'v1'", cell_id="dep")
    shell.ok("router = APIRouter()\n@router.get('/d')\ndef r(v=Depends(dep)): return v")
    shell.ok("def dep(): return 'v2'", cell_id="dep")
    shell.ok("def dep(): return 'v3'", cell_id="dep")
    shell.ok("app = FastAPI()\napp.include_router(router)")
    assert shell.get("/d").json() == "v3"


def test_user_dependency_overrides_are_left_alone(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok("def dep(): return 'real'\n@app.get('/d')\ndef r(v=Depends(dep)): return v")
    shell.ok("app.dependency_overrides[dep] = lambda: 'fake'")
    shell.ok("x = 1")
    assert shell.get("/d").json() == "fake"


# 6
TIMING = """
@app.middleware('http')
async def stamp(request, call_next):
    response = await call_next(request)
    response.headers['x-stamp'] = response.headers.get('x-stamp', '') + '{v};'
    return response
"""


def test_middleware_added_after_serving_takes_effect_and_rerun_replaces(shell: Shell) -> None:
    shell.ok(APP + "\n@app.get('/')\ndef root(): return 'ok'")
    assert shell.get("/").status_code == 200  # the app has started serving
    shell.ok(TIMING.format(v="v1"), cell_id="mw")
    assert shell.get("/").headers["x-stamp"] == "v1;"
    shell.ok(TIMING.format(v="v2"), cell_id="mw")
    assert shell.get("/").headers["x-stamp"] == "v2;"
    shell.ok(TIMING.format(v="v3"))  # no cell id: same dispatch function name
    assert shell.get("/").headers["x-stamp"] == "v3;"


def test_add_middleware_after_serving(shell: Shell) -> None:
    shell.ok(APP + "\n@app.get('/')\ndef root(): return 'ok'")
    assert shell.get("/").status_code == 200
    cors = (
        "from fastapi.middleware.cors import CORSMiddleware\n"
        "app.add_middleware(CORSMiddleware, allow_origins=['{o}'], allow_methods=['*'])"
    )
    shell.ok(cors.format(o="http://a.example"))
    shell.ok(cors.format(o="http://b.example"))
    assert len(shell.ns["app"].user_middleware) == 1
    preflight = {"Origin": "http://b.example", "Access-Control-Request-Method": "GET"}
    response = httpx.options(shell.url + "/", headers=preflight)
    assert response.headers["access-control-allow-origin"] == "http://b.example"


def test_middleware_works_after_testclient_built_a_stack(shell: Shell) -> None:
    shell.ok(APP + "\n@app.get('/')\ndef root(): return 'ok'")
    shell.ok("from fastapi.testclient import TestClient\nassert TestClient(app).get('/').status_code == 200")
    shell.ok(TIMING.format(v="t"))
    assert shell.get("/").headers["x-stamp"] == "t;"


# 7
def test_exception_handler_added_after_start(shell: Shell) -> None:
    shell.ok(APP + "\nclass Boom(Exception): pass\n@app.get('/boom')\ndef boom(): raise Boom()")
    assert shell.get("/boom").status_code == 500
    handler = (
        "from fastapi.responses import JSONResponse\n"
        "@app.exception_handler(Boom)\n"
        "def on_boom(request, exc): return JSONResponse({{'handled': '{v}'}}, status_code=418)"
    )
    shell.ok(handler.format(v="v1"))
    assert shell.get("/boom").json() == {"handled": "v1"}
    shell.ok(handler.format(v="v2"))
    assert shell.get("/boom").json() == {"handled": "v2"}


# 8
def test_router_routes_after_include_and_rerun_include(shell: Shell) -> None:
    shell.ok(APP + "\nrouter = APIRouter(prefix='/r')")
    shell.ok("@router.get('/one')\ndef one(): return 1", cell_id="one")
    shell.ok("app.include_router(router)", cell_id="include")
    shell.ok("@router.get('/two')\ndef two(): return 2", cell_id="two")
    assert shell.get("/r/one").json() == 1
    assert shell.get("/r/two").json() == 2
    shell.ok("app.include_router(router)", cell_id="include")
    shell.ok("app.include_router(router)")
    assert len(shell.ns["app"].router.routes) == len(set(map(id, shell.ns["app"].router.routes)))
    included = [r for r in shell.ns["app"].router.routes if type(r).__name__ == "_IncludedRouter"]
    assert len(included) == 1
    shell.ok("@router.get('/one')\ndef one(): return 'one v2'", cell_id="one")
    assert shell.get("/r/one").json() == "one v2"
    ids = operation_ids(shell)
    assert len(ids) == len(set(ids)) == 2


def test_recreated_router_replaces_the_old_include(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok("router = APIRouter()\n@router.get('/old')\ndef old(): return 1\napp.include_router(router)")
    shell.ok("router = APIRouter()\n@router.get('/new')\ndef new(): return 2\napp.include_router(router)")
    assert shell.get("/new").json() == 2
    assert shell.get("/old").status_code == 404


# 9
SUB_MIDDLEWARE = """
@sub.middleware('http')
async def sub_stamp(request, call_next):
    response = await call_next(request)
    response.headers['x-sub'] = response.headers.get('x-sub', '') + '{v};'
    return response
"""


def test_mounted_sub_app_middleware_and_handlers_work_after_it_served(shell: Shell) -> None:
    shell.ok(APP + "\nsub = FastAPI()\n@sub.get('/hi')\ndef hi(): return 'hi'\napp.mount('/sub', sub)")
    assert shell.get("/sub/hi").json() == "hi"  # the sub-app has built its stack
    shell.ok(SUB_MIDDLEWARE.format(v="v1"), cell_id="mw")
    assert shell.get("/sub/hi").headers["x-sub"] == "v1;"
    shell.ok(SUB_MIDDLEWARE.format(v="v2"), cell_id="mw")  # replaces, does not stack
    assert shell.get("/sub/hi").headers["x-sub"] == "v2;"
    shell.ok("pass", cell_id="mw")  # the cell no longer adds it
    assert "x-sub" not in shell.get("/sub/hi").headers
    shell.ok(
        "from fastapi.responses import JSONResponse\n"
        "class Teapot(Exception): pass\n"
        "@sub.exception_handler(Teapot)\n"
        "async def teapot(request, exc): return JSONResponse({'brewing': True}, status_code=418)\n"
        "@sub.get('/tea')\n"
        "def tea(): raise Teapot()"
    )
    response = shell.get("/sub/tea")
    assert (response.status_code, response.json()) == (418, {"brewing": True})


def test_rerun_mount_replaces(shell: Shell) -> None:
    shell.ok(APP)
    mount = "sub = FastAPI()\n@sub.get('/hi')\ndef hi(): return '{v}'\napp.mount('/sub', sub)"
    shell.ok(mount.format(v="v1"))
    assert shell.get("/sub/hi").json() == "v1"
    shell.ok(mount.format(v="v2"))
    assert shell.get("/sub/hi").json() == "v2"
    mounts = [r for r in shell.ns["app"].router.routes if getattr(r, "path", "") == "/sub"]
    assert len(mounts) == 1


# 10
def test_websocket_routes_follow_the_same_rules(shell: Shell) -> None:
    from websockets.sync.client import connect

    shell.ok(APP + "\nfrom fastapi import WebSocket")
    ws = (
        "@app.websocket('/ws')\nasync def talk(ws: WebSocket):\n"
        "    await ws.accept()\n    await ws.send_text('{v}')\n    await ws.close()"
    )
    shell.ok(ws.format(v="v1"), cell_id="ws")
    shell.ok(ws.format(v="v2"), cell_id="ws")
    with connect(shell.url.replace("http", "ws") + "/ws") as client:
        assert client.recv() == "v2"
    assert len(routes_for(shell, "/ws")) == 1
    shell.ok(ws.format(v="v3").replace("'/ws'", "'/ws2'"), cell_id="ws")
    assert routes_for(shell, "/ws") == []


# 11
def test_cell_raising_partway_keeps_what_it_registered_and_everything_else(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok("@app.get('/a')\ndef a(): return 'a'\n@app.get('/b')\ndef b(): return 'b'", cell_id="c")
    result = shell.run("@app.get('/a')\ndef a(): return 'a2'\nraise ValueError('oops')", cell_id="c")
    assert not result.success
    assert shell.get("/a").json() == "a2"
    assert shell.get("/b").json() == "b"  # not removed although the re-run did not reach it


def test_our_hook_failing_never_raises_into_the_cell(shell: Shell, capsys) -> None:
    shell.ok(APP)

    def broken(**_: object) -> None:
        raise RuntimeError("internal")

    shell.session.reloader.after_cell = broken
    result = shell.run("@app.get('/z')\ndef z(): return 'z'")
    assert result.success
    assert "hot reload failed" in capsys.readouterr().err
    assert "RuntimeError: internal" in shell.session.request_log.text()


def test_bad_cells_leave_the_previous_state_serving(shell: Shell) -> None:
    shell.ok(APP + "\nfrom pydantic import BaseModel\nclass Item(BaseModel):\n    name: str")
    shell.ok("@app.post('/i')\ndef make(item: Item): return item")
    assert not shell.run("@app.get('/s'\ndef s(): return 1").success  # syntax error
    assert not shell.run("class Item(BaseModel):\n    name: str = Field(gt=1)").success  # NameError
    assert not shell.run("@app.get('/bad')\ndef bad(x: object = Depends(1)): return 1").success
    assert shell.post("/i", json={"name": "ok"}).json() == {"name": "ok"}


# 12
def test_reload_under_concurrent_load_gives_old_or_new_answers(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok("@app.get('/v')\ndef version(): return 0", cell_id="v")
    stop = threading.Event()
    seen: list[tuple[float, object]] = []  # (when the request was sent, its answer)

    def hammer() -> None:
        with httpx.Client(base_url=shell.url, timeout=10) as client:
            while not stop.is_set():
                sent = time.monotonic()
                response = client.get("/v")
                seen.append((sent, response.json() if response.status_code == 200 else response.status_code))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(seen) < 8 and time.monotonic() < deadline:  # clients are connected and answered
        time.sleep(0.01)
    for version in range(1, 31):
        shell.ok(f"@app.get('/v')\ndef version(): return {version}", cell_id="v")
        time.sleep(0.005)
    settled = time.monotonic()  # the last cell has run: every request sent from now on sees it
    while not any(sent > settled for sent, _ in list(seen)) and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join()
    after = [answer for sent, answer in seen if sent > settled]
    assert after and set(after) == {30}, set(after)
    assert all(isinstance(v, int) and 0 <= v <= 30 for _, v in seen), {v for _, v in seen}


def test_no_app_yet_gives_503_explaining_how(shell: Shell) -> None:
    response = shell.get("/anything")
    assert response.status_code == 503
    assert "app = FastAPI()" in response.json()["detail"]


def test_rebinding_app_swaps_lifespans(shell: Shell) -> None:
    lifespan = (
        "from contextlib import asynccontextmanager\n"
        "events = []\n"
        "def make(name):\n"
        "    @asynccontextmanager\n"
        "    async def lifespan(app):\n"
        "        events.append(f'start {name}')\n"
        "        yield {'name': name}\n"
        "        events.append(f'stop {name}')\n"
        "    return lifespan\n"
    )
    route = (
        "from fastapi import Request\n@app.get('/who')\ndef who(request: Request): return request.state.name"
    )
    shell.ok(lifespan + "from fastapi import FastAPI\napp = FastAPI(lifespan=make('one'))\n" + route)
    assert shell.get("/who").json() == "one"
    shell.ok("app = FastAPI(lifespan=make('two'))\n" + route)
    assert shell.get("/who").json() == "two"
    assert shell.ns["events"] == ["start one", "start two", "stop one"]


def test_failing_lifespan_keeps_the_previous_app(shell: Shell, capsys) -> None:
    shell.ok(APP + "\n@app.get('/')\ndef root(): return 'old'")
    failing = (
        "from contextlib import asynccontextmanager\n"
        "@asynccontextmanager\nasync def broken(app):\n    raise RuntimeError('no database')\n    yield\n"
        "app = FastAPI(lifespan=broken)\n@app.get('/')\ndef root(): return 'new'"
    )
    shell.ok(failing)
    assert "no database" in capsys.readouterr().err
    assert shell.get("/").json() == "old"


def test_user_override_of_a_redefined_dependency_applies(shell: Shell) -> None:
    shell.ok(APP + "\ndef dep(): return 'v1'\n@app.get('/d')\ndef d(v: str = Depends(dep)): return v")
    shell.ok("def dep(): return 'v2'")
    shell.ok("app.dependency_overrides[dep] = lambda: 'fake'")
    assert shell.get("/d").json() == "fake"
    shell.ok("app.dependency_overrides.clear()")
    assert shell.get("/d").json() == "v2"


def test_lru_cached_dependency_is_hot_reloaded(shell: Shell) -> None:
    shell.ok(
        APP + "\nfrom functools import lru_cache\n@lru_cache\ndef settings(): return 'v1'\n"
        "@app.get('/s')\ndef s(v: str = Depends(settings)): return v"
    )
    shell.ok("@lru_cache\ndef settings(): return 'v2'")
    assert shell.get("/s").json() == "v2"


def test_failed_lifespan_is_tried_once_per_binding(shell: Shell, capsys) -> None:
    shell.ok(APP)
    shell.ok(
        "from contextlib import asynccontextmanager\ntries = []\n"
        "@asynccontextmanager\nasync def broken(app):\n    tries.append(1)\n    raise RuntimeError('x')\n    yield\n"
        "app = FastAPI(lifespan=broken)"
    )
    shell.ok("pass")
    shell.ok("pass")
    assert shell.ns["tries"] == [1]
    assert capsys.readouterr().err.count("failed at startup") == 1


def test_overrides_cleared_in_a_cell_still_serve_the_newest_version(shell: Shell) -> None:
    shell.ok(APP + "\ndef dep(): return 'v1'\n@app.get('/d')\ndef d(v: str = Depends(dep)): return v")
    shell.ok("def dep(): return 'v2'")
    result = shell.ok(
        "import httpx\napp.dependency_overrides[dep] = lambda: 'fake'\n"
        "faked = httpx.get(kernel_ext.base_url() + '/d').json()\n"
        "app.dependency_overrides.clear()\n"
        "real = httpx.get(kernel_ext.base_url() + '/d').json()\n"
        "shown = dict(app.dependency_overrides)"
    )
    assert result.success
    assert (shell.ns["faked"], shell.ns["real"], shell.ns["shown"]) == ("fake", "v2", {})


def test_routes_removed_by_hand_in_a_cell_are_reported_and_forgotten(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok("@app.get('/a')\ndef a(): return 'a'\n@app.get('/b')\ndef b(): return 'b'")
    changes: list[int] = []
    shell.session.add_listener(lambda: changes.append(1))
    result = shell.run("app.router.routes[:] = [r for r in app.router.routes if r.path != '/b']")
    assert result.success and shell.session.last_error is None
    assert changes  # the explorer and the route table hear about it
    assert shell.get("/b").status_code == 404
    shell.ok("app.router.routes.pop()")
    assert shell.session.last_error is None and shell.get("/a").status_code == 404
    shell.ok("@app.get('/b')\ndef b(): return 'b again'")  # the index forgot the removed routes
    assert shell.get("/b").json() == "b again" and len(routes_for(shell, "/b")) == 1


def test_dependency_of_routes_made_before_the_extension_loaded(shell: Shell) -> None:
    shell.ok("%unload_ext kernel_ext")
    shell.ok(APP + "\ndef dep(q: str = 'a'): return q\n@app.get('/d')\ndef r(v=Depends(dep)): return v")
    shell.ok("%load_ext kernel_ext")
    shell.ok("def dep(q: str = 'a', limit: int = 1): return f'{q}{limit}'")
    assert shell.get("/d", params={"limit": 7}).json() == "a7"
    params = shell.get("/openapi.json").json()["paths"]["/d"]["get"]["parameters"]
    assert [p["name"] for p in params] == ["q", "limit"]
