"""kernel_ext/_reload/_rules/stale_routes.py on bare routers and apps: no IPython, no server."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from kernel_ext._reload._rules.route_table import RouteTable
from kernel_ext._reload._rules.stale_routes import NestedModelWarnings, rebuild_stale_routes


def define(code: str, namespace: dict[str, Any]) -> None:
    """Run `code` as a notebook cell would: without this module's `from __future__` import."""
    code = "from pydantic import BaseModel\nfrom fastapi import Depends\n" + code
    exec(compile(code, "<cell>", "exec", dont_inherit=True), namespace)


def test_a_route_using_a_redefined_model_validates_with_the_new_one() -> None:
    ns: dict[str, Any] = {}
    define("class Item(BaseModel):\n    name: str\n", ns)
    old = ns["Item"]
    define("def create(item: Item) -> Item:\n    return item\n", ns)
    app = FastAPI()
    app.post("/items")(ns["create"])
    define("class Item(BaseModel):\n    name: str\n    price: float = 0\n", ns)
    warnings: list[str] = []
    assert rebuild_stale_routes(RouteTable(), [app.router], {id(old): ns["Item"]}, False, warnings) == 1
    assert warnings == []
    assert TestClient(app).post("/items", json={"name": "x"}).json() == {"name": "x", "price": 0}


def test_routes_that_do_not_mention_the_old_class_are_left_alone() -> None:
    app = FastAPI()
    app.get("/x")(lambda: 1)
    route = app.router.routes[-1]

    class Old(BaseModel):
        pass

    assert rebuild_stale_routes(RouteTable(), [app.router], {id(Old): Old}, False, []) == 0
    assert app.router.routes[-1] is route


def test_a_dependency_of_a_dependency_redefined_reaches_the_route() -> None:
    ns: dict[str, Any] = {}
    define("def get_db():\n    return 'db1'\n", ns)
    old = ns["get_db"]
    define("def get_user(db=Depends(get_db)):\n    return db\n", ns)
    app = FastAPI()
    define("def me(user=Depends(get_user)):\n    return user\n", ns)
    app.get("/me")(ns["me"])
    define("def get_db():\n    return 'db2'\n", ns)
    assert rebuild_stale_routes(RouteTable(), [app.router], {id(old): ns["get_db"]}, True, []) == 1
    assert TestClient(app).get("/me").json() == "db2"


def test_a_route_that_cannot_be_rebuilt_stays_and_says_so() -> None:
    ns: dict[str, Any] = {}
    define("class Item(BaseModel):\n    name: str\n", ns)
    old = ns["Item"]
    define("def create(item: Item) -> Item:\n    return item\n", ns)
    app = FastAPI()
    app.post("/items")(ns["create"])
    route = app.router.routes[-1]
    warnings: list[str] = []
    assert rebuild_stale_routes(RouteTable(), [app.router], {id(old): object()}, False, warnings) == 0
    assert app.router.routes[-1] is route
    assert len(warnings) == 1 and "could not rebuild /items" in warnings[0]


def test_a_model_nesting_the_old_class_is_named_once_while_it_nests_it() -> None:
    ns: dict[str, Any] = {}
    define("class Item(BaseModel):\n    name: str\n", ns)
    old = ns["Item"]
    define("class Order(BaseModel):\n    items: list[Item]\n", ns)
    define("class Item(BaseModel):\n    name: str\n    price: float = 0\n", ns)
    warnings = NestedModelWarnings()
    found = warnings.warn(ns, {id(old)}, lambda _: "Item", {"Order": 7})
    assert found == [
        "model Order still uses the old Item; re-run the cell that defines it (In [7]) to pick up the new Item."
    ]
    assert warnings.warn(ns, {id(old)}, lambda _: "Item", {"Order": 7}) == []  # said once
    assert warnings.current(ns) == found
    define("class Order(BaseModel):\n    items: list[Item]\n", ns)  # re-run: nests the new one
    assert warnings.current(ns) == []
