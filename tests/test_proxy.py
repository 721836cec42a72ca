"""Behind a real jupyter-server + jupyter-server-proxy: the API and `/docs` through the proxy URL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from kernel_ext._serving._proxy import (
    apply_forwarded_prefix,
    docs_root_path,
    public_url,
    root_path_for,
)
from tests.support.jupyter import (
    UNUSED_EXTENSIONS,
    Jupyter,
    openapi_url_in,
    run_in,
    start_jupyter,
    stop_jupyter,
)
from tests.support.jupyter import server_kernel as start_server_kernel
from tests.support.ports import free_port
from tests.support.servers import serve


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


pytest.importorskip("jupyter_server_proxy", reason="jupyter-server-proxy is not installed")


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jupyter]:
    disabled = dict.fromkeys(UNUSED_EXTENSIONS, False)
    running = start_jupyter(tmp_path_factory.mktemp("jupyter"), disabled)
    yield running
    stop_jupyter(running)


class ForwardedPrefix:
    """What the kernel_ext gateway does with requests that come through the proxy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        apply_forwarded_prefix(scope)
        await self.app(scope, receive, send)


def make_app() -> FastAPI:
    app = FastAPI(title="proxied")

    @app.get("/items/{item_id}")
    def item(item_id: int, request: Request) -> dict:
        return {
            "id": item_id,
            "root_path": request.scope.get("root_path", ""),
            "url": str(request.url),
            "self": str(request.url_for("item", item_id=item_id)),
            "forwarded": {
                name: request.headers.get(name)
                for name in ("x-forwarded-prefix", "x-forwarded-context", "x-proxycontextpath")
            },
        }

    return app


@pytest.fixture(scope="module")
def backend() -> Iterator[int]:
    """A FastAPI app behind the prefix handling, served by uvicorn in a thread; its port."""
    with serve(ForwardedPrefix(make_app())) as url:
        yield port_of(url)


# ---------------------------------------------------------------- through the real proxy


def test_api_through_the_proxy(jupyter: Jupyter, backend: int) -> None:
    response = jupyter.get(f"proxy/{backend}/items/1?q=2")
    assert response.status_code == 200, response.text
    data = response.json()
    prefix = f"/proxy/{backend}"
    # What jupyter-server-proxy 4.x sends: the stripped prefix, under three names.
    assert data["forwarded"] == dict.fromkeys(
        ("x-forwarded-prefix", "x-forwarded-context", "x-proxycontextpath"), prefix
    )
    assert data["root_path"] == prefix
    assert data["url"].endswith(f"{prefix}/items/1?q=2")
    assert data["self"].endswith(f"{prefix}/items/1")


def test_docs_and_openapi_json_through_the_proxy(jupyter: Jupyter, backend: int) -> None:
    docs = jupyter.get(f"proxy/{backend}/docs")
    assert docs.status_code == 200
    openapi_url = openapi_url_in(docs.text)
    assert openapi_url == f"/proxy/{backend}/openapi.json"
    # The browser resolves it against the Jupyter server's origin: it must go through the proxy.
    schema = jupyter.get(openapi_url)
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "proxied"
    assert "/items/{item_id}" in schema.json()["paths"]
    assert schema.json()["servers"] == [{"url": f"/proxy/{backend}"}]


def test_without_prefix_handling_the_docs_page_breaks(jupyter: Jupyter) -> None:
    """The control: plain FastAPI behind the proxy points Swagger at the Jupyter server's root."""
    with serve(make_app()) as url:
        docs = jupyter.get(f"proxy/{port_of(url)}/docs")
        assert docs.status_code == 200
        assert openapi_url_in(docs.text) == "/openapi.json"
        assert jupyter.get("/openapi.json").status_code == 404


def test_direct_access_is_unchanged(backend: int) -> None:
    data = httpx.get(f"http://127.0.0.1:{backend}/items/3").json()
    assert data["root_path"] == "" and data["url"] == f"http://127.0.0.1:{backend}/items/3"
    docs = httpx.get(f"http://127.0.0.1:{backend}/docs")
    assert openapi_url_in(docs.text) == "/openapi.json"


# ---------------------------------------------------------------- a kernel the server launched


@pytest.fixture(scope="module")
def server_kernel(jupyter: Jupyter) -> Iterator:
    """A kernel started by the Jupyter server for a notebook session, and a client for it."""
    with start_server_kernel(jupyter, "proxy.ipynb") as client:
        yield client


def test_kernel_under_the_server_gets_proxied_urls(jupyter: Jupyter, server_kernel) -> None:
    code = (
        "import json\n"
        "from kernel_ext._serving._proxy import public_url, docs_root_path, absolute_proxy_url\n"
        "print(json.dumps([public_url(8123), docs_root_path(8123), absolute_proxy_url(8123),"
        " public_url(8123, '10.1.2.3')]))"
    )
    assert json.loads(run_in(server_kernel, code)) == [
        "/proxy/8123/",
        "/proxy/8123",
        f"{jupyter.url}proxy/8123/",
        "http://10.1.2.3:8123/",  # proxy/<port> only reaches localhost
    ]


@pytest.fixture(scope="module")
def kernel_app_port(server_kernel) -> int:
    """`%load_ext kernel_ext` and an app, in the kernel the Jupyter server launched."""
    code = (
        f"import os; os.environ['KERNEL_EXT_PORT'] = '{free_port()}'\n"
        "%load_ext kernel_ext\n"
        "from fastapi import FastAPI\n"
        "app = FastAPI(title='in-kernel')\n"
        "@app.get('/items/{item_id}')\n"
        "def item(item_id: int) -> dict:\n"
        "    return {'id': item_id}\n"
        "import kernel_ext; print(kernel_ext.base_url())"
    )
    return int(run_in(server_kernel, code).strip().rsplit(":", 1)[-1])


def test_kernel_ext_api_through_the_proxy(jupyter: Jupyter, kernel_app_port: int) -> None:
    response = jupyter.get(f"proxy/{kernel_app_port}/items/5")
    assert response.status_code == 200 and response.json() == {"id": 5}


def test_kernel_ext_docs_through_the_proxy(jupyter: Jupyter, kernel_app_port: int) -> None:
    docs = jupyter.get(f"proxy/{kernel_app_port}/docs")
    assert docs.status_code == 200
    openapi_url = openapi_url_in(docs.text)
    assert openapi_url == f"/proxy/{kernel_app_port}/openapi.json"
    schema = jupyter.get(openapi_url)
    assert schema.status_code == 200 and schema.json()["info"]["title"] == "in-kernel"


def test_a_server_without_the_extension_means_direct_urls(tmp_path: Path) -> None:
    from kernel_ext._serving._proxy import JupyterServer, _server_has_proxy

    extensions = {**dict.fromkeys(UNUSED_EXTENSIONS, False), "jupyter_server_proxy": False}
    without = start_jupyter(tmp_path, extensions)
    try:
        assert without.get("proxy/1/items").status_code == 404
        assert _server_has_proxy(JupyterServer(without.url, "/")) is False
    finally:
        stop_jupyter(without)


def test_server_probe_with_the_extension(jupyter: Jupyter) -> None:
    from kernel_ext._serving._proxy import JupyterServer, _server_has_proxy

    assert _server_has_proxy(JupyterServer(jupyter.url, "/")) is True


# ---------------------------------------------------------------- outside a Jupyter server


def test_direct_urls_outside_a_jupyter_server(monkeypatch: pytest.MonkeyPatch) -> None:
    # This test process was not launched by a Jupyter server.
    monkeypatch.delenv("KERNEL_EXT_PROXY", raising=False)
    assert public_url(8123) == "http://127.0.0.1:8123/"
    assert public_url(8123, "0.0.0.0") == "http://127.0.0.1:8123/"
    assert public_url(8123, "::1") == "http://[::1]:8123/"
    assert docs_root_path(8123) == ""


def test_proxy_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from kernel_ext._serving._proxy import jupyter_server

    monkeypatch.setenv("KERNEL_EXT_PROXY", "0")
    assert jupyter_server() is None


@pytest.mark.parametrize(
    ("headers", "root_path"),
    [
        ([], ""),
        ([(b"x-forwarded-prefix", b"/user/alice/proxy/8000")], "/user/alice/proxy/8000"),
        ([(b"X-Forwarded-Prefix", b"/proxy/8000/")], "/proxy/8000"),
        ([(b"x-proxycontextpath", b"/proxy/8000")], "/proxy/8000"),
        ([(b"x-forwarded-prefix", b"/x'><script>alert(1)</script>")], ""),
        ([(b"x-forwarded-prefix", b"http://evil.example/")], ""),
        ([(b"x-forwarded-prefix", b"//evil.example")], ""),
    ],
)
def test_root_path_for(headers: list, root_path: str) -> None:
    assert root_path_for({"type": "http", "headers": headers}) == root_path


def test_apply_forwarded_prefix_matches_uvicorn_root_path() -> None:
    scope = {
        "type": "http",
        "path": "/items/1",
        "raw_path": b"/items/1",
        "root_path": "",
        "headers": [(b"x-forwarded-prefix", b"/proxy/8000")],
    }
    apply_forwarded_prefix(scope)
    assert (scope["root_path"], scope["path"], scope["raw_path"]) == (
        "/proxy/8000",
        "/proxy/8000/items/1",
        b"/proxy/8000/items/1",
    )
    apply_forwarded_prefix(scope)  # idempotent: a root_path already set wins
    assert scope["path"] == "/proxy/8000/items/1"
