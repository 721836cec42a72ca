"""Secrets never reach the export: moved to the environment, or refused."""

from __future__ import annotations

import ast

import pytest

from kernel_ext._export import ExportError
from kernel_ext._export._secrets import is_secret_name, protect


def rewrite(source: str) -> tuple[str, list[tuple[str, str]]]:
    new, moved = protect(ast.parse(source).body[0], "cell 3 (`x`)")
    return (ast.unparse(new) if new else source), [(m.env, m.value) for m in moved]


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
    ],
)
def test_not_secret_names(name: str) -> None:
    assert not is_secret_name(name)


def test_a_literal_secret_becomes_an_environment_lookup() -> None:
    assert rewrite('SECRET_KEY = "09d25e094faa6ca"') == (
        "SECRET_KEY = os.environ['SECRET_KEY']",
        [("SECRET_KEY", "09d25e094faa6ca")],
    )
    assert rewrite('DEMO_PASSWORD = b"swordfish"') == (
        "DEMO_PASSWORD = os.environ['DEMO_PASSWORD'].encode()",
        [("DEMO_PASSWORD", "swordfish")],
    )
    assert rewrite('api_key: str = "abc"') == ("api_key: str = os.environ['API_KEY']", [("API_KEY", "abc")])


def test_a_literal_fallback_is_dropped_and_the_variable_kept() -> None:
    assert rewrite('SECRET = os.getenv("JWT_SECRET", "dev-secret")') == (
        "SECRET = os.environ['JWT_SECRET']",
        [("JWT_SECRET", "dev-secret")],
    )


def test_reading_the_environment_is_left_alone() -> None:
    for source in (
        'SECRET_KEY = os.environ["SECRET_KEY"]',
        'SECRET_KEY = os.getenv("SECRET_KEY") or secrets.token_hex(32)',
        'API_KEY = ""',
    ):
        assert rewrite(source) == (source, [])


def test_a_database_url_with_a_password_moves_to_the_environment() -> None:
    assert rewrite('DATABASE_URL = "postgresql://app:hunter2@db/app"') == (
        "DATABASE_URL = os.environ['DATABASE_URL']",
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
    assert "x_token != os.environ['X_TOKEN']" in new
    assert moved == [("X_TOKEN", "fake-super-secret-token")]
    new, moved = rewrite("ok = secrets.compare_digest(credentials.password.encode('utf8'), b'sword')")
    assert new == (
        "ok = secrets.compare_digest(credentials.password.encode('utf8'), os.environ['PASSWORD'].encode())"
    )
    assert moved == [("PASSWORD", "sword")]
    assert rewrite("same = user.name == 'ada'") == ("same = user.name == 'ada'", [])
