"""kernel_ext/_reload/_rules/redefined_routes.py on bare routers: no IPython, no server."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from kernel_ext._reload._rules.records import CellRecord
from kernel_ext._reload._rules.redefined_routes import drop_previous_routes, settle_router
from kernel_ext._reload._rules.route_table import RouteTable


def endpoint(name: str, body: object) -> Callable[[], object]:
    def fn() -> object:
        return body

    fn.__qualname__ = fn.__name__ = name
    return fn


def run_cell(
    table: RouteTable, router: APIRouter, *routes: tuple[str, str, object], by_name: bool = False
) -> CellRecord:
    """A cell that defines `routes` ((path, endpoint name, body), GET), settled."""
    before = list(router.routes)
    for path, name, body in routes:
        router.get(path)(endpoint(name, body))
    record = CellRecord()
    settle_router(table, router, before, record, by_name)
    return record


def served(router: APIRouter) -> list[tuple[str, object]]:
    return [(r.path, r.endpoint()) for r in router.routes]  # type: ignore[attr-defined]  # APIRoutes


def test_a_new_route_is_appended_and_recorded() -> None:
    table, router = RouteTable(), APIRouter()
    run_cell(table, router, ("/a", "read_a", 1))
    record = run_cell(table, router, ("/b", "read_b", 2))
    assert served(router) == [("/a", 1), ("/b", 2)]
    assert record.routes == [(router, router.routes[1])]


def test_a_redefined_route_takes_the_old_ones_slot() -> None:
    table, router = RouteTable(), APIRouter()
    run_cell(table, router, ("/a", "read_a", 1), ("/b", "read_b", 1), ("/c", "read_c", 1))
    run_cell(table, router, ("/b", "read_b", 2))
    assert served(router) == [("/a", 1), ("/b", 2), ("/c", 1)]


def test_the_same_path_with_another_parameter_name_is_the_same_route() -> None:
    table, router = RouteTable(), APIRouter()
    run_cell(table, router, ("/items/{id}", "read", 1))
    run_cell(table, router, ("/items/{item_id}", "read", 2))
    assert served(router) == [("/items/{item_id}", 2)]


def test_the_later_of_two_definitions_in_one_cell_wins() -> None:
    table, router = RouteTable(), APIRouter()
    run_cell(table, router, ("/a", "read_a", 1), ("/x", "x", 1))
    run_cell(table, router, ("/x", "x", 2), ("/x", "x", 3))
    assert served(router) == [("/a", 1), ("/x", 3)]


def test_without_cell_ids_a_renamed_path_replaces_the_same_endpoint() -> None:
    # nbclient sends no cell id: an edited `@app.get("/a") def read()` -> "/b" is known by name.
    table, router = RouteTable(), APIRouter()
    run_cell(table, router, ("/a", "read", 1), by_name=True)
    run_cell(table, router, ("/b", "read", 2), by_name=True)
    assert served(router) == [("/b", 2)]


def test_with_cell_ids_an_endpoint_name_alone_replaces_nothing() -> None:
    table, router = RouteTable(), APIRouter()
    run_cell(table, router, ("/a", "read", 1))
    run_cell(table, router, ("/b", "read", 2))
    assert served(router) == [("/a", 1), ("/b", 2)]


def test_lambdas_are_never_matched_by_name() -> None:
    table, router = RouteTable(), APIRouter()
    run_cell(table, router, ("/a", "<lambda>", 1), by_name=True)
    run_cell(table, router, ("/b", "<lambda>", 2), by_name=True)
    assert served(router) == [("/a", 1), ("/b", 2)]


def test_a_route_the_cell_removed_by_hand_is_counted_and_forgotten() -> None:
    table, router = RouteTable(), APIRouter()
    run_cell(table, router, ("/a", "read_a", 1), ("/b", "read_b", 1))
    before = list(router.routes)
    router.routes.pop(0)
    assert settle_router(table, router, before, CellRecord(), False) == 1
    run_cell(table, router, ("/b", "read_b", 2))
    assert served(router) == [("/b", 2)]


def test_a_cell_edited_to_define_another_path_takes_the_old_one_away() -> None:
    table, router = RouteTable(), APIRouter()
    first = run_cell(table, router, ("/a", "read", 1))
    second = run_cell(table, router, ("/b", "read_b", 1))
    assert drop_previous_routes(table, first, second) == (1, [])
    assert served(router) == [("/b", 1)]


def test_deleting_the_cell_that_redefined_a_route_brings_the_older_one_back() -> None:
    table, router = RouteTable(), APIRouter()
    run_cell(table, router, ("/a", "read_a", 1), ("/x", "x", "from A"), ("/z", "read_z", 1))
    from_a = router.routes[1]
    b = run_cell(table, router, ("/x", "x", "from B"))
    assert table.taken == [(from_a, router.routes[1])]  # B took A's slot: a conflict to report
    removed, restored = drop_previous_routes(table, b, CellRecord())
    assert (removed, [r.endpoint() for r in restored]) == (1, ["from A"])  # type: ignore[attr-defined]
    assert served(router) == [("/a", 1), ("/x", "from A"), ("/z", 1)]  # in its slot


def test_the_route_that_comes_back_is_one_a_live_cell_still_defines() -> None:
    table, router = RouteTable(), APIRouter()
    a = run_cell(table, router, ("/x", "x", "A"))
    run_cell(table, router, ("/x", "x", "B"))
    c = run_cell(table, router, ("/x", "x", "C"))
    drop_previous_routes(table, a, CellRecord())  # A deleted: nothing serves differently
    assert served(router) == [("/x", "C")]
    drop_previous_routes(table, c, CellRecord())  # C deleted: B's comes back, not A's
    assert served(router) == [("/x", "B")]


def test_a_router_included_in_an_app_serves_the_settled_routes() -> None:
    table, router = RouteTable(), APIRouter()
    app = FastAPI()
    run_cell(table, router, ("/x", "x", 1))
    app.include_router(router)
    client = TestClient(app)
    assert client.get("/x").json() == 1
    run_cell(table, router, ("/x", "x", 2))  # the app caches the router's routes by version
    assert client.get("/x").json() == 2
