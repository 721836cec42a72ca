"""The contract diff rules, on OpenAPI operations written out by hand."""

from __future__ import annotations

from typing import Any

from kernel_ext._changes._contractdiff import Change, ContractDiff, admits, diff_operations, shape, types

OBJ = "#/components/schemas/"


def op(
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    responses: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": "Read Item", **extra}
    if params:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    operation["responses"] = responses if responses is not None else {"200": {"description": "OK"}}
    return operation


def ok(schema: dict[str, Any], status: str = "200") -> dict[str, Any]:
    return {status: {"description": "OK", "content": {"application/json": {"schema": schema}}}}


def item(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required}


def param(name: str, schema: dict[str, Any], required: bool = False, where: str = "query") -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema}


def diff(old: dict[str, Any], new: dict[str, Any], components: dict[str, Any] | None = None) -> list[Change]:
    comps = components or {}
    result = diff_operations({"GET /x": shape(old, comps)}, {"GET /x": shape(new, comps)})
    return result.changes


def kinds(changes: list[Change]) -> list[tuple[str, str, bool]]:
    return [(c.where, c.kind, c.breaking) for c in changes]


STR, INT, NUM = {"type": "string"}, {"type": "integer"}, {"type": "number"}
OPT_STR = {"anyOf": [STR, {"type": "null"}]}


def test_identical_operations_give_no_change() -> None:
    operation = op([param("q", STR)], item(["a"], a=STR), ok(item(["a"], a=STR)))
    assert diff(operation, operation) == []
    assert not diff_operations({}, {})


def test_operations_added_removed_and_moved() -> None:
    old = {"GET /a": shape(op(summary="Read A"), {}), "DELETE /b": shape(op(summary="Drop"), {})}
    new = {"GET /a2": shape(op(summary="Read A"), {}), "POST /c": shape(op(summary="Make"), {})}
    result = diff_operations(old, new, cell=7)
    assert [(c.operation, c.kind, c.breaking) for c in result] == [
        ("DELETE /b", "operation removed", True),
        ("GET /a2", "operation moved", True),
        ("POST /c", "operation added", False),
    ]
    assert result.added == ["POST /c"]
    assert sorted(result.removed) == ["DELETE /b", "GET /a"]
    assert result.cell == 7 and len(result.breaking) == 2
    assert "In [7]" in repr(result) and "GET /a moved to GET /a2" in repr(result)


def test_a_moved_operation_also_lists_what_changed_in_it() -> None:
    old = {"GET /a": shape(op([param("q", STR)]), {})}
    new = {"GET /b": shape(op([param("q", STR, required=True)]), {})}
    changes = diff_operations(old, new).changes
    assert [(c.operation, c.kind) for c in changes] == [
        ("GET /b", "operation moved"),
        ("GET /b", "became required"),
    ]


def test_parameter_rules() -> None:
    old = op([param("q", STR), param("drop", STR), param("n", NUM)])
    new = op([param("q", STR, required=True), param("n", INT), param("new", STR), param("must", STR, True)])
    assert sorted(kinds(diff(old, new))) == [
        ("query parameter drop", "removed", False),
        ("query parameter must", "added, required", True),
        ("query parameter n", "type narrowed", True),
        ("query parameter new", "added", False),
        ("query parameter q", "became required", True),
    ]
    # The other way round: optional, widened, removed — nothing a client relied on is gone.
    back = diff(new, old)
    assert [c for c in back if c.breaking] == []


def test_parameter_default_changed_is_shown_but_not_breaking() -> None:
    changes = diff(op([param("q", {**INT, "default": 1})]), op([param("q", {**INT, "default": 2})]))
    assert kinds(changes) == [("query parameter q", "default changed", False)]
    assert changes[0].detail == "1 → 2"


def test_request_body_fields() -> None:
    old = op(body=item(["name"], name=STR, price={**NUM, "default": 0}, note=OPT_STR))
    new = op(body=item(["name", "price"], name=STR, price=NUM, tags={"type": "array", "items": STR}))
    assert sorted(kinds(diff(old, new))) == [
        ("request body field note", "removed", False),
        ("request body field price", "became required", True),
        ("request body field tags", "added", False),
    ]


def test_request_type_narrowed_widened_and_changed() -> None:
    def field(schema: dict[str, Any]) -> dict[str, Any]:
        return op(body=item([], v=schema))

    assert kinds(diff(field(OPT_STR), field(STR))) == [("request body field v", "type narrowed", True)]
    assert kinds(diff(field(INT), field(NUM))) == [("request body field v", "type widened", False)]
    assert kinds(diff(field(STR), field(INT))) == [("request body field v", "type changed", True)]
    enum_ab, enum_a = {"type": "string", "enum": ["a", "b"]}, {"type": "string", "enum": ["a"]}
    assert kinds(diff(field(enum_ab), field(enum_a))) == [("request body field v", "type narrowed", True)]
    assert kinds(diff(field(STR), field({**STR, "format": "uuid"}))) == [
        ("request body field v", "type narrowed", True)
    ]


def test_response_rules_mirror_the_request_ones() -> None:
    old = op(responses=ok(item(["id", "name"], id=INT, name=STR, extra=STR)))
    new = op(responses=ok(item(["id"], id=NUM, name=OPT_STR, more=STR)))
    assert sorted(kinds(diff(old, new))) == sorted(
        [
            ("response 200 field extra", "removed", True),
            ("response 200 field id", "type widened", True),
            ("response 200 field more", "added", False),
            ("response 200 field name", "type widened", True),
            ("response 200 field name", "became optional", True),
        ]
    )
    # Narrowing a response (null no longer sent) breaks nobody.
    narrowed = diff(op(responses=ok(item([], v=OPT_STR))), op(responses=ok(item([], v=STR))))
    assert kinds(narrowed) == [("response 200 field v", "type narrowed", False)]


def test_nested_fields_via_refs_arrays_and_optional_models() -> None:
    components = {
        "schemas": {
            "Tag": item(["label"], label=STR),
            "Post": item(
                ["tags"],
                tags={"type": "array", "items": {"$ref": OBJ + "Tag"}},
                author={"anyOf": [{"$ref": OBJ + "Tag"}, {"type": "null"}]},
            ),
        }
    }
    tag2 = {"Tag": item(["label"], label=INT)}
    new_components = {"schemas": {**components["schemas"], **tag2}}
    old_shape = shape(op(responses=ok({"$ref": OBJ + "Post"})), components)
    new_shape = shape(op(responses=ok({"$ref": OBJ + "Post"})), new_components)
    changes = diff_operations({"GET /x": old_shape}, {"GET /x": new_shape}).changes
    assert sorted(c.where for c in changes) == [
        "response 200 field author.label",
        "response 200 field tags[].label",
    ]
    assert all(c.kind == "type changed" and c.breaking for c in changes)


def test_a_removed_object_is_reported_once_not_field_by_field() -> None:
    old = op(responses=ok(item(["a"], a=item(["b", "c"], b=STR, c=STR))))
    new = op(responses=ok(item([])))
    assert kinds(diff(old, new)) == [("response 200 field a", "removed", True)]


def test_recursive_models_terminate() -> None:
    components = {"schemas": {"Node": item([], child={"$ref": OBJ + "Node"}, v=STR)}}
    fields = shape(op(responses=ok({"$ref": OBJ + "Node"})), components).responses["200"]
    assert fields is not None and set(fields.fields) == {"", "child", "v"}


def test_status_codes() -> None:
    json_ok = ok(item([], a=STR))
    assert kinds(diff(op(responses=json_ok), op(responses=ok(item([], a=STR), "201")))) == [
        ("response", "success status changed", True)
    ]
    with_404 = {**json_ok, "404": {"description": "Not found"}}
    assert kinds(diff(op(responses=json_ok), op(responses=with_404))) == [("response", "status added", False)]
    assert kinds(diff(op(responses=with_404), op(responses=json_ok))) == [
        ("response", "status removed", False)
    ]


def test_request_body_added_required_and_media_type_changed() -> None:
    assert kinds(diff(op(), op(body=item([], a=STR)))) == [("request body", "added", True)]
    form = op(body=item([], a=STR))
    form["requestBody"]["content"] = {
        "application/x-www-form-urlencoded": form["requestBody"]["content"]["application/json"]
    }
    assert kinds(diff(op(body=item([], a=STR)), form)) == [("request body", "media type changed", True)]


def test_security_and_deprecation() -> None:
    changes = diff(op(), op(security=[{"OAuth2PasswordBearer": []}], deprecated=True))
    assert kinds(changes) == [("", "security added", True), ("", "deprecated", False)]


def test_types_and_admits() -> None:
    assert types(OPT_STR, {}) == {"string", "null"}
    assert types({"$ref": OBJ + "X"}, {"X": {"type": "integer"}}) == {"integer"}
    assert types({}, {}) == {"any"}
    assert admits(frozenset({"number"}), frozenset({"integer"}))
    assert admits(frozenset({"any"}), frozenset({"string", "null"}))
    assert not admits(frozenset({"string"}), frozenset({"string", "null"}))


def test_renders_as_text_and_html() -> None:
    result = ContractDiff(
        [Change("GET /a", "operation removed", breaking=True), Change("GET /b", "operation added")], 3
    )
    text = repr(result)
    assert text.splitlines()[0] == "API changed by In [3]: 2 changes, 1 breaking"
    assert "✗ - GET /a" in text and "+ GET /b" in text
    assert "breaking" in result._repr_html_() and "&lt;" not in result._repr_html_()
    assert str(result.changes[0]) == "GET /a: operation removed [breaking]"
    assert repr(ContractDiff([])) == "API unchanged"
