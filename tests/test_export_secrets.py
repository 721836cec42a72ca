"""Secrets never reach the export: moved to the environment, or refused."""

from __future__ import annotations

import ast

import pytest

from kernel_ext._export import ExportError
from kernel_ext._export._secrets import (
    comment_holds_secret,
    credential_maps,
    is_secret_name,
    protect,
    scrub_comments,
)


def rewrite(source: str, maps: frozenset[str] = frozenset()) -> tuple[str, list[tuple[str, str]]]:
    result = protect(ast.parse(source).body[0], "cell 3 (`x`)", maps)
    new = ast.unparse(result.stmt) if result.stmt else source
    lines = [c.line() for c in result.constants]
    return "\n".join([*lines, new]), [(m.env, m.value) for m in result.moved]


@pytest.mark.parametrize(
    "name",
    [
        "SECRET_KEY",
        "secret_key",
        "DB_PASSWORD",
        "password",
        "API_KEY",
        "apiKey",
        "ACCESS_TOKEN",
        "client_secret",
        "GITHUB_TOKEN",
        "passwd",
        "DEMO_PASSWORD",
        "PRIVATE_KEY",
        "STRIPE_KEY",
        "PRIVATE_KEY_PEM",
        "SIGNING_KEY_ID_SECRET",
        "db_pass",
        "x_pass",
        "GITHUB_TOKENS",
        "AWS_CREDENTIALS",
        "X-API-Key",
        "X-Token",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "TOKEN_URL",
        "tokenUrl",
        "token_type",
        "ACCESS_TOKEN_EXPIRE_MINUTES",
        "ALGORITHM",
        "hashed_password",
        "password_hash",
        "USERNAME",
        "key",
        "SECRET_KEY_LENGTH",
        "api_key_header",
        "cache_key",
        "primary_key",
        "public_key",
        "PASSWORD_MIN_LENGTH",
        "tokenizer",
        "bypass",
        "AWS_ACCESS_KEY_ID",
    ],
)
def test_not_secret_names(name: str) -> None:
    assert not is_secret_name(name)


def test_a_literal_secret_becomes_an_environment_lookup() -> None:
    assert rewrite('SECRET_KEY = "09d25e094faa6ca"') == (
        "SECRET_KEY = require_env('SECRET_KEY')",
        [("SECRET_KEY", "09d25e094faa6ca")],
    )
    assert rewrite('DEMO_PASSWORD = b"swordfish"') == (
        "DEMO_PASSWORD = require_env('DEMO_PASSWORD').encode()",
        [("DEMO_PASSWORD", "swordfish")],
    )
    assert rewrite('api_key: str = "abc"') == ("api_key: str = require_env('API_KEY')", [("API_KEY", "abc")])
    assert rewrite("STRIPE_KEY = 'sk_live_51HqLyjWDarjtT1zdp7dc'") == (
        "STRIPE_KEY = require_env('STRIPE_KEY')",
        [("STRIPE_KEY", "sk_live_51HqLyjWDarjtT1zdp7dc")],
    )
    pem = "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----"
    assert rewrite(f"PRIVATE_KEY_PEM = '{pem}'")[0] == "PRIVATE_KEY_PEM = require_env('PRIVATE_KEY_PEM')"


def test_a_literal_shaped_like_a_token_moves_whatever_its_name() -> None:
    for token in (
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "gho_16C7e42F292c6912E7710c838347Ae178B4a",
        "xoxb-1234-5678-abcdefgh",
        "AKIAIOSFODNN7EXAMPLE",
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX",
    ):
        assert rewrite(f"GH = {token!r}") == ("GH = require_env('GH')", [("GH", token)])


def test_token_shapes_from_detect_secrets_plugins_move_too() -> None:
    # Shapes no pattern of ours names: they come from detect-secrets' plugins.
    for token in (
        "pypi-AgEIcHlwaS5vcmc" + "A" * 70,
        "sk-proj-" + "a1" * 10 + "T3BlbkFJ" + "b2" * 10,  # OpenAI
        "SG." + "a" * 22 + "." + "b" * 43,  # SendGrid
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----",  # ours: the plugin lacks it
    ):
        assert rewrite(f"VALUE = {token!r}") == ("VALUE = require_env('VALUE')", [("VALUE", token)]), token


def test_a_literal_fallback_is_dropped_and_the_variable_kept() -> None:
    assert rewrite('SECRET = os.getenv("JWT_SECRET", "dev-secret")') == (
        "SECRET = require_env('JWT_SECRET')",
        [("JWT_SECRET", "dev-secret")],
    )
    assert rewrite('SECRET = os.environ.get("JWT_SECRET") or "dev-secret"') == (
        "SECRET = require_env('JWT_SECRET')",
        [("JWT_SECRET", "dev-secret")],
    )


def test_reading_the_environment_is_left_alone() -> None:
    for source in (
        'SECRET_KEY = os.environ["SECRET_KEY"]',
        'REGION = os.getenv("REGION", "eu")',
        'API_KEY = ""',
    ):
        assert rewrite(source) == (source, [])


@pytest.mark.parametrize(
    "source",
    [
        'SECRET_KEY = os.getenv("SECRET_KEY") or secrets.token_hex(32)',
        'SECRET_KEY = os.environ.get("SECRET_KEY", secrets.token_urlsafe())',
        "SECRET_KEY = secrets.token_hex(32)",
    ],
)
def test_a_generated_per_process_secret_becomes_required(source: str) -> None:
    """Tokens signed with a per-process key die on restart and fail on another worker."""
    result = protect(ast.parse(source).body[0], "cell 3 (`x`)")
    assert result.stmt is not None
    assert ast.unparse(result.stmt) == "SECRET_KEY = require_env('SECRET_KEY')"
    assert [(m.env, m.generated) for m in result.moved] == [("SECRET_KEY", True)]


def test_a_settings_field_loses_its_generated_default() -> None:
    source = (
        "class AuthSettings(BaseSettings):\n"
        "    secret_key: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))\n"
        "    session_secret: str = Field(default_factory=lambda: os.urandom(16).hex(), min_length=8)\n"
        "    algorithm: str = 'HS256'"
    )
    result = protect(ast.parse(source).body[0], "cell 3 (`x`)")
    assert result.stmt is not None
    new = ast.unparse(result.stmt)
    assert "    secret_key: SecretStr\n" in new and "token_urlsafe" not in new
    assert "    session_secret: str = Field(min_length=8)\n" in new
    assert [(m.env, m.generated) for m in result.moved] == [("SECRET_KEY", True), ("SESSION_SECRET", True)]


def test_a_database_url_with_a_password_moves_to_the_environment() -> None:
    assert rewrite('DATABASE_URL = "postgresql://app:hunter2@db/app"') == (
        "DATABASE_URL = require_env('DATABASE_URL')",
        [("DATABASE_URL", "postgresql://app:hunter2@db/app")],
    )
    assert rewrite('DATABASE_URL = "sqlite:///./app.db"') == ('DATABASE_URL = "sqlite:///./app.db"', [])


def test_a_settings_field_loses_its_secret_default() -> None:
    source = (
        "class Settings(BaseSettings):\n    app_name: str = 'demo'\n"
        "    secret_key: str = 'abc'\n    model_config = SettingsConfigDict(env_file='.env')"
    )
    new, moved = rewrite(source)
    assert "secret_key: str\n" in new and "'abc'" not in new
    assert "app_name: str = 'demo'" in new
    assert moved == [("SECRET_KEY", "abc")]


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("def f():\n    password = 'x'\n    return password", "`password` is assigned a literal"),
        ("settings = Settings(secret_key='abc')", "`secret_key=` is given a literal"),
        ("def f(token: str = 'abc'):\n    return token", "the parameter `token` defaults to a literal"),
        (
            "ok = secrets.compare_digest(given, b'swordfish')",
            "secrets.compare_digest() compares with a literal",
        ),
        ("engine = create_engine('postgresql://u:pw@h/db')", "a URL with a password"),
        (
            "def f():\n    return httpx.get(URL, headers={'Authorization': 'Bearer abc123def456'})",
            "an Authorization header holds a literal",
        ),
        ("def f():\n    return {'password': 'wonderland-pass'}", "'password' holds a literal"),
        (
            "def f():\n    return call(t='ghp_16C7e42F292c6912E7710c838347Ae178B4a')",
            "a literal shaped like an API token or private key",
        ),
        ("API_KEYS = ['abc', 'def']", "`API_KEYS` holds literals"),
    ],
)
def test_secrets_elsewhere_are_refused_naming_the_cell(source: str, problem: str) -> None:
    with pytest.raises(ExportError) as caught:
        rewrite(source)
    assert str(caught.value).startswith(
        f"cell 3 (`x`) puts a secret in the code ({problem}); secrets are never exported."
    )


def test_a_literal_compared_with_a_secret_moves_to_the_environment() -> None:
    source = (
        "async def check(x_token: str = Header()):\n"
        "    if x_token != 'fake-super-secret-token':\n"
        "        raise HTTPException(400)"
    )
    new, moved = rewrite(source)
    # A module-level constant, read at import: a missing variable stops the app at startup.
    assert new.startswith("X_TOKEN = require_env('X_TOKEN')\nasync def check(")
    assert "if x_token != X_TOKEN:" in new
    assert moved == [("X_TOKEN", "fake-super-secret-token")]
    new, moved = rewrite("ok = secrets.compare_digest(credentials.password.encode('utf8'), b'sword')")
    assert new == (
        "PASSWORD = require_env('PASSWORD').encode()\n"
        "ok = secrets.compare_digest(credentials.password.encode('utf8'), PASSWORD)"
    )
    assert moved == [("PASSWORD", "sword")]
    assert rewrite("same = user.name == 'ada'") == ("same = user.name == 'ada'", [])


def test_a_constant_does_not_shadow_a_name_the_code_binds() -> None:
    source = "def check(x_token: str):\n    return x_token == 'abc'"
    result = protect(ast.parse(source).body[0], "cell 3 (`x`)", taken=frozenset({"X_TOKEN"}))
    assert [c.line() for c in result.constants] == ["_X_TOKEN = require_env('X_TOKEN')"]


def test_secrets_inside_a_module_level_dict_move_to_the_environment() -> None:
    source = (
        "fake_users_db = {'alice': {'username': 'alice', 'password': 'wonderland-pass'}, "
        "'bob': {'username': 'bob', 'hashed_password': '$argon2id$v=19$x'}}"
    )
    new, moved = rewrite(source)
    assert "'password': require_env('FAKE_USERS_DB_ALICE_PASSWORD')" in new
    assert "'username': 'alice'" in new and "'hashed_password': '$argon2id$v=19$x'" in new
    assert moved == [("FAKE_USERS_DB_ALICE_PASSWORD", "wonderland-pass")]
    new, moved = rewrite("HEADERS = {'Authorization': 'Bearer ghp_16C7e42F292c6912E7710c838347Ae178B4a'}")
    assert new == "HEADERS = {'Authorization': require_env('HEADERS_AUTHORIZATION')}"
    assert rewrite("HEADERS = {'Authorization': 'Bearer', 'Accept': 'json'}")[1] == []


def test_a_dict_compared_with_a_password_is_a_credential_map() -> None:
    route = "def login(x_user: str, x_pass: str):\n    return USERS.get(x_user) == x_pass"
    maps = credential_maps([ast.parse(route).body[0]])
    assert maps == frozenset({"USERS"})
    new, moved = rewrite("USERS = {'admin': 'hunter2', 'ada': 'lovelace'}", maps)
    assert new == "USERS = {'admin': require_env('USERS_ADMIN'), 'ada': require_env('USERS_ADA')}"
    assert moved == [("USERS_ADMIN", "hunter2"), ("USERS_ADA", "lovelace")]
    assert credential_maps([ast.parse("def f(name):\n    return ITEMS.get(name) == 'x'").body[0]]) == set()


@pytest.mark.parametrize(
    "comment",
    [
        '# API_KEY = "sk_live_51HqLyjWDarjtT1zdp7dc"  (old hard-coded key)',
        "# curl -u admin:hunter2 http://prod.example.com",
        "# SECRET_KEY = 'abc'",
        "# password: hunter2",
        "# Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload",
        "# DATABASE_URL=postgresql://app:s3cret@db/app",
        "# -----BEGIN RSA PRIVATE KEY-----",
    ],
)
def test_comments_holding_a_secret(comment: str) -> None:
    assert comment_holds_secret(comment)


@pytest.mark.parametrize(
    "comment",
    [
        "# the password: must be 8 characters",
        "# PyJWT rightly warns that a 43-byte key is short for SHA-512",
        "# token_type is always bearer",
        "# below INFO: not logged",
        "# API_KEY = os.environ['API_KEY']",
    ],
)
def test_ordinary_comments(comment: str) -> None:
    assert not comment_holds_secret(comment)


def test_comments_holding_a_secret_are_dropped_from_the_source() -> None:
    source = (
        "# API_KEY = 'sk_live_51HqLyjWDarjtT1zdp7dc'  (old hard-coded key)\n"
        "# the key comes from the environment\n"
        "@app.get('/a')\n"
        "def a():\n"
        "    # curl -u admin:hunter2 http://prod.example.com\n"
        "    x = 1  # password: hunter2\n"
        "    return {'n': x}  # fine\n"
    )
    assert scrub_comments(source) == (
        "# the key comes from the environment\n"
        "@app.get('/a')\n"
        "def a():\n"
        "    x = 1\n"
        "    return {'n': x}  # fine"
    )
