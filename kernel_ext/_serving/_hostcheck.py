"""Answer only to the host names the server can legitimately be reached by (DNS rebinding).

A server on 127.0.0.1 is still reachable from any web page open in the same machine's browser:
the page's own domain is re-pointed at 127.0.0.1, and the browser then treats our answers as
same-origin. Such requests carry the attacker's domain in `Host`, so a loopback-bound server
answers only to loopback names, as the Jupyter server does.

Any host is accepted when the browser cannot be on this machine's loopback anyway: the server
listens on every interface (asked for explicitly), or the Jupyter server that launched the kernel
is reached remotely (JupyterHub, a container, a cloud VM), and requests arrive through
jupyter-server-proxy with the public host name, or the kernel runs in Google Colab, whose proxy
is the only way in. `KERNEL_EXT_ALLOWED_HOSTS` (comma-separated names,
or `*`) overrides the choice.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable

from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

ALLOWED_HOSTS_ENV = "KERNEL_EXT_ALLOWED_HOSTS"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_REMEMBERED_HOSTS = 64


class HostPolicy:
    """Which `Host` header values the server answers to; `None` means any."""

    def __init__(self, allowed: Iterable[str] | None) -> None:
        self.allowed = None if allowed is None else frozenset(name.lower() for name in allowed)
        # Every request carries one of a handful of Host values: parse each once (the check
        # was 1% of the serving thread's time). Bounded, so a stream of made-up hosts can't grow it.
        self._verdicts: dict[bytes, bool] = {}

    def accepts_raw(self, host_header: bytes) -> bool:
        verdict = self._verdicts.get(host_header)
        if verdict is None:
            verdict = self.accepts(host_header.decode("latin-1"))
            if len(self._verdicts) < MAX_REMEMBERED_HOSTS:
                self._verdicts[host_header] = verdict
        return verdict

    @classmethod
    def for_server(cls, bind_host: str) -> HostPolicy:
        configured = os.environ.get(ALLOWED_HOSTS_ENV, "").strip()
        if configured:
            names = [name.strip() for name in configured.split(",") if name.strip()]
            return cls(None if "*" in names else [*LOOPBACK_NAMES, *names])
        if not _is_loopback(bind_host) or _jupyter_is_remote():
            return cls(None)
        return cls(LOOPBACK_NAMES)

    def accepts(self, host_header: str | None) -> bool:
        if self.allowed is None or not host_header:  # no Host at all: not from a browser
            return True
        name = hostname(host_header)
        return name in self.allowed or name.endswith(".localhost")

    async def refuse(self, scope: Scope, receive: Receive, send: Send, host_header: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "invalid host header"})
            return
        message = (
            f"Invalid host header {host_header!r}: kernel_ext answers to localhost and 127.0.0.1 only, "
            f"as a guard against DNS rebinding. To allow it, set {ALLOWED_HOSTS_ENV}="
            f"{hostname(host_header)} (or *) in the kernel's environment, then run %api restart."
        )
        await PlainTextResponse(message, status_code=400)(scope, receive, send)


def hostname(host_header: str) -> str:
    """`example.com:8000` -> `example.com`; `[::1]:8000` -> `::1`."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def refused_host(policy: HostPolicy, scope: Scope) -> str | None:
    """The first `Host` value the policy refuses (a request may carry several), or None."""
    if policy.allowed is None:
        return None
    for key, value in scope.get("headers", ()):
        if key == b"host" and not policy.accepts_raw(value):
            return value.decode("latin-1")
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _jupyter_is_remote() -> bool:
    from urllib.parse import urlsplit

    from ._proxy import in_colab, jupyter_server

    if in_colab():  # the browser reaches the kernel only through Colab's proxy, never on loopback
        return True
    server = jupyter_server()
    if server is None:
        return False
    if not server.url:  # JupyterHub's single-user server: the browser is elsewhere
        return True
    return not _is_loopback(urlsplit(server.url).hostname or "")
