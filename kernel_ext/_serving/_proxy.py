"""Reach the in-kernel server through jupyter-server-proxy when JupyterLab runs remotely.

Under a Jupyter server with jupyter-server-proxy, the browser reaches port N at
`<server base_url>proxy/N/` (e.g. `/user/alice/proxy/8000/` on JupyterHub). Links, the status
card and inline docs use that root-relative URL; the kernel itself keeps calling
`http://127.0.0.1:N` directly.

The proxy strips its prefix and sends it along as `X-Forwarded-Prefix` (also
`X-Forwarded-Context` and `X-ProxyContextPath`). `apply_forwarded_prefix(scope)` turns that header
into the ASGI `root_path`, the way `uvicorn --root-path` does, so FastAPI's `/docs` asks for
`<prefix>/openapi.json`, which also goes through the proxy.

The server that launched this kernel is the one whose pid is the kernel's parent (jupyter_client
sets `JPY_PARENT_PID`); kernels started elsewhere (nbclient, nbmake, a console) get direct URLs.
Set `KERNEL_EXT_PROXY=0` to always use direct URLs, `=1` to skip checking that the server
has jupyter-server-proxy enabled.

Google Colab has a proxy of its own, one origin per port: where `google.colab` is importable,
the browser's URL is what `google.colab.kernel.proxyPort(port)` gives.
"""

from __future__ import annotations

import functools
import importlib.util
import ipaddress
import json
import os
import re
import sys
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A path prefix we are willing to put into pages: segments of URL-safe characters only,
# so a forged header cannot inject markup into the docs page.
_PREFIX = re.compile(r"(/[A-Za-z0-9._~%!$&'()*+,;=:@-]+)+/?")
_PREFIX_HEADERS = (b"x-forwarded-prefix", b"x-forwarded-context", b"x-proxycontextpath")
_LOOPBACK_OR_ANY = {"", "localhost", "0.0.0.0", "::"}


@dataclass(frozen=True)
class JupyterServer:
    """The Jupyter server running this kernel, from its `jpserver-<pid>.json` info file."""

    url: str  # as the server sees itself, base_url included, e.g. http://localhost:8888/lab/
    base_url: str  # e.g. "/" or "/user/alice/"
    pid: int | None = None


def public_url(port: int, host: str = "127.0.0.1") -> str:
    """The URL a browser uses for the in-kernel server: Colab's proxied URL, root-relative through
    jupyter-server-proxy (`/proxy/8000/`), or direct (`http://127.0.0.1:8000/`). Ends with '/'."""
    if _is_local(host) and (colab := colab_url(port)) is not None:
        return colab
    prefix = proxy_prefix(port, host)
    if prefix is not None:
        return prefix + "/"
    return f"http://{_url_host(host)}:{port}/"


def docs_root_path(port: int, host: str = "127.0.0.1") -> str:
    """The `root_path` under which the browser sees the app: `/proxy/8000`, or '' when direct
    (Colab's proxy serves each port at the root of its own origin)."""
    if in_colab():
        return ""
    return proxy_prefix(port, host) or ""


def proxy_prefix(port: int, host: str = "127.0.0.1") -> str | None:
    """`<base_url>proxy/<port>` without the trailing '/', or None when not proxied."""
    if not _is_local(host):
        return None  # `proxy/<port>` targets localhost; other hosts need an allowlist
    server = jupyter_server()
    if server is None or not _proxy_enabled(server):
        return None
    return f"{server.base_url.rstrip('/')}/proxy/{port}"


def absolute_proxy_url(port: int, host: str = "127.0.0.1") -> str | None:
    """`proxy_prefix` on the Jupyter server's own address (for text output), or None."""
    server = jupyter_server()
    prefix = proxy_prefix(port, host)
    if server is None or prefix is None or not server.url:
        return None
    import httpx

    origin = httpx.URL(server.url).copy_with(path="/", query=None, fragment=None)
    return str(origin).rstrip("/") + prefix + "/"


# ---------------------------------------------------------------- Google Colab

# Colab's browser reaches a kernel port only through Colab's proxy, at the URL the front end's
# `google.colab.kernel.proxyPort(port)` resolves to; the kernel asks for it with `eval_js`, which
# waits for the browser's answer, so it works only while a cell runs (the main thread).
_COLAB_URLS: dict[int, str] = {}


def in_colab() -> bool:
    """Whether this kernel runs in Google Colab (`google.colab` is importable)."""
    if sys.modules.get("google.colab") is not None:
        return True
    try:
        return importlib.util.find_spec("google.colab") is not None
    except (ImportError, ValueError):  # no `google` package at all
        return False


def colab_url(port: int) -> str | None:
    """The browser's URL for `port` through Colab's proxy, ending with '/'; None outside Colab, or
    when the front end did not answer (then direct URLs are the best there is)."""
    if _proxy_switched_off() or port in _COLAB_URLS or not in_colab():
        return None if _proxy_switched_off() else _COLAB_URLS.get(port)
    try:
        from google.colab.output import eval_js

        url = eval_js(f"google.colab.kernel.proxyPort({int(port)})", timeout_sec=10)
    except Exception:  # no front end (a background thread, a test runner): never raise into a cell
        return None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return None
    _COLAB_URLS[port] = url if url.endswith("/") else url + "/"
    return _COLAB_URLS[port]


def colab_target(url: str) -> tuple[int, str] | None:
    """(port, path) when `url` is one of Colab's proxied URLs, for `serve_kernel_port_as_iframe`."""
    for port, base in _COLAB_URLS.items():
        if url.startswith(base):
            return port, "/" + url[len(base) :]
    return None


# ---------------------------------------------------------------- finding the server


def jupyter_server() -> JupyterServer | None:
    """The Jupyter server that launched this kernel, or None (cached for the process)."""
    if _proxy_switched_off():
        return None
    return _find_server()


def _proxy_switched_off() -> bool:
    return os.environ.get("KERNEL_EXT_PROXY", "").strip().lower() in ("0", "false", "no", "off")


@functools.cache
def _find_server() -> JupyterServer | None:
    parents = _parent_pids()
    for info in _running_servers():
        if info.get("pid") in parents:
            return JupyterServer(str(info.get("url", "")), str(info.get("base_url", "/")), info["pid"])
    # JupyterHub's single-user server: the kernel belongs to a notebook session of it.
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix and os.environ.get("JPY_SESSION_NAME"):
        return JupyterServer("", prefix if prefix.endswith("/") else prefix + "/")
    return None


def _parent_pids() -> set[int]:
    pids = {os.getppid()}
    declared = os.environ.get("JPY_PARENT_PID", "")
    if declared.isdigit() and os.name != "nt":  # on Windows it is a handle, not a pid
        pids.add(int(declared))
    return pids


def _running_servers() -> list[dict[str, Any]]:
    """What `jupyter_server.serverapp.list_running_servers` reads, without importing it
    (that import takes seconds: jupyter_events builds a URI grammar)."""
    servers: list[dict[str, Any]] = []
    for runtime_dir in _runtime_dirs():
        for path in sorted(Path(runtime_dir).glob("jpserver-*.json")):
            try:
                info = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # being written, or unreadable
            if isinstance(info, dict) and isinstance(info.get("pid"), int):
                servers.append(info)
    return servers


def _runtime_dirs() -> list[str]:
    """The default runtime dir, and the one holding this kernel's connection file."""
    from jupyter_core.paths import jupyter_runtime_dir

    dirs = [jupyter_runtime_dir()]
    if "ipykernel" not in sys.modules:
        return dirs  # not in a kernel, and importing ipykernel is slow
    try:
        from ipykernel.connect import get_connection_file

        connection_dir = str(Path(get_connection_file()).parent)
    except Exception:  # not in a kernel: no app, or no connection file
        return dirs
    if connection_dir not in dirs:
        dirs.append(connection_dir)
    return dirs


def _proxy_enabled(server: JupyterServer) -> bool:
    setting = os.environ.get("KERNEL_EXT_PROXY", "").strip().lower()
    if setting in ("1", "true", "yes", "on"):
        return True
    return _server_has_proxy(server)


@functools.cache
def _server_has_proxy(server: JupyterServer) -> bool:
    # The kernel's environment may differ from the server's, so ask the server: the
    # extension's `server-proxy/servers-info` route exists (401/403 without a token) or not (404).
    if server.url:
        import httpx

        try:
            probe = httpx.get(f"{server.url.rstrip('/')}/server-proxy/servers-info", timeout=1.0)
        except httpx.HTTPError:
            pass
        else:
            return probe.status_code != 404
    return importlib.util.find_spec("jupyter_server_proxy") is not None


def _is_local(host: str) -> bool:
    if host in _LOOPBACK_OR_ANY:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


# ---------------------------------------------------------------- requests through the proxy


def root_path_for(scope: MutableMapping[str, Any]) -> str:
    """The prefix a proxy says it stripped (`X-Forwarded-Prefix`), or '' if none/unsafe."""
    for name, value in scope.get("headers", ()):
        if name.lower() in _PREFIX_HEADERS:
            prefix = value.decode("latin-1").strip()
            if _PREFIX.fullmatch(prefix):
                return prefix.rstrip("/")
    return ""


def apply_forwarded_prefix(scope: MutableMapping[str, Any]) -> None:
    """Make an HTTP/WebSocket scope that came through the proxy look like `uvicorn --root-path`:
    `root_path` is the prefix and `path` includes it, so routing, `url_for` and FastAPI's docs
    (`root_path + openapi_url`) all see the URL the browser used."""
    if scope.get("type") not in ("http", "websocket") or scope.get("root_path"):
        return
    prefix = root_path_for(scope)
    if not prefix:
        return
    scope["root_path"] = prefix
    scope["path"] = prefix + scope["path"]
    if scope.get("raw_path") is not None:
        scope["raw_path"] = prefix.encode("latin-1") + scope["raw_path"]
