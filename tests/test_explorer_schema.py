"""kernel_ext._explorer: operations, parameters and example bodies from the live app."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel

from kernel_ext._explorer._auth import schemes_from
from kernel_ext._explorer._catalog import Catalog
from kernel_ext._explorer._schema import example_for, resolve, schema_hint, validate
from tests.support.explorer_app import demo_app


def ops_by_key(app: FastAPI) -> dict[tuple[str, str], object]:
    return {op.key: op for op in Catalog().operations(app)}


def test_every_operation_is_listed_with_tag_method_and_path() -> None:
    ops = Catalog().operations(demo_app())
    keys = {op.key for op in ops}
    assert ("GET", "/items/{item_id}") in keys and ("POST", "/items") in keys
    assert ("WS", "/ws/{room}") in keys
    assert not any(path in ("/docs", "/openapi.json") for _, path in keys)
    read = next(op for op in ops if op.key == ("GET", "/items/{item_id}"))
    assert read.label() == "items · GET    /items/{item_id}  — Read Item"


def test_labels_need_no_schema_generation_until_an_operation_is_used() -> None:
    ops = Catalog().operations(demo_app())
    assert all(not op.loaded for op in ops if not op.is_websocket)
    ops[0].label()
    assert not ops[0].loaded
    assert ops[0].params is not None
    assert ops[0].loaded


def test_parameters_get_kinds_and_hints_from_the_schema() -> None:
    op = ops_by_key(demo_app())[("GET", "/items/{item_id}")]
    params = {p.name: p for p in op.params}
    assert {n: p.location for n, p in params.items()} == {
        "item_id": "path",
        "q": "query",
        "limit": "query",
        "color": "query",
        "flag": "query",
        "ids": "query",
        "x-trace": "header",
        "session": "cookie",
    }
    assert params["item_id"].kind == "integer" and params["item_id"].required
    assert params["q"].kind == "string" and params["q"].nullable and not params["q"].required
    assert params["limit"].hint() == "int, 1 ≤ x ≤ 100, default 10, optional"
    assert params["color"].kind == "enum"
    assert params["flag"].kind == "boolean"
    assert params["ids"].kind == "array" and params["ids"].item_kind == "integer"


def test_form_and_file_fields_come_from_the_body_schema() -> None:
    ops = ops_by_key(demo_app())
    login = ops[("POST", "/login")]
    assert login.body.media_type == "application/x-www-form-urlencoded"
    assert [(p.name, p.location, p.required) for p in login.params] == [
        ("username", "form", True),
        ("password", "form", True),
    ]
    upload = {p.name: p for p in ops[("POST", "/upload")].params}
    assert upload["file"].kind == "file" and upload["file"].is_file
    assert upload["extra"].kind == "array" and upload["extra"].is_file
    assert upload["note"].kind == "string" and not upload["note"].is_file


def test_json_body_example_includes_nested_models_and_lists() -> None:
    body = ops_by_key(demo_app())[("POST", "/items")].body
    assert body.is_json and body.required
    assert body.example == {"name": "string", "price": 1.0, "tags": [{"label": "string", "weight": 1}]}


class Node(BaseModel):
    value: int = 0
    children: list[Node] = []
    parent: Node | None = None


def test_recursive_models_do_not_loop() -> None:
    app = FastAPI()

    @app.post("/nodes")
    def create(node: Node) -> Node:
        return node

    body = ops_by_key(app)[("POST", "/nodes")].body
    assert body.example["value"] == 0
    assert isinstance(body.example["children"], list)
    assert body.example["parent"] is None


def test_example_values_follow_formats_bounds_and_explicit_examples() -> None:
    assert example_for({"type": "string", "format": "email"}) == "user@example.com"
    assert example_for({"type": "string", "format": "date-time"}) == "2024-01-01T00:00:00Z"
    assert example_for({"type": "integer", "minimum": 5}) == 5
    assert example_for({"type": "integer", "exclusiveMinimum": 5}) == 6
    assert example_for({"type": "string", "maxLength": 3}) == "str"
    assert example_for({"type": "string", "examples": ["given"]}) == "given"
    assert example_for({"enum": ["b", "a"]}) == "b"
    assert example_for({"type": "object", "additionalProperties": {"type": "integer"}}) == {
        "additionalProp1": 0
    }


def test_validation_hints_warn_but_do_not_block() -> None:
    schema = {"type": "integer", "minimum": 1, "maximum": 100}
    assert validate(0, schema) == "must be ≥ 1"
    assert validate(50, schema) is None
    assert validate("ab", {"type": "string", "minLength": 3}) == "must have at least 3 characters"
    assert "pattern ^a" in schema_hint({"type": "string", "pattern": "^a"}, True)


def test_refs_are_inlined_and_siblings_win() -> None:
    components = {"schemas": {"Color": {"type": "string", "enum": ["red"]}}}
    assert resolve({"$ref": "#/components/schemas/Color", "default": "red"}, components) == {
        "type": "string",
        "enum": ["red"],
        "default": "red",
    }


def test_included_routers_are_listed_with_their_prefix_and_tags() -> None:
    router = APIRouter(tags=["inner"])

    @router.get("/thing/{thing_id}")
    def thing(thing_id: int, q: Annotated[str | None, Query()] = None) -> dict[str, int]:
        return {"id": thing_id}

    app = FastAPI()
    app.include_router(router, prefix="/api", tags=["outer"])
    op = ops_by_key(app)[("GET", "/api/thing/{thing_id}")]
    assert op.tags == ("outer", "inner")
    assert [p.name for p in op.params] == ["thing_id", "q"]


def test_refresh_reuses_unchanged_routes_and_picks_up_edits() -> None:
    app = demo_app()
    catalog = Catalog()
    first = {op.key: op for op in catalog.operations(app)}

    @app.get("/added")
    def added(n: int = 1) -> int:
        return n

    second = {op.key: op for op in catalog.operations(app)}
    assert ("GET", "/added") in second
    assert all(second[key] is op for key, op in first.items())  # untouched routes: same objects

    app.router.routes = [r for r in app.router.routes if getattr(r, "path", "") != "/login"]
    app.router._mark_routes_changed()
    assert ("POST", "/login") not in {op.key for op in catalog.operations(app)}


def test_a_shadowed_duplicate_route_is_not_listed_twice() -> None:
    app = FastAPI()

    @app.get("/x")
    def first() -> int:
        return 1

    @app.get("/x")
    def second(extra: int) -> int:
        return 2

    ops = Catalog().operations(app)
    assert [op.key for op in ops] == [("GET", "/x")]
    assert ops[0].params == []  # the route that serves is the first one


def test_security_schemes_are_read_from_dependencies() -> None:
    catalog = Catalog()
    catalog.operations(demo_app())
    schemes = {s.name: s for s in schemes_from(catalog.security_schemes())}
    assert schemes["OAuth2PasswordBearer"].kind == "oauth2"
    assert schemes["OAuth2PasswordBearer"].token_url == "token"
    assert schemes["HTTPBasic"].kind == "basic"


def test_websocket_parameters_come_from_the_path_and_the_signature() -> None:
    op = ops_by_key(demo_app())[("WS", "/ws/{room}")]
    assert [(p.name, p.location, p.required) for p in op.params] == [
        ("room", "path", True),
        ("name", "query", False),
    ]


def test_pattern_hint_warns_on_mismatch() -> None:
    schema = {"type": "string", "pattern": "^[a-z]+$"}
    assert validate("abc", schema) is None
    assert validate("ABC", schema) == "must match ^[a-z]+$"
    assert validate("x", {"type": "string", "pattern": "(?<=unbalanced"}) is None


def test_refs_follow_json_pointer_escapes_and_a_dangling_ref_is_an_open_input() -> None:
    components = {"schemas": {"a/b": {"type": "integer"}, "Node": {"$ref": "#/components/schemas/Node"}}}
    assert resolve({"$ref": "#/components/schemas/a~1b"}, components) == {"type": "integer"}
    assert resolve({"$ref": "#/components/schemas/Missing", "title": "M"}, components) == {"title": "M"}
    cut = resolve({"$ref": "#/components/schemas/Node"}, components)
    assert cut == {"type": "object", "title": "Node", "x-recursive": True}


def test_validation_follows_draft_2020_12() -> None:
    assert validate(7, {"type": "integer", "multipleOf": 5}) == "must be a multiple of 5"
    assert validate(5, {"type": "integer", "exclusiveMinimum": 5}) == "must be > 5"
    assert validate("b", {"const": "a"}) == "not one of ['a']"
    assert validate(None, {"type": "string", "enum": ["x", "y"]}) == "not one of ['x', 'y']"
    assert validate(["a", "a"], {"type": "array", "uniqueItems": True}) == "must not repeat an item"
    assert validate([], {"type": "array", "minItems": 1}) == "must have at least 1 items"
    # A tag box holds strings: items are the server's to judge, and so is the type.
    assert validate(["1"], {"type": "array", "items": {"type": "integer", "minimum": 2}}) is None
    assert validate("x", {"type": "integer", "minimum": 2}) is None
