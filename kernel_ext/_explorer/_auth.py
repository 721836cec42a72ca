"""Authentication applied to every request: HTTP Basic, Bearer (incl. OAuth2 password flow), API key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from traitlets import HasTraits, Unicode

from ._request import RequestSpec

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


class Credentials(HasTraits):
    """The credentials sent with each request, by `mode`; the app's schemes prefill them."""

    mode = Unicode("none")  # one of MODES
    username = Unicode()
    password = Unicode()
    token = Unicode()
    key_value = Unicode()
    key_name = Unicode("X-API-Key")
    key_location = Unicode("header")  # header | query | cookie

    def __init__(self) -> None:
        super().__init__()
        self.schemes: list[Scheme] = []

    @property
    def token_url(self) -> str:
        return next((s.token_url for s in self.schemes if s.kind == "oauth2" and s.token_url), "")

    def update_schemes(self, schemes: list[Scheme]) -> None:
        self.schemes = schemes
        api_key = next((s for s in schemes if s.kind == "apikey"), None)
        if api_key is not None and not self.key_value:
            self.key_name = api_key.key_name
            self.key_location = api_key.key_location or "header"

    def set_basic(self, username: str, password: str) -> None:
        self.username, self.password = username, password
        self.mode = "basic"

    def set_bearer(self, token: str) -> None:
        self.token = token
        self.mode = "bearer"

    def set_api_key(self, value: str, name: str | None = None, location: str | None = None) -> None:
        self.key_value = value
        if name:
            self.key_name = name
        if location:
            self.key_location = location
        self.mode = "api key"

    def clear(self) -> None:
        self.mode = "none"

    def apply(self, spec: RequestSpec) -> None:
        if self.mode == "basic":
            spec.basic_auth = (self.username, self.password)
        elif self.mode == "bearer" and self.token:
            spec.headers.setdefault("Authorization", f"Bearer {self.token}")
        elif self.mode == "api key" and self.key_value:
            self._apply_api_key(spec)

    def _apply_api_key(self, spec: RequestSpec) -> None:
        name, value = self.key_name, self.key_value
        if self.key_location == "query":
            spec.params.append((name, value))
        elif self.key_location == "cookie":
            spec.cookies.setdefault(name, value)
        else:
            spec.headers.setdefault(name, value)
