"""The contract diff rules: two OpenAPI operations in, a list of changes out, breaking ones marked.

Plain data in and out (OpenAPI dicts), no FastAPI: `_contract.py` feeds it per-route schemas.
The PyPI OpenAPI diff packages compare two whole spec documents and bring their own CLI and
report formats; here one edited route must be compared in milliseconds inside the cell's
post-run hook, so the walk is ours and the rules are those of oasdiff, which is the reference:
- breaking: an operation removed; a request field or parameter that became required (or a new
  required one); a type narrowed in a request, or widened in a response (the client gets what it
  never had to handle); a response field removed or made optional where it was required; a
  success status removed; a new security requirement; a request body's media type changed.
  One departure: oasdiff 1.30 lets an optional response field go, but FastAPI sends every field
  of a response model, defaults included, so clients read them all: removing any is breaking.
- not breaking: additions of optional inputs or of response fields, removed request fields and
  parameters (FastAPI ignores what it no longer reads), default changes (oasdiff 1.30 dropped
  those), other status codes added or removed.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

NO_DEFAULT = "\0none"  # a Field's default when the schema gives none
MAX_DEPTH = 12  # nested models deeper than this are not walked (and recursive ones stop)
ROOT = ""  # the path of a body itself, as opposed to one of its fields


@dataclass(frozen=True)
class Field:
    """One comparable value of an operation: a parameter, or a body at a path (`a.b[]`)."""

    types: frozenset[str]
    required: bool
    default: str = NO_DEFAULT  # JSON text


@dataclass(frozen=True)
class Body:
    media_type: str
    fields: dict[str, Field]  # ROOT is the body itself


@dataclass(frozen=True)
class Shape:
    """What a client of one operation relies on, flattened so two versions compare cheaply."""

    params: dict[str, Field] = field(default_factory=dict)  # "query q", "path item_id", ...
    body: Body | None = None
    responses: dict[str, Body | None] = field(default_factory=dict)  # status code -> body
    security: frozenset[str] = frozenset()
    deprecated: bool = False
    summary: str = ""


@dataclass(frozen=True)
class Change:
    operation: str  # "GET /items/{item_id}"
    kind: str  # "operation added", "field removed", "became required", "type narrowed", ...
    where: str = ""  # "query parameter q", "request body", "response 200", ""
    detail: str = ""  # "integer → string", "200 → 201"
    breaking: bool = False

    def __str__(self) -> str:
        text = (
            f"{self.operation} {self.where}: {self.kind}" if self.where else f"{self.operation}: {self.kind}"
        )
        if self.detail:
            text += f" ({self.detail})"
        return text + (" [breaking]" if self.breaking else "")


@dataclass
class ContractDiff:
    """What one cell did to the served API. Falsy when nothing changed."""

    changes: list[Change]
    cell: int | None = None  # the execution count of the cell that made the change

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.breaking]

    @property
    def added(self) -> list[str]:
        """Operations added, as "METHOD /path"."""
        return [c.operation for c in self.changes if c.kind == "operation added"]

    @property
    def removed(self) -> list[str]:
        """Operations removed (a moved operation counts as removed from its old path)."""
        removed = [c.operation for c in self.changes if c.kind == "operation removed"]
        return removed + [c.detail.split(" → ")[0] for c in self.changes if c.kind == "operation moved"]

    def __bool__(self) -> bool:
        return bool(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def __iter__(self) -> Iterator[Change]:
        return iter(self.changes)

    def _headline(self) -> str:
        cell = f" by In [{self.cell}]" if self.cell is not None else ""
        breaking = len(self.breaking)
        counts = f"{len(self.changes)} change{'s' * (len(self.changes) != 1)}"
        if breaking:
            counts += f", {breaking} breaking"
        return f"API changed{cell}: {counts}"

    def __repr__(self) -> str:
        if not self.changes:
            return "API unchanged"
        lines = [self._headline()]
        for change in self.changes:
            lines.append(("  ✗ " if change.breaking else "    ") + _line(change))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if not self.changes:
            return "<div class='kernel-ext-diff'>API unchanged</div>"
        rows = []
        for change in self.changes:
            colour = "#c62828" if change.breaking else _COLOURS.get(change.kind, "#37474f")
            badge = " <b style='color:#c62828'>breaking</b>" if change.breaking else ""
            rows.append(f"<div style='color:{colour}'>{html.escape(_line(change))}{badge}</div>")
        colour = "#c62828" if self.breaking else "#1565c0"
        return (
            f"<div class='kernel-ext-diff' style='border-left:4px solid {colour};padding:2px 8px;"
            f"font-family:var(--jp-code-font-family,monospace);font-size:12px'>"
            f"<b>{html.escape(self._headline())}</b>{''.join(rows)}</div>"
        )


_COLOURS = {"operation added": "#2e7d32", "added": "#2e7d32"}
_SIGNS = {"operation added": "+", "operation removed": "-", "operation moved": "-"}


def _line(change: Change) -> str:
    sign = _SIGNS.get(change.kind)
    if sign is not None:
        if change.kind == "operation moved":
            source, _, target = change.detail.partition(" → ")
            return f"{sign} {source} moved to {target}"
        return f"{sign} {change.operation}"
    where = f" {change.where}" if change.where else ""
    detail = f" ({change.detail})" if change.detail else ""
    return f"~ {change.operation}{where}: {change.kind}{detail}"


# --- OpenAPI → Shape --------------------------------------------------------------------------


def shape(operation: dict[str, Any], components: dict[str, Any]) -> Shape:
    """Flatten one OpenAPI operation object; `components` resolves its `$ref`s."""
    schemas = components.get("schemas") or {}
    params = {}
    for param in operation.get("parameters") or ():
        param = _resolve(param, components, "parameters")
        schema = param.get("schema") or {}
        key = f"{param.get('in', 'query')} {param.get('name', '')}"
        params[key] = Field(types(schema, schemas), bool(param.get("required")), _default(schema, schemas))
    body = None
    request = operation.get("requestBody")
    if request:
        request = _resolve(request, components, "requestBodies")
        body = _body(request.get("content") or {}, schemas, bool(request.get("required")))
    responses = {}
    for status, response in (operation.get("responses") or {}).items():
        response = _resolve(response, components, "responses")
        responses[str(status)] = _body(response.get("content") or {}, schemas, True)
    security = frozenset(name for requirement in operation.get("security") or () for name in requirement)
    return Shape(
        params,
        body,
        responses,
        security,
        bool(operation.get("deprecated")),
        str(operation.get("summary") or ""),
    )


def _resolve(obj: dict[str, Any], components: dict[str, Any], section: str) -> dict[str, Any]:
    ref = obj.get("$ref") if isinstance(obj, dict) else None
    if isinstance(ref, str) and ref.startswith(f"#/components/{section}/"):
        return (components.get(section) or {}).get(ref.rsplit("/", 1)[1]) or {}
    return obj


def _body(content: dict[str, Any], schemas: dict[str, Any], required: bool) -> Body | None:
    if not content:
        return None
    media_type, media = next(iter(content.items()))
    fields: dict[str, Field] = {}
    _walk((media or {}).get("schema") or {}, schemas, ROOT, required, fields, ())
    return Body(media_type, fields)


def _schema(schema: Any, schemas: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The schema with a `$ref` followed, and the name it was found under."""
    if not isinstance(schema, dict):
        return {}, None
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[1]
        return schemas.get(name) or {}, name
    return schema, None


def _walk(
    schema: Any,
    schemas: dict[str, Any],
    path: str,
    required: bool,
    out: dict[str, Field],
    seen: tuple[str | None, ...],
) -> None:
    schema, name = _schema(schema, schemas)
    out[path] = Field(types(schema, schemas), required, _default(schema, schemas))
    if (name is not None and name in seen) or len(seen) > MAX_DEPTH:
        return  # a recursive model: its own fields are listed once, higher up
    seen = (*seen, name)
    members = [m for m in _members(schema, schemas) if _schema(m, schemas)[0].get("type") != "null"]
    if len(members) == 1 and members[0] is not schema:  # Optional[Model]: walk the model
        inner, _ = _schema(members[0], schemas)
        _walk_children(inner, schemas, path, out, seen)
    _walk_children(schema, schemas, path, out, seen)


def _walk_children(
    schema: dict[str, Any],
    schemas: dict[str, Any],
    path: str,
    out: dict[str, Field],
    seen: tuple[str | None, ...],
) -> None:
    needed = set(schema.get("required") or ())
    for name, child in (schema.get("properties") or {}).items():
        _walk(child, schemas, f"{path}.{name}" if path else name, name in needed, out, seen)
    if isinstance(schema.get("items"), dict):
        _walk(schema["items"], schemas, f"{path}[]", True, out, seen)
    if isinstance(schema.get("additionalProperties"), dict):
        _walk(schema["additionalProperties"], schemas, f"{path}{{}}", True, out, seen)


def _members(schema: dict[str, Any], schemas: dict[str, Any]) -> list[Any]:
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list):
            return schema[key]
    return [schema]


def types(schema: Any, schemas: dict[str, Any], depth: int = 0) -> frozenset[str]:
    """The kinds of value a schema admits: `integer`, `string:uuid`, `string="a"`, `null`, `any`."""
    schema, _ = _schema(schema, schemas)
    if depth > MAX_DEPTH:
        return frozenset({"any"})
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return frozenset().union(*(types(m, schemas, depth + 1) for m in schema[key]))
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or ())
    values = schema["enum"] if isinstance(schema.get("enum"), list) else None
    if "const" in schema:
        values = [schema["const"]]
    if values is not None:
        return frozenset(f"{kinds[0] if kinds else _json_kind(v)}={json.dumps(v)}" for v in values)
    if not kinds:
        if "properties" in schema:
            return frozenset({"object"})
        return frozenset({"any"})
    fmt = schema.get("format")
    return frozenset(f"{k}:{fmt}" if fmt and k == "string" else k for k in kinds)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "null" if value is None else "string" if isinstance(value, str) else "any"


def _default(schema: Any, schemas: dict[str, Any]) -> str:
    schema, _ = _schema(schema, schemas)
    if "default" not in schema:
        return NO_DEFAULT
    return json.dumps(schema["default"], sort_keys=True, default=str)


def _covers(wide: str, narrow: str) -> bool:
    """Whether every value of kind `narrow` is also of kind `wide`."""
    if wide == narrow or wide == "any":
        return True
    base = narrow.split("=", 1)[0].split(":", 1)[0]
    return wide == base or (wide == "number" and base == "integer")


def admits(wide: frozenset[str], narrow: frozenset[str]) -> bool:
    return all(any(_covers(w, n) for w in wide) for n in narrow)


def show_types(kinds: frozenset[str]) -> str:
    return " | ".join(sorted(kinds, key=lambda k: (k == "null", k)))


# --- two Shapes -> changes  ------------------------------------------------------------------


def diff_operations(old: dict[str, Shape], new: dict[str, Shape], cell: int | None = None) -> ContractDiff:
    """Compare two contracts given as {"METHOD /path": Shape}."""
    changes: list[Change] = []
    removed = [key for key in old if key not in new]
    added = [key for key in new if key not in old]
    moved = _moves(removed, added, old, new)
    for key in removed:
        if key not in moved:
            changes.append(Change(key, "operation removed", breaking=True))
    for key in added:
        source = next((src for src, dst in moved.items() if dst == key), None)
        if source is None:
            changes.append(Change(key, "operation added"))
            continue
        changes.append(Change(key, "operation moved", detail=f"{source} → {key}", breaking=True))
        changes += diff_shapes(key, old[source], new[key])
    for key in new:
        if key in old and old[key] is not new[key] and old[key] != new[key]:
            changes += diff_shapes(key, old[key], new[key])
    return ContractDiff(changes, cell)


def _moves(
    removed: list[str], added: list[str], old: dict[str, Shape], new: dict[str, Shape]
) -> dict[str, str]:
    """Removed → added operation pairs that are one route renamed: same method, same summary
    (FastAPI's default summary is the endpoint function's name)."""
    moves: dict[str, str] = {}
    for source in removed:
        method = source.split(" ", 1)[0]
        candidates = [
            key
            for key in added
            if key.split(" ", 1)[0] == method
            and key not in moves.values()
            and old[source].summary
            and new[key].summary == old[source].summary
        ]
        if len(candidates) == 1:
            moves[source] = candidates[0]
    return moves


def diff_shapes(operation: str, old: Shape, new: Shape) -> list[Change]:
    changes: list[Change] = []
    for key in old.params.keys() | new.params.keys():
        where = _param_where(key)
        changes += _field_changes(operation, where, old.params.get(key), new.params.get(key), "request")
    changes += _request_body_changes(operation, old.body, new.body)
    changes += _response_changes(operation, old.responses, new.responses)
    for scheme in sorted(new.security - old.security):
        changes.append(Change(operation, "security added", detail=scheme, breaking=True))
    for scheme in sorted(old.security - new.security):
        changes.append(Change(operation, "security removed", detail=scheme))
    if new.deprecated != old.deprecated:
        changes.append(Change(operation, "deprecated" if new.deprecated else "no longer deprecated"))
    return _sorted(changes)


def _sorted(changes: list[Change]) -> list[Change]:
    order = {"parameter": 0, "request body": 1, "response": 2}
    return sorted(changes, key=lambda c: (order.get(c.where.split(" ")[0], 3), c.where))


def _param_where(key: str) -> str:
    location, _, name = key.partition(" ")
    return f"{location} parameter {name}"


def _request_body_changes(operation: str, old: Body | None, new: Body | None) -> list[Change]:
    where = "request body"
    if old is None and new is None:
        return []
    if old is None:
        assert new is not None
        required = new.fields[ROOT].required
        return [Change(operation, "added", where, new.media_type, breaking=required)]
    if new is None:
        return [Change(operation, "removed", where, old.media_type)]
    if old.media_type != new.media_type:
        return [Change(operation, "media type changed", where, f"{old.media_type} → {new.media_type}", True)]
    return _body_changes(operation, where, old, new, "request")


def _response_changes(
    operation: str, old: dict[str, Body | None], new: dict[str, Body | None]
) -> list[Change]:
    changes = []
    old_success, new_success = _success(old), _success(new)
    for status in sorted(old.keys() - new.keys()):
        if status == old_success and new_success is not None:
            detail = f"{old_success} → {new_success}"
            changes.append(Change(operation, "success status changed", "response", detail, True))
        else:
            changes.append(Change(operation, "status removed", "response", status, status in _ok(old)))
    for status in sorted(new.keys() - old.keys()):
        if not (status == new_success and old_success in old.keys() - new.keys()):
            changes.append(Change(operation, "status added", "response", status))
    pairs = [(s, s) for s in sorted(old.keys() & new.keys())]
    if old_success and new_success and old_success != new_success and old_success not in new:
        pairs.append((old_success, new_success))
    for before, after in pairs:
        where = f"response {after}"
        old_body, new_body = old[before], new[after]
        if old_body is None or new_body is None:
            if old_body is not new_body:
                kind = "body removed" if new_body is None else "body added"
                changes.append(Change(operation, kind, where, breaking=new_body is None))
            continue
        changes += _body_changes(operation, where, old_body, new_body, "response")
    return changes


def _ok(responses: dict[str, Any]) -> list[str]:
    return sorted(s for s in responses if s.startswith("2") or s == "2XX")


def _success(responses: dict[str, Any]) -> str | None:
    ok = _ok(responses)
    return ok[0] if ok else None


def _body_changes(operation: str, where: str, old: Body, new: Body, direction: str) -> list[Change]:
    changes = []
    gone: list[str] = []
    for path in sorted(old.fields.keys() | new.fields.keys()):
        if _under_any(path, gone):
            continue  # its parent was added or removed: said once, at the parent
        before, after = old.fields.get(path), new.fields.get(path)
        if before is None or after is None:
            gone.append(path)
        label = f"{where} field {path}" if path else where
        changes += _field_changes(operation, label, before, after, direction)
    return changes


def _under_any(path: str, parents: list[str]) -> bool:
    return any(path.startswith(p) and path[len(p) : len(p) + 1] in (".", "[", "{") for p in parents)


def _field_changes(
    operation: str, where: str, old: Field | None, new: Field | None, direction: str
) -> list[Change]:
    """One parameter or body field compared; `direction` is "request" or "response"."""
    request = direction == "request"
    if old is None and new is not None:
        kind = "added, required" if new.required else "added"
        return [Change(operation, kind, where, breaking=request and new.required)]
    if new is None and old is not None:
        return [Change(operation, "removed", where, breaking=not request)]
    assert old is not None and new is not None
    changes = []
    if old.types != new.types:
        detail = f"{show_types(old.types)} → {show_types(new.types)}"
        wider, narrower = admits(new.types, old.types), admits(old.types, new.types)
        kind = "type widened" if wider else "type narrowed" if narrower else "type changed"
        breaking = not wider if request else not narrower
        changes.append(Change(operation, kind, where, detail, breaking))
    if old.required != new.required:
        kind = "became required" if new.required else "became optional"
        changes.append(Change(operation, kind, where, breaking=new.required if request else old.required))
    if old.default != new.default and old.required == new.required:  # else implied
        detail = f"{_show_default(old.default)} → {_show_default(new.default)}"
        changes.append(Change(operation, "default changed", where, detail))
    return changes


def _show_default(value: str) -> str:
    return "none" if value == NO_DEFAULT else value
