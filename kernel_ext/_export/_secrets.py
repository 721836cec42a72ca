"""Secrets never reach the export: literals become environment lookups, or export refuses.

Rewritten (the app then reads the value from the deployment's environment):
- `SECRET_KEY = "..."` (also annotated, also bytes) -> `SECRET_KEY = os.environ["SECRET_KEY"]`
- `KEY = os.getenv("KEY", "fallback")` -> `KEY = os.environ["KEY"]`
- `DATABASE_URL = "postgresql://user:password@host/db"` -> `os.environ["DATABASE_URL"]`
- a pydantic-settings field `secret_key: str = "..."` loses its default (it comes from the env)

Refused with a message naming the cell: a secret-like literal anywhere else (a keyword argument,
a parameter default, a `compare_digest` operand, inside a function).
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass, field
from typing import Any

from ._errors import ExportError

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SECRET_LAST = frozenset(
    {"secret", "password", "passwd", "pwd", "token", "apikey", "passphrase", "credentials"}
)
_SECRET_PAIRS = frozenset(
    {
        ("api", "key"),
        ("secret", "key"),
        ("private", "key"),
        ("signing", "key"),
        ("access", "key"),
        ("encryption", "key"),
        ("auth", "key"),
        ("master", "key"),
        ("client", "secret"),
    }
)
_CREDENTIAL_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
_WRAPPERS = frozenset({"SecretStr", "SecretBytes", "str", "bytes"})
_ENV_READERS = frozenset({"os.getenv", "getenv", "os.environ.get", "environ.get"})


@dataclass(frozen=True)
class MovedSecret:
    """A literal the export replaced by an environment variable. The value is never written."""

    env: str
    cell: str
    value: str = field(repr=False)


def is_secret_name(name: str) -> bool:
    words = [w.lower() for w in _WORDS.findall(name)]
    if not words or any(w.startswith("hash") for w in words):
        return False
    return words[-1] in _SECRET_LAST or tuple(words[-2:]) in _SECRET_PAIRS


def literal_secret(value: ast.expr) -> str | None:
    """The literal `value` evaluates to, if any: `"x"`, `b"x"`, `getenv("K", "x")`, `a or "x"`.

    Literals passed to other calls (`make_token({"sub": name})`) are data, not the value.
    """
    if isinstance(value, ast.Constant):
        if isinstance(value.value, str | bytes) and value.value:
            text = value.value
            return text if isinstance(text, str) else text.decode("latin-1")
        return None
    if isinstance(value, ast.BoolOp):
        return next(filter(None, map(literal_secret, value.values)), None)
    if isinstance(value, ast.IfExp):
        return literal_secret(value.body) or literal_secret(value.orelse)
    if isinstance(value, ast.BinOp):
        return literal_secret(value.left) or literal_secret(value.right)
    if isinstance(value, ast.JoinedStr):
        parts = [v.value for v in value.values if isinstance(v, ast.Constant)]
        return "".join(map(str, parts)) or None
    if isinstance(value, ast.Call):
        func = ast.unparse(value.func)
        if func in _ENV_READERS:
            default = (
                value.args[1]
                if len(value.args) > 1
                else next((k.value for k in value.keywords if k.arg == "default"), None)
            )
            return literal_secret(default) if default is not None else None
        if func.split(".")[-1] in _WRAPPERS and value.args:
            return literal_secret(value.args[0])
        if isinstance(value.func, ast.Attribute) and value.func.attr == "encode":
            return literal_secret(value.func.value)
    return None


def protect(stmt: ast.stmt, where: str) -> tuple[ast.stmt | None, list[MovedSecret]]:
    """(rewritten statement or None if unchanged, secrets moved to the environment)."""
    rewritten, moved = _rewrite_top(stmt, where)
    compared, more = _rewrite_comparisons(rewritten or stmt, where)
    if more:
        rewritten, moved = compared, moved + more
    _refuse_remaining(rewritten or stmt, where)
    return rewritten, moved


def _rewrite_comparisons(stmt: ast.stmt, where: str) -> tuple[ast.stmt, list[MovedSecret]]:
    """`token != "abc"` and `compare_digest(password, b"abc")` read the literal from the env."""
    moved: list[MovedSecret] = []
    new = _copy(stmt)

    def replace(literal: ast.expr, other: ast.expr) -> ast.expr:
        name = _operand_name(other)
        if name is None or not is_secret_name(name) or not _is_text(literal):
            return literal
        env = name.upper()
        moved.append(MovedSecret(env, where, _text(literal)))
        return _environ_lookup(env, isinstance(literal.value, bytes))  # type: ignore[attr-defined]

    for node in ast.walk(new):
        if isinstance(node, ast.Compare) and len(node.comparators) == 1:
            left, right = node.left, node.comparators[0]
            node.left, node.comparators[0] = replace(left, right), replace(right, left)
        elif (
            isinstance(node, ast.Call)
            and ast.unparse(node.func).endswith("compare_digest")
            and len(node.args) == 2
        ):
            first, second = node.args
            node.args = [replace(first, second), replace(second, first)]
    return new, moved


def _operand_name(node: ast.expr) -> str | None:
    """`password` for `credentials.password.encode("utf8")`, `x_token` for `x_token`."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("encode", "strip", "lower")
    ):
        node = node.func.value
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _rewrite_top(stmt: ast.stmt, where: str) -> tuple[ast.stmt | None, list[MovedSecret]]:
    if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        if len(targets) == 1 and isinstance(targets[0], ast.Name):
            name = targets[0].id
            secret = literal_secret(stmt.value)
            plain = isinstance(stmt.value, ast.Constant) or _env_name(stmt.value) is not None
            if plain and secret is not None and (is_secret_name(name) or _CREDENTIAL_URL.match(secret)):
                env = _env_name(stmt.value) or name.upper()
                new = _copy(stmt)
                new.value = _environ_lookup(env, _is_bytes(stmt.value))
                return new, [MovedSecret(env, where, secret)]
    if isinstance(stmt, ast.ClassDef) and _is_settings_class(stmt):
        return _rewrite_settings(stmt, where)
    return None, []


def _rewrite_settings(stmt: ast.ClassDef, where: str) -> tuple[ast.stmt | None, list[MovedSecret]]:
    moved: list[MovedSecret] = []
    body: list[ast.stmt] = []
    for item in stmt.body:
        if (
            isinstance(item, ast.AnnAssign)
            and isinstance(item.target, ast.Name)
            and item.value is not None
            and is_secret_name(item.target.id)
            and (secret := literal_secret(item.value)) is not None
            and isinstance(item.value, ast.Constant)
        ):
            moved.append(MovedSecret(item.target.id.upper(), where, secret))
            item = ast.AnnAssign(item.target, item.annotation, None, item.simple)
        body.append(item)
    if not moved:
        return None, []
    new = _copy(stmt)
    new.body = body
    return new, moved


def _refuse_remaining(stmt: ast.stmt, where: str) -> None:
    for node in ast.walk(stmt):
        problem = _problem(node)
        if problem:
            raise ExportError(
                f"{where} puts a secret in the code ({problem}); secrets are never exported. "
                'Read it from the environment instead, e.g. os.environ["NAME"] or a '
                "pydantic-settings field."
            )


def _problem(node: ast.AST) -> str | None:
    if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
            secret = literal_secret(node.value)
            if secret is not None and is_secret_name(name):
                return f"`{name}` is assigned a literal"
            if secret is not None and _CREDENTIAL_URL.match(secret):
                return "a URL with a password"
    if isinstance(node, ast.Call):
        for keyword in node.keywords:
            if keyword.arg and is_secret_name(keyword.arg) and _is_text(keyword.value):
                return f"`{keyword.arg}=` is given a literal"
        func = ast.unparse(node.func)
        if func.endswith("compare_digest") and any(_is_text(a) for a in node.args):
            return f"{func}() compares with a literal"
        for arg in node.args:
            if _is_text(arg) and _CREDENTIAL_URL.match(_text(arg)):
                return "a URL with a password"
    if isinstance(node, ast.arguments):
        params = node.posonlyargs + node.args
        defaults = [None] * (len(params) - len(node.defaults)) + list(node.defaults)
        pairs = list(zip(params, defaults, strict=True))
        pairs += list(zip(node.kwonlyargs, node.kw_defaults, strict=True))
        for param, default in pairs:
            if default is not None and is_secret_name(param.arg) and _is_text(default):
                return f"the parameter `{param.arg}` defaults to a literal"
    return None


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str | bytes) and bool(node.value)


def _text(node: ast.expr) -> str:
    value = node.value  # type: ignore[attr-defined]
    return value if isinstance(value, str) else value.decode("latin-1")


def _is_bytes(value: ast.expr) -> bool:
    return isinstance(value, ast.Constant) and isinstance(value.value, bytes)


def _env_name(value: ast.expr) -> str | None:
    """`X` when the value already reads the environment variable X with a literal fallback."""
    if isinstance(value, ast.Call) and ast.unparse(value.func) in _ENV_READERS and value.args:
        first = value.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def _environ_lookup(env: str, as_bytes: bool) -> ast.expr:
    lookup: ast.expr = ast.parse(f"os.environ[{env!r}]", mode="eval").body
    if as_bytes:
        lookup = ast.parse(f"os.environ[{env!r}].encode()", mode="eval").body
    return lookup


def _is_settings_class(stmt: ast.ClassDef) -> bool:
    return any(ast.unparse(base).split(".")[-1] == "BaseSettings" for base in stmt.bases)


def _copy(node: ast.stmt) -> Any:
    return copy.deepcopy(node)
