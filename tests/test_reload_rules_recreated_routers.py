"""kernel_ext/_reload/_rules/recreated_routers.py on bare routers and apps: no IPython, no server."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from kernel_ext._compat import included_router_target
from kernel_ext._reload._rules.records import CellRecord
from kernel_ext._reload._rules.recreated_routers import (
    find_recreated,
    rehome_routes,
    repoint_replaced,
    retarget_includes,
)
from kernel_ext._reload._rules.route_table import RouteTable


def router_answering(body: str) -> APIRouter:
    router = APIRouter()
    router.get("/x")(lambda: body)
    return router


def test_find_recreated_pairs_routers_and_apps_made_anew_under_the_same_name() -> None:
    served, old_router, new_router, old_app, new_app = (
        FastAPI(),
        APIRouter(),
        APIRouter(),
        FastAPI(),
        FastAPI(),
    )
    before = {"router": old_router, "sub": old_app, "app": served, "n": 1}
    now = {"router": new_router, "sub": new_app, "app": FastAPI(), "n": APIRouter()}
    found = find_recreated(before, now, ["router", "sub", "app", "n"], served)
    assert found == {id(old_router): new_router, id(old_app): new_app}  # never the served app


def test_an_include_of_a_recreated_router_serves_the_new_one_with_its_prefix() -> None:
    table, app = RouteTable(), FastAPI()
    old, new = router_answering("old"), router_answering("new")
    app.include_router(old, prefix="/items")
    assert retarget_includes(table, [app.router], {id(old): new}) == 1
    assert TestClient(app).get("/items/x").json() == "new"


def test_a_mount_of_a_recreated_sub_app_serves_the_new_one() -> None:
    table, app, old, new = RouteTable(), FastAPI(), FastAPI(), FastAPI()
    old.get("/x")(lambda: "old")
    new.get("/x")(lambda: "new")
    app.mount("/sub", old)
    assert retarget_includes(table, [app.router], {id(old): new}) == 1
    assert TestClient(app).get("/sub/x").json() == "new"


def test_the_new_include_stands_for_the_old_in_its_cells_record() -> None:
    record = CellRecord()
    table, app = RouteTable(records=lambda: [record]), FastAPI()
    old, new = router_answering("old"), router_answering("new")
    app.include_router(old)
    record.routes.append((app.router, app.router.routes[-1]))
    retarget_includes(table, [app.router], {id(old): new})
    assert record.routes == [(app.router, app.router.routes[-1])]


def test_routes_other_cells_put_on_the_old_router_move_to_the_new_one() -> None:
    table, old, new = RouteTable(), APIRouter(), APIRouter()
    old.get("/mine")(lambda: "made by the recreating cell")
    old.get("/theirs")(lambda: "made by another cell")
    theirs = old.routes[1]
    other = CellRecord(routes=[(old, theirs)])
    table.owner.update({id(old.routes[0]): "c1", id(theirs): "c2"})
    moved = rehome_routes(table, {"router": old}, {"router": new}, ["router"], "c1", {"c2": other})
    assert moved == 1
    assert new.routes == [theirs]
    assert other.routes == [(new, theirs)]


def test_routes_of_cells_no_longer_live_stay_behind() -> None:
    table, old, new = RouteTable(), APIRouter(), APIRouter()
    old.get("/gone")(lambda: "its cell was deleted")
    table.owner[id(old.routes[0])] = "deleted"
    assert rehome_routes(table, {"router": old}, {"router": new}, ["router"], "c1", {}) == 0
    assert new.routes == []


def test_a_router_a_module_reload_replaced_is_served_in_its_place() -> None:
    table, app = RouteTable(), FastAPI()
    old, new = router_answering("old"), router_answering("new")
    app.get("/before")(lambda: 1)
    app.include_router(old, prefix="/items")
    app.get("/after")(lambda: 2)
    position = len(app.router.routes) - 2
    assert repoint_replaced(table, [app.router], {id(old): new}) == 1
    assert TestClient(app).get("/items/x").json() == "new"
    assert included_router_target(app.router.routes[position]) is new  # in the old one's place
