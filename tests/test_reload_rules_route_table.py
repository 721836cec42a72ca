"""kernel_ext/_reload/_rules/route_table.py on bare routers: no IPython, no server."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient

from kernel_ext._reload._rules.records import CellRecord
from kernel_ext._reload._rules.route_table import RouteTable


def get_db() -> str:
    return "db"


def get_user(db: str = Depends(get_db)) -> str:
    return "user"


def test_routers_walks_includes_at_any_depth_each_once() -> None:
    app, outer, inner = FastAPI(), APIRouter(), APIRouter()
    outer.include_router(inner, prefix="/in")
    app.include_router(outer, prefix="/out")
    app.include_router(outer, prefix="/again")
    found = RouteTable().routers([app.router])
    assert {id(r) for r in found} == {id(app.router), id(outer), id(inner)}
    assert len(found) == 3


def test_an_include_appended_later_is_found() -> None:
    table, app, later = RouteTable(), FastAPI(), APIRouter()
    assert table.routers([app.router]) == [app.router]  # cached
    app.include_router(later)
    assert {id(r) for r in table.routers([app.router])} == {id(app.router), id(later)}


def test_assign_serves_the_new_list_and_keeps_the_index_in_step() -> None:
    table, router = RouteTable(), APIRouter()
    router.get("/a")(lambda: "a1")
    router.get("/b")(lambda: "b")
    old_a = router.routes[0]
    index = table.index(router, router.routes)
    app = FastAPI()
    app.include_router(router)
    router.get("/a")(lambda: "a2")
    new_a = router.routes.pop()
    table.assign(router, [new_a, router.routes[1]], removed=[old_a], added=[new_a])
    assert index.candidates(new_a, False) == [new_a]
    assert TestClient(app).get("/a").json() == "a2"  # the including app sees the change


def test_assign_counts_the_routes_using_each_dependency() -> None:
    table, router = RouteTable(), APIRouter()

    @router.get("/me")
    def me(user: str = Depends(get_user)) -> str:
        return user

    route = router.routes[0]
    table.count_dependencies(route, +1)
    assert table.dependency_users == {id(get_user): 1, id(get_db): 1}
    table.assign(router, [], removed=[route])
    assert table.dependency_users == {id(get_user): 0, id(get_db): 0}


def test_locate_finds_routes_where_a_hint_is_wrong() -> None:
    table, router = RouteTable(), APIRouter()
    for path in ("/a", "/b", "/c"):
        router.get(path)(get_db)
    routes = router.routes
    _, found = table.locate(router, routes, [routes[2]], {id(routes[2]): 0})
    assert found == {id(routes[2]): 2}
    routes.reverse()  # in place: the cached ids are wrong now, and found wrong
    _, found = table.locate(router, routes, [routes[0]], {})
    assert found == {id(routes[0]): 0}


def test_a_route_replaced_in_place_keeps_its_owner_and_record() -> None:
    record = CellRecord()
    table, router = RouteTable(records=lambda: [record]), APIRouter()
    router.get("/a")(lambda: 1)
    router.get("/a")(lambda: 2)
    old, new = router.routes
    record.routes.append((router, old))
    table.owner[id(old)] = "c1"
    table.stand_in(router, [old], {id(old): new})
    assert table.owner == {id(new): "c1"}
    assert record.routes == [(router, new)]


def test_forget_routers_drops_the_caches_of_routers_no_longer_served() -> None:
    table, kept, gone = RouteTable(), APIRouter(), APIRouter()
    kept_index, gone_index = table.index(kept, []), table.index(gone, [])
    table.forget_routers({id(kept)})
    assert table.index(kept, []) is kept_index
    assert table.index(gone, []) is not gone_index  # built again, from the routes given
