"""kernel_ext._explorer._auth: Basic, Bearer, API keys and the OAuth2 password flow."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.security import APIKeyHeader

from kernel_ext._explorer import Explorer, ExplorerError
from tests.support.explorer_app import demo_app
from tests.support.servers import serve

api_key = APIKeyHeader(name="X-Key")


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FastAPI, str]]:
    app = demo_app()

    @app.get("/keyed")
    def keyed(key: Annotated[str, Depends(api_key)]) -> dict[str, str]:
        return {"key": key}

    with serve(app) as url:
        yield app, url


def test_the_app_schemes_are_offered(ex: Explorer) -> None:
    assert "OAuth2PasswordBearer (oauth2)" in ex.auth.schemes_info.value
    assert ex.auth.token_url == "token"
    assert ex.auth._oauth_area.children  # the token fetcher is shown
    assert ex.auth.key_name.value == "X-Key"  # prefilled from the APIKeyHeader scheme


def test_without_auth_a_protected_route_says_401(ex: Explorer) -> None:
    ex.select("GET", "/me")
    assert "🔒 OAuth2PasswordBearer" in ex.op_info.value
    assert ex.send().status_code == 401


def test_basic(ex: Explorer) -> None:
    ex.auth_basic("ann", "pw")
    ex.select("GET", "/basic")
    assert ex.send().json() == {"user": "ann"}
    assert ex.auth._fields.children  # the username/password row is shown
    ex.auth_none()
    assert ex.send().status_code == 401


def test_bearer(ex: Explorer) -> None:
    ex.auth_bearer("abc")
    ex.select("GET", "/me")
    assert ex.send().json() == {"token": "abc"}


def test_api_key(ex: Explorer) -> None:
    ex.auth_api_key("k-1")
    ex.select("GET", "/keyed")
    assert ex.send().json() == {"key": "k-1"}


def test_fetch_token_uses_the_password_flow_then_bearer(ex: Explorer) -> None:
    assert ex.fetch_token("bob", "secret") == "token-bob"
    assert ex.auth.mode.value == "bearer" and ex.auth.token.value == "token-bob"
    assert ex.history[-1].spec.data == {"username": "bob", "password": "secret", "grant_type": "password"}
    ex.select("GET", "/me")
    assert ex.send().json() == {"token": "token-bob"}


def test_a_refused_token_is_shown_and_returns_none(ex: Explorer) -> None:
    assert ex.fetch_token("bob", "wrong") is None
    assert "Incorrect username or password" in ex.output_text
    assert "No access_token in the 400 reply" in ex.output_text
    assert ex.auth.mode.value == "none"


def test_fetch_token_button(ex: Explorer) -> None:
    ex.auth.oauth_username.value = "cy"
    ex.auth.oauth_password.value = "secret"
    ex.auth.fetch_button.click()
    assert ex.auth.token.value == "token-cy"


def test_no_password_flow_is_a_clear_error() -> None:
    app = FastAPI()
    ex = Explorer(lambda: app, "http://127.0.0.1:9")
    with pytest.raises(ExplorerError, match="declares no OAuth2 password flow"):
        ex.fetch_token("a", "b")
    assert not ex.auth._oauth_area.children


def test_what_the_explorer_shows_never_holds_the_password_sent(ex: Explorer) -> None:
    # (from 16_security_basic and 17_security_oauth2)
    ex.auth_basic("ann", "basic-password")
    ex.select("GET", "/basic")
    assert ex.send().json() == {"user": "ann"}
    shown = ex.output_text
    assert "basic-password" not in shown and base64.b64encode(b"ann:basic-password").decode() not in shown
    assert ex.fetch_token("bob", "secret") == "token-bob"
    assert "secret" not in ex.output_text
    ex.select("GET", "/me")
    assert ex.send().json() == {"token": "token-bob"}
    assert "secret" not in ex.output_text
