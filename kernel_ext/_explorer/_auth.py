"""Authentication applied to every request: HTTP Basic, Bearer (incl. OAuth2 password flow), API key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from ._request import RequestSpec
from ._widgets import make

MODES = ("none", "basic", "bearer", "api key")


@dataclass(frozen=True)
class Scheme:
    """A security scheme the app declares, as far as the explorer uses it."""

    name: str
    kind: str  # "basic" | "bearer" | "oauth2" | "apikey" | other
    token_url: str = ""
    key_name: str = ""
    key_location: str = ""  # header | query | cookie
    scopes: tuple[str, ...] = ()


def schemes_from(security_schemes: dict[str, dict[str, Any]]) -> list[Scheme]:
    """Schemes from OpenAPI `components.securitySchemes` entries."""
    return [_scheme(name, raw) for name, raw in security_schemes.items()]


def _scheme(name: str, raw: dict[str, Any]) -> Scheme:
    kind = raw.get("type", "")
    if kind == "http":
        return Scheme(name, str(raw.get("scheme", "")).lower())
    if kind == "oauth2":
        password = (raw.get("flows") or {}).get("password") or {}
        scopes = tuple(password.get("scopes") or ())
        return Scheme(name, "oauth2", token_url=password.get("tokenUrl", ""), scopes=scopes)
    if kind == "apiKey":
        return Scheme(name, "apikey", key_name=raw.get("name", ""), key_location=raw.get("in", ""))
    return Scheme(name, kind)


class AuthPanel:
    """Widgets and state for the credentials sent with each request."""

    def __init__(self) -> None:
        box = {"width": "260px"}
        self.mode = make(widgets.Dropdown, options=MODES, value="none", description="Auth")
        self.username = make(widgets.Text, box, description="username")
        self.password = make(widgets.Password, box, description="password")
        self.token = make(widgets.Text, {"width": "520px"}, description="token")
        self.key_value = make(widgets.Text, box, description="key")
        self.key_name = make(widgets.Text, box, description="name", value="X-API-Key")
        self.key_location = make(
            widgets.Dropdown, box, options=("header", "query", "cookie"), description="in"
        )
        self.oauth_username = make(widgets.Text, box, description="username")
        self.oauth_password = make(widgets.Password, box, description="password")
        self.oauth_scope = make(widgets.Text, box, description="scope")
        self.fetch_button = make(widgets.Button, description="Fetch token", icon="key")
        self.oauth_info = make(widgets.HTML)
        self.schemes_info = make(widgets.HTML)
        self._oauth_box = make(
            widgets.VBox,
            children=[
                self.oauth_info,
                make(widgets.HBox, children=[self.oauth_username, self.oauth_password]),
                make(widgets.HBox, children=[self.oauth_scope, self.fetch_button]),
            ],
        )
        self._oauth_area = make(widgets.VBox)  # holds _oauth_box when the app has a tokenUrl
        self._fields = make(widgets.VBox)
        self._rows = {
            "none": [],
            "basic": [make(widgets.HBox, children=[self.username, self.password])],
            "bearer": [self.token],
            "api key": [make(widgets.HBox, children=[self.key_name, self.key_location]), self.key_value],
        }
        self.widget = make(
            widgets.VBox, children=[self.schemes_info, self.mode, self._fields, self._oauth_area]
        )
        self.schemes: list[Scheme] = []
        self.mode.observe(lambda _change: self._show_fields(), "value")
        self._show_fields()
        self.update_schemes([])

    def observe(self, on_change: Callable[[], None]) -> None:
        """Call `on_change()` after any credential or the mode changes."""
        sent = (self.username, self.password, self.token, self.key_value, self.key_name, self.key_location)
        for field in (self.mode, *sent):
            field.observe(lambda _change: on_change(), "value")

    @property
    def token_url(self) -> str:
        return next((s.token_url for s in self.schemes if s.kind == "oauth2" and s.token_url), "")

    def update_schemes(self, schemes: list[Scheme]) -> None:
        self.schemes = schemes
        names = ", ".join(f"{s.name} ({s.kind})" for s in schemes) or "none declared"
        self.schemes_info.value = f"<span style='color:#666'>App security schemes: {names}</span>"
        token_url = self.token_url
        self._oauth_area.children = [self._oauth_box] if token_url else []
        self.oauth_info.value = f"<b>OAuth2 password flow</b>: fetch a token from <code>{token_url}</code>"
        api_key = next((s for s in schemes if s.kind == "apikey"), None)
        if api_key is not None and not self.key_value.value:
            self.key_name.value = api_key.key_name
            self.key_location.value = api_key.key_location or "header"

    def set_basic(self, username: str, password: str) -> None:
        self.username.value, self.password.value = username, password
        self.mode.value = "basic"

    def set_bearer(self, token: str) -> None:
        self.token.value = token
        self.mode.value = "bearer"

    def set_api_key(self, value: str, name: str | None = None, location: str | None = None) -> None:
        self.key_value.value = value
        if name:
            self.key_name.value = name
        if location:
            self.key_location.value = location
        self.mode.value = "api key"

    def clear(self) -> None:
        self.mode.value = "none"

    def apply(self, spec: RequestSpec) -> None:
        mode = self.mode.value
        if mode == "basic":
            spec.basic_auth = (self.username.value, self.password.value)
        elif mode == "bearer" and self.token.value:
            spec.headers.setdefault("Authorization", f"Bearer {self.token.value}")
        elif mode == "api key" and self.key_value.value:
            self._apply_api_key(spec)

    def _apply_api_key(self, spec: RequestSpec) -> None:
        name, value = self.key_name.value, self.key_value.value
        if self.key_location.value == "query":
            spec.params.append((name, value))
        elif self.key_location.value == "cookie":
            spec.cookies.setdefault(name, value)
        else:
            spec.headers.setdefault(name, value)

    def _show_fields(self) -> None:
        self._fields.children = self._rows[self.mode.value]
