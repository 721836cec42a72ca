"""Secrets never reach the export: literals become environment lookups, or export refuses.

A secret literal is a text literal that is
- assigned to, compared with, or stored under a secret-looking name (a word key, secret, token,
  password, passwd, pwd, pass, pem or credential anywhere in it: `STRIPE_KEY`, `PRIVATE_KEY_PEM`,
  `x_token`, `{"password": ...}`), unless the name describes a secret rather than holds one
  (`TOKEN_URL`, `SECRET_KEY_LENGTH`, `password_hash`, `cache_key`);
- the value of an `Authorization` header;
- shaped like a well-known credential wherever it is (`sk_live_...`, `ghp_...`, `xoxb-...`,
  `AKIA...`, a PEM private key, a JWT, a Slack webhook, a URL with a password in it);
- a value of a dict the code compares with a secret (`USERS.get(user) == x_pass`).

Moved to the environment, read once at import by `require_env` (app/_env.py), so a missing
variable stops the app at startup:
- `NAME = <secret>` -> `NAME = require_env("NAME")` (`.encode()`d for bytes);
- `KEY = os.getenv("KEY", "fallback")`, `os.environ.get("KEY") or secrets.token_hex()` ->
  `require_env("KEY")`: no literal and no per-process generated fallback;
- a secret in a module-level dict -> `require_env("USERS_ADMIN")` in its place;
- a literal compared with a secret (`x_token != "abc"`, also inside a function) -> a
  module-level constant `X_TOKEN = require_env("X_TOKEN")` the comparison reads;
- a pydantic-settings field with a secret-looking name loses its literal or generated default.

Refused with a message naming the cell: a secret literal anywhere else. Comments that hold a
secret are dropped from the exported source (`scrub_comments`).
"""

from __future__ import annotations

import ast
import copy
import functools
import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from ._errors import ExportError

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SECRET_WORDS = frozenset(
    {
        "secret",
        "secrets",
        "password",
        "passwords",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "token",
        "tokens",
        "key",
        "keys",
        "apikey",
        "pem",
        "credential",
        "credentials",
        "creds",
    }
)
# A last word that makes the name describe a secret rather than hold one: TOKEN_URL, KEY_LENGTH.
_DESCRIBING = frozenset(
    {
        "url",
        "uri",
        "endpoint",
        "type",
        "expire",
        "expires",
        "expiry",
        "expiration",
        "minutes",
        "seconds",
        "hours",
        "days",
        "ttl",
        "lifetime",
        "length",
        "len",
        "size",
        "bits",
        "header",
        "name",
        "field",
        "param",
        "prefix",
        "suffix",
        "scheme",
        "algorithm",
        "algorithms",
        "alg",
        "hash",
        "hasher",
        "id",
        "path",
        "file",
        "dir",
        "env",
        "var",
        "count",
        "min",
        "max",
        "format",
        "regex",
        "pattern",
        "policy",
        "func",
        "fn",
        "function",
        "label",
        "hint",
        "help",
        "description",
        "arn",
        "location",
    }
)
# "<word> key" that names a lookup or database key, not a secret: cache_key, primary_key.
_PLAIN_KEYS = frozenset(
    {
        "cache",
        "sort",
        "primary",
        "foreign",
        "lookup",
        "partition",
        "public",
        "dict",
        "map",
        "group",
        "unique",
        "composite",
        "index",
        "row",
        "item",
        "order",
        "idempotency",
        "object",
        "routing",
        "shard",
        "cursor",
        "tag",
        "column",
        "join",
        "natural",
        "surrogate",
        "message",
        "state",
        "dedup",
        "redis",
        "storage",
    }
)
_AUTH_HEADERS = frozenset({"authorization", "proxy-authorization"})
_AUTH_SCHEMES = frozenset({"basic", "bearer", "digest", "token", "negotiate"})
_CREDENTIAL_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
_CREDENTIAL_URL_ANYWHERE = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
# Token shapes detect-secrets' plugins lack or read more narrowly: Stripe test and restricted
# keys, and live keys shorter than its 24 characters; Google API keys; GitHub fine-grained tokens;
# JWTs whose parts don't decode (a placeholder payload is still a token's shape); encrypted
# PKCS #8 private keys.
_MORE_TOKENS = re.compile(
    r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{6,}"
    r"|-----BEGIN ENCRYPTED PRIVATE KEY-----"
    r"|\bgithub_pat_[0-9A-Za-z_]{16,}"
    r"|\bAIza[0-9A-Za-z_-]{30,}"
    r"|\beyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{8,}"
)
_SHELL_CREDENTIALS = re.compile(r"(?:^|\s)(?:-u|--user|--password|-p)[\s=]+['\"]?[^\s:'\"]*:?[^\s'\"]{3,}")
_AUTH_IN_TEXT = re.compile(r"\b(?:Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}")
_NAMED_IN_TEXT = re.compile(r"([A-Za-z_][\w.-]*)['\"]?\s*[:=]\s*(['\"][^'\"]+['\"]|[^\s,;()]+)")
_BARE_SECRET = re.compile(r"[A-Za-z0-9_+/=-]{6,}")  # `password: hunter2`, not `os.environ[...]`
_WRAPPERS = frozenset({"SecretStr", "SecretBytes", "str", "bytes"})
_ENV_READERS = frozenset({"os.getenv", "getenv", "os.environ.get", "environ.get"})
_GENERATORS = frozenset(
    {
        "token_hex",
        "token_urlsafe",
        "token_bytes",
        "randbits",
        "randbelow",
        "urandom",
        "uuid4",
        "generate_key",
        "randbytes",
    }
)
_BYTES_GENERATORS = frozenset({"token_bytes", "urandom", "randbytes", "generate_key"})
REQUIRE_ENV = "require_env"


@dataclass(frozen=True)
class MovedSecret:
    """A secret the export took out of the code; the app reads `env` instead. Never written."""

    env: str
    cell: str
    value: str = field(repr=False)
    generated: bool = False  # the notebook generated it per process (secrets.token_hex() ...)


@dataclass(frozen=True)
class EnvConstant:
    """A module-level `NAME = require_env("ENV")` that rewritten code reads."""

    name: str
    env: str
    as_bytes: bool

    def line(self) -> str:
        return f"{self.name} = {REQUIRE_ENV}({self.env!r})" + (".encode()" if self.as_bytes else "")


@dataclass
class Protected:
    stmt: ast.stmt | None  # the rewritten statement, None when unchanged
    moved: list[MovedSecret] = field(default_factory=list)
    constants: list[EnvConstant] = field(default_factory=list)


def is_secret_name(name: str) -> bool:
    words = [w.lower() for w in _WORDS.findall(name)]
    if not words or any(w.startswith("hash") for w in words) or words[-1] in _DESCRIBING:
        return False
    for position, word in enumerate(words):
        if word not in _SECRET_WORDS:
            continue
        if word in ("key", "keys") and (len(words) == 1 or words[position - 1] in _PLAIN_KEYS):
            continue
        return True
    return False


def looks_like_credential(text: str) -> bool:
    """A well-known token shape, a private key or a URL with a password, anywhere in `text`."""
    return known_token(text) or bool(_CREDENTIAL_URL_ANYWHERE.search(text))


def known_token(text: str) -> bool:
    """A well-known credential's shape (a GitHub, Slack, AWS, Stripe... token, a private key)
    anywhere in `text`."""
    return bool(_MORE_TOKENS.search(text)) or any(
        any(True for _ in plugin.analyze_string(text)) for plugin in _token_plugins()
    )


@functools.cache
def _token_plugins() -> tuple[Any, ...]:
    """detect-secrets' plugins for token shapes (imported when first needed: it takes ~0.5 s).
    Not its keyword plugin (names are judged above), nor its entropy, IP, basic-auth (URLs are
    judged above) and keyword-context plugins, which would flag ordinary literals."""
    from detect_secrets.plugins.aws import AWSKeyDetector
    from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
    from detect_secrets.plugins.discord import DiscordBotTokenDetector
    from detect_secrets.plugins.github_token import GitHubTokenDetector
    from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
    from detect_secrets.plugins.jwt import JwtTokenDetector
    from detect_secrets.plugins.mailchimp import MailchimpDetector
    from detect_secrets.plugins.npm import NpmDetector
    from detect_secrets.plugins.openai import OpenAIDetector
    from detect_secrets.plugins.private_key import PrivateKeyDetector
    from detect_secrets.plugins.pypi_token import PypiTokenDetector
    from detect_secrets.plugins.sendgrid import SendGridDetector
    from detect_secrets.plugins.slack import SlackDetector
    from detect_secrets.plugins.square_oauth import SquareOAuthDetector
    from detect_secrets.plugins.stripe import StripeDetector
    from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
    from detect_secrets.plugins.twilio import TwilioKeyDetector

    plugins = (
        AWSKeyDetector,
        AzureStorageKeyDetector,
        DiscordBotTokenDetector,
        GitHubTokenDetector,
        GitLabTokenDetector,
        JwtTokenDetector,
        MailchimpDetector,
        NpmDetector,
        OpenAIDetector,
        PrivateKeyDetector,
        PypiTokenDetector,
        SendGridDetector,
        SlackDetector,
        SquareOAuthDetector,
        StripeDetector,
        TelegramBotTokenDetector,
        TwilioKeyDetector,
    )
    return tuple(plugin() for plugin in plugins)


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
            default = _env_default(value)
            return literal_secret(default) if default is not None else None
        if func.split(".")[-1] in _WRAPPERS and value.args:
            return literal_secret(value.args[0])
        if isinstance(value.func, ast.Attribute) and value.func.attr == "encode":
            return literal_secret(value.func.value)
    return None


def credential_maps(statements: Iterable[ast.stmt]) -> frozenset[str]:
    """Names of dicts the code compares with a secret: `USERS.get(user) == x_pass`."""
    found: set[str] = set()
    for stmt in statements:
        for node in ast.walk(stmt):
            for first, second in _compared_pairs(node):
                for lookup, other in ((first, second), (second, first)):
                    root = _map_lookup(lookup)
                    name = _operand_name(other)
                    if root is not None and name is not None and is_secret_name(name):
                        found.add(root)
    return frozenset(found)


def generator_functions(statements: Iterable[ast.stmt]) -> frozenset[str]:
    """Notebook functions that make a fresh random value (`def generated_secret(): return
    SecretStr(secrets.token_urlsafe(32))`), also through one another."""
    functions = [s for s in statements if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]
    found: set[str] = set()
    while True:
        more = {
            f.name for f in functions if f.name not in found and _generates(f, frozenset(found), body=True)
        }
        if not more:
            return frozenset(found)
        found |= more


def protect(
    stmt: ast.stmt,
    where: str,
    maps: frozenset[str] = frozenset(),
    taken: frozenset[str] = frozenset(),
    generators: frozenset[str] = frozenset(),
) -> Protected:
    """Move the statement's secrets to the environment, or refuse (ExportError naming `where`).

    `maps`: names of credential dicts (see `credential_maps`); `taken`: names the exported code
    binds, which a new constant must not shadow; `generators`: notebook functions that make a
    random value (see `generator_functions`).
    """
    new, moved = _rewrite_top(stmt, where, maps, generators)
    result = Protected(new, moved)
    compared = _rewrite_comparisons(result.stmt or stmt, where, taken)
    if compared is not None:
        result.stmt, more, result.constants = compared
        result.moved += more
    _refuse_remaining(result.stmt or stmt, where, maps)
    return result


# --- top-level assignments and settings classes -------------------------------------------------


def _rewrite_top(
    stmt: ast.stmt, where: str, maps: frozenset[str], generators: frozenset[str]
) -> tuple[Any, list[MovedSecret]]:
    if isinstance(stmt, ast.ClassDef) and _is_settings_class(stmt):
        return _rewrite_settings(stmt, where, generators)
    if not (isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None):
        return None, []
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    if len(targets) != 1 or not isinstance(targets[0], ast.Name):
        return None, []
    name = targets[0].id
    new = _copy(stmt)
    lookup = _moved_value(name, stmt.value, where, generators)
    if lookup is not None:
        new.value = lookup[0]
        return new, [lookup[1]]
    found: list[MovedSecret] = []
    if isinstance(stmt.value, ast.Dict | ast.List | ast.Tuple):
        force = name in maps or (is_secret_name(name) and isinstance(stmt.value, ast.Dict))
        _rewrite_container(new.value, [name], force, where, found)
    return (new, found) if found else (None, [])


def _moved_value(
    name: str, value: ast.expr, where: str, generators: frozenset[str]
) -> tuple[ast.expr, MovedSecret] | None:
    """`require_env(...)` for a secret literal, env fallback or generated value, with what moved."""
    env = _env_name(value)
    secret = literal_secret(value)
    plain = isinstance(value, ast.Constant) or _is_wrapped_literal(value)
    if env is not None:  # it reads the environment already, with a fallback
        fallback = _fallback(value)
        if fallback is None:
            return None
        if _generates(fallback, generators):
            return _lookup(env, _makes_bytes(fallback)), MovedSecret(env, where, "", generated=True)
        text = literal_secret(fallback)
        if text is not None and (is_secret_name(env) or is_secret_name(name) or _is_credential(text)):
            return _lookup(env, _is_bytes(fallback)), MovedSecret(env, where, text)
        return None
    if plain and secret is not None and (is_secret_name(name) or _is_credential(secret)):
        return _lookup(name.upper(), _is_bytes(value)), MovedSecret(name.upper(), where, secret)
    if is_secret_name(name) and _generates(value, generators):
        generated = MovedSecret(name.upper(), where, "", generated=True)
        return _lookup(name.upper(), _makes_bytes(value)), generated
    return None


def _rewrite_container(
    node: ast.expr, path: list[str], force: bool, where: str, found: list[MovedSecret]
) -> None:
    """Secret values inside a module-level dict or list become `require_env("PATH_TO_IT")`."""
    if isinstance(node, ast.Dict):
        for position, (key, value) in enumerate(zip(node.keys, node.values, strict=True)):
            label = key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None
            here = [*path, label or str(position)]
            if _is_text(value) and (force or _secret_entry(label, _text(value))):
                env = _env_from_path(here)
                found.append(MovedSecret(env, where, _text(value)))
                node.values[position] = _lookup(env, _is_bytes(value))
            elif isinstance(value, ast.Dict | ast.List | ast.Tuple):
                _rewrite_container(value, here, False, where, found)
    elif isinstance(node, ast.List | ast.Tuple):
        for position, item in enumerate(node.elts):
            here = [*path, str(position)]
            if _is_text(item) and _is_credential(_text(item)):
                env = _env_from_path(here)
                found.append(MovedSecret(env, where, _text(item)))
                node.elts[position] = _lookup(env, _is_bytes(item))
            elif isinstance(item, ast.Dict | ast.List | ast.Tuple):
                _rewrite_container(item, here, False, where, found)


def _secret_entry(key: str | None, value: str) -> bool:
    if _is_credential(value):
        return True
    if key is None:
        return False
    if key.lower() in _AUTH_HEADERS:
        return value.strip().lower() not in _AUTH_SCHEMES
    return is_secret_name(key)


def _env_from_path(path: list[str]) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", "_".join(path)).strip("_").upper()


def _rewrite_settings(
    stmt: ast.ClassDef, where: str, generators: frozenset[str]
) -> tuple[ast.stmt | None, list[MovedSecret]]:
    moved: list[MovedSecret] = []
    body: list[ast.stmt] = []
    for item in stmt.body:
        if (
            isinstance(item, ast.AnnAssign)
            and isinstance(item.target, ast.Name)
            and item.value is not None
            and is_secret_name(item.target.id)
        ):
            env = item.target.id.upper()
            value = item.value
            secret = literal_secret(value)
            literal = isinstance(value, ast.Constant) or _is_wrapped_literal(value)
            if secret is not None and literal:
                moved.append(MovedSecret(env, where, secret))
                item = ast.AnnAssign(item.target, item.annotation, None, item.simple)
            elif _generates(value, generators):
                moved.append(MovedSecret(env, where, "", generated=True))
                item = ast.AnnAssign(item.target, item.annotation, _without_default(value), item.simple)
            elif (default := _field_default(value)) is not None and literal_secret(default) is not None:
                moved.append(MovedSecret(env, where, literal_secret(default) or ""))
                item = ast.AnnAssign(item.target, item.annotation, _without_default(value), item.simple)
        body.append(item)
    if not moved:
        return None, []
    new = _copy(stmt)
    new.body = body
    return new, moved


def _field_default(value: ast.expr) -> ast.expr | None:
    if isinstance(value, ast.Call) and ast.unparse(value.func).split(".")[-1] == "Field":
        for keyword in value.keywords:
            if keyword.arg == "default":
                return keyword.value
        return value.args[0] if value.args else None
    return None


def _without_default(value: ast.expr) -> ast.expr | None:
    """`Field(default_factory=..., description="x")` -> `Field(description="x")`; None if empty."""
    if not (isinstance(value, ast.Call) and ast.unparse(value.func).split(".")[-1] == "Field"):
        return None
    call = _copy(value)
    call.args = []
    call.keywords = [k for k in call.keywords if k.arg not in ("default", "default_factory")]
    return call if call.keywords else None


# --- comparisons -------------------------------------------------------------------------------


def _rewrite_comparisons(
    stmt: ast.stmt, where: str, taken: frozenset[str]
) -> tuple[ast.stmt, list[MovedSecret], list[EnvConstant]] | None:
    """`token != "abc"` and `compare_digest(password, b"abc")` read a module-level constant."""
    moved: list[MovedSecret] = []
    constants: dict[str, EnvConstant] = {}
    new = _copy(stmt)

    def replace(literal: ast.expr, other: ast.expr) -> ast.expr:
        name = _operand_name(other)
        if name is None or not is_secret_name(name) or not _is_text(literal):
            return literal
        env = name.upper()
        moved.append(MovedSecret(env, where, _text(literal)))
        constant = EnvConstant(env if env not in taken else f"_{env}", env, _is_bytes(literal))
        constants.setdefault(constant.name + str(constant.as_bytes), constant)
        return ast.Name(constant.name, ast.Load())

    for node in ast.walk(new):
        if isinstance(node, ast.Compare) and len(node.comparators) == 1:
            left, right = node.left, node.comparators[0]
            node.left, node.comparators[0] = replace(left, right), replace(right, left)
        elif _is_compare_digest(node) and len(node.args) == 2:
            first, second = node.args
            node.args = [replace(first, second), replace(second, first)]
    if not moved:
        return None
    return new, moved, list(constants.values())


def _compared_pairs(node: ast.AST) -> list[tuple[ast.expr, ast.expr]]:
    if (
        isinstance(node, ast.Compare)
        and len(node.comparators) == 1
        and isinstance(node.ops[0], ast.Eq | ast.NotEq)
    ):
        return [(node.left, node.comparators[0])]
    if _is_compare_digest(node) and len(node.args) == 2:
        return [(node.args[0], node.args[1])]
    return []


def _is_compare_digest(node: ast.AST) -> TypeGuard[ast.Call]:
    return isinstance(node, ast.Call) and ast.unparse(node.func).endswith("compare_digest")


def _map_lookup(node: ast.expr) -> str | None:
    """`USERS` for `USERS[user]`, `USERS.get(user)`, `USERS.get(user, "").encode()`."""
    node = _strip_encode(node)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        return node.value.id
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and isinstance(node.func.value, ast.Name)
    ):
        return node.func.value.id
    return None


def _strip_encode(node: ast.expr) -> ast.expr:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("encode", "strip", "lower")
    ):
        return node.func.value
    return node


def _operand_name(node: ast.expr) -> str | None:
    """`password` for `credentials.password.encode("utf8")`, `x_token` for `x_token`."""
    node = _strip_encode(node)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


# --- refusals ----------------------------------------------------------------------------------


def _refuse_remaining(stmt: ast.stmt, where: str, maps: frozenset[str]) -> None:
    for node in ast.walk(stmt):
        problem = _problem(node, maps)
        if problem:
            raise ExportError(
                f"{where} puts a secret in the code ({problem}); secrets are never exported. "
                'Read it from the environment instead, e.g. os.environ["NAME"] or a '
                "pydantic-settings field."
            )


def _problem(node: ast.AST, maps: frozenset[str]) -> str | None:
    if _is_text(node) and known_token(_text(node)):
        return "a literal shaped like an API token or private key"
    if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
            secret = literal_secret(node.value)
            if secret is not None and is_secret_name(name):
                return f"`{name}` is assigned a literal"
            if secret is not None and _CREDENTIAL_URL.match(secret):
                return "a URL with a password"
            if (is_secret_name(name) or name in maps) and any(map(_is_text, _held(node.value))):
                return f"`{name}` holds literals"
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            label = key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None
            if _is_text(value) and _secret_entry(label, _text(value)):
                what = "an Authorization header" if (label or "").lower() in _AUTH_HEADERS else f"{label!r}"
                return f"{what} holds a literal"
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


def _held(value: ast.expr) -> list[ast.expr]:
    """The values a container display holds, nested ones included (not dict keys)."""
    if isinstance(value, ast.Dict):
        items = list(value.values)
    elif isinstance(value, ast.List | ast.Tuple | ast.Set):
        items = list(value.elts)
    else:
        return []
    return items + [inner for item in items for inner in _held(item)]


# --- comments ----------------------------------------------------------------------------------


def scrub_comments(source: str) -> str:
    """`source` without the comments that hold a secret: a comment line goes, a trailing comment
    is cut off. Anything tokenize can't read is returned as it is."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return source
    cuts = {
        tok.start[0]: tok.start[1]
        for tok in tokens
        if tok.type == tokenize.COMMENT and comment_holds_secret(tok.string)
    }
    if not cuts:
        return source
    lines = source.splitlines()
    kept = []
    for number, line in enumerate(lines, start=1):
        if number in cuts:
            line = line[: cuts[number]].rstrip()
            if not line.strip():
                continue
        kept.append(line)
    return "\n".join(kept)


def comment_holds_secret(comment: str) -> bool:
    text = comment.lstrip("#").strip()
    if looks_like_credential(text) or _SHELL_CREDENTIALS.search(text) or _AUTH_IN_TEXT.search(text):
        return True
    for match in _NAMED_IN_TEXT.finditer(text):
        name, value = match.group(1).split(".")[-1], match.group(2)
        if not is_secret_name(name):
            continue
        if value[0] in "'\"" or (_BARE_SECRET.fullmatch(value) and re.search(r"\d", value)):
            return True
    return False


# --- small helpers -----------------------------------------------------------------------------


def _is_credential(text: str) -> bool:
    return known_token(text) or bool(_CREDENTIAL_URL.match(text))


def _is_text(node: ast.AST | None) -> TypeGuard[ast.Constant]:
    return isinstance(node, ast.Constant) and isinstance(node.value, str | bytes) and bool(node.value)


def _text(node: ast.Constant) -> str:
    value = node.value
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _is_bytes(value: ast.expr | None) -> bool:
    return isinstance(value, ast.Constant) and isinstance(value.value, bytes)


def _is_wrapped_literal(value: ast.expr) -> bool:
    """`SecretStr("x")`, `"x".encode()`: a literal in a thin wrapper."""
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    if isinstance(func, ast.Attribute) and func.attr == "encode":
        return isinstance(func.value, ast.Constant)
    return ast.unparse(func).split(".")[-1] in _WRAPPERS and len(value.args) == 1 and _is_text(value.args[0])


def _env_name(value: ast.expr) -> str | None:
    """`X` when the value reads the environment variable X with a fallback (else None)."""
    call = value.values[0] if isinstance(value, ast.BoolOp) and isinstance(value.op, ast.Or) else value
    if isinstance(call, ast.Call) and ast.unparse(call.func) in _ENV_READERS and call.args:
        first = call.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def _fallback(value: ast.expr) -> ast.expr | None:
    """What is used when the variable is unset: `getenv("K", <this>)`, `getenv("K") or <this>`."""
    if isinstance(value, ast.BoolOp) and isinstance(value.op, ast.Or) and len(value.values) >= 2:
        return value.values[-1] if len(value.values) == 2 else ast.BoolOp(ast.Or(), value.values[1:])
    if isinstance(value, ast.Call):
        return _env_default(value)
    return None


def _env_default(call: ast.Call) -> ast.expr | None:
    if len(call.args) > 1:
        return call.args[1]
    return next((k.value for k in call.keywords if k.arg == "default"), None)


def _generates(value: ast.AST, generators: frozenset[str] = frozenset(), body: bool = False) -> bool:
    """The expression makes a fresh random value: `secrets.token_hex()`, `os.urandom(32)`, a
    notebook function in `generators` (called, or passed as `default_factory=`). With `body`,
    `value` is a function and its body is what counts."""
    nodes: Iterable[ast.AST] = ast.walk(value)
    if body and isinstance(value, ast.FunctionDef | ast.AsyncFunctionDef):
        nodes = [n for stmt in value.body for n in ast.walk(stmt)]
    for node in nodes:
        if isinstance(node, ast.Call):
            func = ast.unparse(node.func)
            if func.split(".")[-1] in _GENERATORS or func == "secrets.choice":
                return True
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in generators:
            return True
    return False


def _makes_bytes(value: ast.AST) -> bool:
    calls = [ast.unparse(n.func).split(".")[-1] for n in ast.walk(value) if isinstance(n, ast.Call)]
    return bool(calls) and calls[0] in _BYTES_GENERATORS


def _lookup(env: str, as_bytes: bool) -> ast.expr:
    text = f"{REQUIRE_ENV}({env!r})" + (".encode()" if as_bytes else "")
    return ast.parse(text, mode="eval").body


def _is_settings_class(stmt: ast.ClassDef) -> bool:
    return any(ast.unparse(base).split(".")[-1] == "BaseSettings" for base in stmt.bases)


def _copy(node: Any) -> Any:
    return copy.deepcopy(node)
