"""OpenAPI operations → parameters, body descriptions and example values.

`referencing` resolves `$ref`s and jsonschema validates (Draft 2020-12, as OpenAPI 3.1). Choosing
an input widget, writing a hint and generating a Swagger-style example stay ours: neither
library does them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_MAX_DEPTH = 6
_STRING_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "12:00:00",
    "duration": "P1D",
    "email": "user@example.com",
    "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "uri": "https://example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
}


@dataclass(frozen=True)
class Param:
    """One input of an operation: a path/query/header/cookie parameter or a form field."""

    name: str
    location: str  # "path" | "query" | "header" | "cookie" | "form"
    required: bool
    schema: dict[str, Any]  # resolved, nullable unwrapped
    nullable: bool = False
    description: str = ""

    @property
    def kind(self) -> str:
        return schema_kind(self.schema)

    @property
    def item_kind(self) -> str:
        return schema_kind(self.schema.get("items") or {})

    @property
    def is_file(self) -> bool:
        return self.kind == "file" or (self.kind == "array" and self.item_kind == "file")

    @property
    def has_default(self) -> bool:
        return "default" in self.schema and self.schema["default"] is not None

    def hint(self) -> str:
        return schema_hint(self.schema, self.required)

    @cached_property
    def signature(self) -> str:
        """Equal for two parameters that need the same input widget."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, default=repr)


@dataclass(frozen=True)
class Body:
    media_type: str
    schema: dict[str, Any]
    required: bool
    example: Any

    @property
    def is_form(self) -> bool:
        return self.media_type in FORM_MEDIA_TYPES

    @property
    def is_json(self) -> bool:
        return self.media_type == "application/json" or self.media_type.endswith("+json")


Loader = Callable[[], tuple[dict[str, Any], dict[str, Any]]]


class Operation:
    """One HTTP operation (or WebSocket route) of the live app.

    The picker needs only method, path, tags and summary; the OpenAPI operation (`raw`) is
    generated on first use, because generating it for every route costs ~2 ms each.
    """

    def __init__(
        self,
        method: str,
        path: str,
        raw: dict[str, Any] | None = None,
        components: dict[str, Any] | None = None,
        *,
        loader: Loader | None = None,
        tags: tuple[str, ...] | None = None,
        summary: str | None = None,
        deprecated: bool | None = None,
    ) -> None:
        self.method = method  # upper case; "WS" for a WebSocket route
        self.path = path
        self._raw = raw
        self._components = components or {}
        self._loader = loader
        self._tags, self._summary, self._deprecated = tags, summary, deprecated

    def __repr__(self) -> str:
        return f"<Operation {self.method} {self.path}>"

    @property
    def raw(self) -> dict[str, Any]:
        if self._raw is None:
            if self._loader is None:
                self._raw = {}
            else:
                self._raw, self._components = self._loader()
        return self._raw

    @property
    def components(self) -> dict[str, Any]:
        self.raw  # noqa: B018 - loads the components along with the operation
        return self._components

    @property
    def loaded(self) -> bool:
        return self._raw is not None

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def is_websocket(self) -> bool:
        return self.method == "WS"

    @property
    def tags(self) -> tuple[str, ...]:
        if self._tags is not None and not self.loaded:
            return self._tags
        return tuple(self.raw.get("tags") or ())

    @property
    def tag(self) -> str:
        return self.tags[0] if self.tags else "default"

    @property
    def summary(self) -> str:
        if self._summary is not None and not self.loaded:
            return self._summary
        return str(self.raw.get("summary") or "")

    @property
    def description(self) -> str:
        return str(self.raw.get("description") or "")

    @property
    def deprecated(self) -> bool:
        if self._deprecated is not None and not self.loaded:
            return self._deprecated
        return bool(self.raw.get("deprecated"))

    @property
    def security(self) -> list[str]:
        return [name for requirement in self.raw.get("security") or () for name in requirement]

    def label(self) -> str:
        text = f"{self.tag} · {self.method:<6} {self.path}"
        if self.summary:
            text += f"  — {self.summary}"
        return text + ("  (deprecated)" if self.deprecated else "")

    @cached_property
    def params(self) -> list[Param]:
        params = [self._param(p) for p in self.raw.get("parameters") or ()]
        body = self.body
        if body is not None and body.is_form:
            params.extend(form_params(body.schema))
        return params

    @cached_property
    def body(self) -> Body | None:
        request_body = self.raw.get("requestBody")
        if not request_body:
            return None
        content = request_body.get("content") or {}
        if not content:
            return None
        media_type = _preferred_media_type(content)
        media = content[media_type]
        schema = resolve(media.get("schema") or {}, self.components)
        if "example" in media:
            example = media["example"]
        elif media.get("examples"):
            first = next(iter(media["examples"].values()))
            example = first.get("value") if isinstance(first, dict) else first
        else:
            example = example_for(schema)
        return Body(media_type, schema, bool(request_body.get("required")), example)

    @cached_property
    def fingerprint(self) -> str:
        """A hash of everything the form is built from, to reuse widgets across refreshes."""
        body = dataclasses.asdict(self.body) if self.body else None
        resolved = {"params": [dataclasses.asdict(p) for p in self.params], "body": body}
        text = json.dumps(resolved, sort_keys=True, default=repr)
        return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()

    def _param(self, raw: dict[str, Any]) -> Param:
        raw = resolve(raw, self.components)
        schema, nullable = unwrap_nullable(raw.get("schema") or {})
        return Param(
            name=raw["name"],
            location=raw.get("in", "query"),
            required=bool(raw.get("required")),
            schema=schema,
            nullable=nullable,
            description=str(raw.get("description") or ""),
        )


def _preferred_media_type(content: dict[str, Any]) -> str:
    for media_type in ("application/json", *FORM_MEDIA_TYPES):
        if media_type in content:
            return media_type
    return next(iter(content))


def form_params(schema: dict[str, Any]) -> list[Param]:
    required = set(schema.get("required") or ())
    params = []
    for name, prop in (schema.get("properties") or {}).items():
        prop_schema, nullable = unwrap_nullable(prop)
        params.append(
            Param(name, "form", name in required, prop_schema, nullable, prop.get("description", ""))
        )
    return params


def resolve(node: Any, components: dict[str, Any]) -> Any:
    """Inline every `$ref`; a recursive model is cut at its second appearance.

    `referencing` finds what a `$ref` points at (JSON Pointer escapes included); the inlining
    is ours, because the form is built from one self-contained schema per input.
    """
    document = DRAFT202012.create_resource({"components": components})
    resolver = Registry().with_resource("", document).resolver()
    return _inline(node, lambda ref: resolver.lookup(ref).contents, ())


def _inline(node: Any, lookup: Callable[[str], Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, lookup, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return {key: _inline(value, lookup, seen) for key, value in node.items()}
    siblings = {k: v for k, v in node.items() if k != "$ref"}  # siblings win, as Swagger UI shows
    if ref in seen or len(seen) > _MAX_DEPTH:
        return {"type": "object", "title": ref.rsplit("/", 1)[-1], "x-recursive": True, **siblings}
    try:
        target = lookup(ref)
    except Unresolvable:  # a dangling $ref: an input without constraints, not a broken explorer
        target = {}
    if not isinstance(target, dict):
        target = {}
    return {**_inline(target, lookup, (*seen, ref)), **siblings}


def unwrap_nullable(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """`X | None` is `anyOf: [X, null]` in OpenAPI 3.1: return (X, True)."""
    options = schema.get("anyOf") or schema.get("oneOf")
    if not options:
        return schema, schema.get("type") == "null"
    concrete = [option for option in options if option.get("type") != "null"]
    nullable = len(concrete) < len(options)
    if len(concrete) == 1:
        outer = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
        return {**concrete[0], **outer}, nullable
    return schema, nullable


def schema_kind(schema: dict[str, Any]) -> str:
    """The widget family for a schema: integer, number, boolean, enum, array, file, object, string."""
    if "enum" in schema or "const" in schema:
        return "enum"
    kind = schema.get("type")
    if kind == "string" and (schema.get("format") == "binary" or "contentMediaType" in schema):
        return "file"
    if kind in ("integer", "number", "boolean", "array", "object", "string"):
        return kind
    return "string"


def enum_values(schema: dict[str, Any]) -> list[Any]:
    if "const" in schema:
        return [schema["const"]]
    return list(schema.get("enum") or ())


def schema_hint(schema: dict[str, Any], required: bool) -> str:
    """A short human description: 'int, 1 ≤ x ≤ 100, default 10'."""
    kind = schema_kind(schema)
    parts = [{"integer": "int", "number": "float", "boolean": "bool"}.get(kind, kind)]
    if kind == "array":
        item_kind = schema_kind(schema.get("items") or {})
        parts[0] = "files" if item_kind == "file" else f"list of {item_kind}"
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is not None or high is not None:
        low_op = "<" if "exclusiveMinimum" in schema else "≤"
        high_op = "<" if "exclusiveMaximum" in schema else "≤"
        left = f"{low} {low_op} " if low is not None else ""
        right = f" {high_op} {high}" if high is not None else ""
        parts.append(f"{left}x{right}")
    if "minLength" in schema or "maxLength" in schema:
        parts.append(f"length {schema.get('minLength', 0)}..{schema.get('maxLength', '')}")
    if "pattern" in schema:
        parts.append(f"pattern {schema['pattern']}")
    if "format" in schema:
        parts.append(str(schema["format"]))
    if schema.get("default") is not None:
        parts.append(f"default {json.dumps(schema['default'])}")
    parts.append("required" if required else "optional")
    return ", ".join(parts)


def validate(value: Any, schema: dict[str, Any]) -> str | None:
    """A client-side warning for a value; the request is still sent (to see the server's 422).

    jsonschema judges (Draft 2020-12, as OpenAPI 3.1); the warning is the first of `_WARNINGS`
    that fails at the top level. A value's type is the input widget's, so type errors and
    an array's items (a tag box holds strings whatever the item type) are left to the server.
    """
    if not _WARNINGS.keys() & schema.keys():
        return None
    # Imported here: with jsonschema[format-nongpl] (JupyterLab's jupyter-events asks for it)
    # importing jsonschema compiles rfc3987-syntax's grammar, about 1.1 s of CPU that the
    # explorer's first display should not wait for.
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        errors = [e for e in Draft202012Validator(schema).iter_errors(value) if not e.path]
    except (re.error, SchemaError, RecursionError):  # e.g. an ECMA-only pattern: let the server judge
        return None
    failed = {error.validator: error.validator_value for error in errors}
    for keyword, message in _WARNINGS.items():
        if keyword in failed:
            return message(failed[keyword], schema)
    return None


_WARNINGS: dict[str, Callable[[Any, dict[str, Any]], str]] = {
    "enum": lambda _, schema: f"not one of {enum_values(schema)}",
    "const": lambda _, schema: f"not one of {enum_values(schema)}",
    "minimum": lambda limit, _: f"must be ≥ {limit}",
    "maximum": lambda limit, _: f"must be ≤ {limit}",
    "exclusiveMinimum": lambda limit, _: f"must be > {limit}",
    "exclusiveMaximum": lambda limit, _: f"must be < {limit}",
    "multipleOf": lambda step, _: f"must be a multiple of {step}",
    "minLength": lambda size, _: f"must have at least {size} characters",
    "maxLength": lambda size, _: f"must have at most {size} characters",
    "pattern": lambda pattern, _: f"must match {pattern}",
    "minItems": lambda size, _: f"must have at least {size} items",
    "maxItems": lambda size, _: f"must have at most {size} items",
    "uniqueItems": lambda _, __: "must not repeat an item",
}


def example_for(schema: dict[str, Any], depth: int = 0) -> Any:
    """An example value for a resolved schema, Swagger-UI style (nested models and lists)."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    if "example" in schema:
        return schema["example"]
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return schema["examples"][0]
    if schema.get("default") not in (None, [], {}):
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(part)
        return example_for(merged, depth + 1)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        concrete = [o for o in options if o.get("type") != "null"] or options
        if concrete[0].get("x-recursive") and len(concrete) < len(options):
            return None
        return example_for(concrete[0], depth + 1)
    return _example_by_type(schema, depth)


def _example_by_type(schema: dict[str, Any], depth: int) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in schema:
        if schema.get("x-recursive"):
            return {}
        value = {
            name: example_for(prop, depth + 1) for name, prop in (schema.get("properties") or {}).items()
        }
        extra = schema.get("additionalProperties")
        if not value and isinstance(extra, dict):
            value = {"additionalProp1": example_for(extra, depth + 1)}
        return value
    if kind == "array":
        return [example_for(schema.get("items") or {}, depth + 1)]
    if kind == "integer":
        return _number_example(schema, 0, 1)
    if kind == "number":
        return float(_number_example(schema, 0, 1))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if kind == "string":
        return _string_example(schema)
    return None


def _number_example(schema: dict[str, Any], fallback: int, step: int) -> float:
    if "minimum" in schema:
        return schema["minimum"]
    if "exclusiveMinimum" in schema:
        return schema["exclusiveMinimum"] + step
    if "maximum" in schema and schema["maximum"] < fallback:
        return schema["maximum"]
    return fallback


def _string_example(schema: dict[str, Any]) -> str:
    if schema_kind(schema) == "file":
        return ""
    text = _STRING_FORMATS.get(str(schema.get("format")), "string")
    if "minLength" in schema and len(text) < schema["minLength"]:
        text = text.ljust(schema["minLength"], "x")
    if "maxLength" in schema:
        text = text[: schema["maxLength"]]
    return text
