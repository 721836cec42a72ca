"""Behind a real jupyter-server + jupyter-server-proxy: the API and `/docs` through the proxy URL."""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from kernel_ext._serving._proxy import (
    apply_forwarded_prefix,
    docs_root_path,
    public_url,
    root_path_for,
)
from tests.support.ports import free_port

pytest.importorskip("jupyter_server_proxy", reason="jupyter-server-proxy is not installed")

REPO = Path(__file__).resolve().parents[1]
# Extensions the test does not need; they make the server start several seconds slower.
UNUSED_EXTENSIONS = ("jupyterlab", "jupyter_lsp", "notebook_shim", "jupyter_server_terminals")


@dataclass
class Jupyter:
    url: str  # http://127.0.0.1:<port>/
    token: str
    runtime_dir: Path
    process: subprocess.Popen

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def get(self, path: str, **kwargs) -> httpx.Response:
        return httpx.get(self.url + path.lstrip("/"), headers=self.auth, timeout=30, **kwargs)


def start_jupyter(tmp: Path, extensions: dict[str, bool]) -> Jupyter:
    config_dir = tmp / "config"
    config_dir.mkdir(parents=True)
    config = {"ServerApp": {"jpserver_extensions": extensions}}
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(config))
    token, port = secrets.token_hex(16), free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "IPYTHONDIR": str(tmp / "ipython"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    env.pop("KERNEL_EXT_PROXY", None)
    command = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={tmp}",
        "--allow-root",
    ]
    log = (tmp / "jupyter.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    jupyter = Jupyter(f"http://127.0.0.1:{port}/", token, tmp / "runtime", process)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"jupyter server exited:\n{(tmp / 'jupyter.log').read_text()}")
        try:
            if jupyter.get("api/status").status_code == 200:
                return jupyter
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.terminate()
    pytest.fail(f"jupyter server did not start:\n{(tmp / 'jupyter.log').read_text()}")


def stop_jupyter(jupyter: Jupyter) -> None:
    jupyter.process.terminate()
    try:
        jupyter.process.wait(15)
    except subprocess.TimeoutExpired:
        jupyter.process.kill()
        jupyter.process.wait()


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
    with serve(ForwardedPrefix(make_app())) as port:
        yield port


class serve:
    def __init__(self, app: ASGIApp) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> int:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)
        self.sock.close()


def openapi_url_in(docs_page: str) -> str:
    match = re.search(r"url: '([^']+)'", docs_page)
    assert match, docs_page
    return match.group(1)


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
    with serve(make_app()) as port:
        docs = jupyter.get(f"proxy/{port}/docs")
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
    from jupyter_client import BlockingKernelClient

    created = httpx.post(
        jupyter.url + "api/sessions",
        headers=jupyter.auth,
        json={"path": "proxy.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
        timeout=60,
    )
    assert created.status_code == 201, created.text
    session = created.json()
    client = BlockingKernelClient(
        connection_file=str(jupyter.runtime_dir / f"kernel-{session['kernel']['id']}.json")
    )
    client.load_connection_file()
    # No heartbeat: on a loaded machine a late beat makes wait_for_ready call the kernel dead.
    client.start_channels(hb=False)
    client.wait_for_ready(timeout=120)
    yield client
    client.stop_channels()
    httpx.delete(jupyter.url + f"api/sessions/{session['id']}", headers=jupyter.auth, timeout=30)


def run_in(client, code: str) -> str:
    """Run `code` in the kernel; its stdout, or the error."""
    out: list[str] = []

    def hook(message: dict) -> None:
        if message["msg_type"] == "stream":
            out.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            out.append("\n".join(message["content"]["traceback"]))

    reply = client.execute_interactive(code, timeout=120, output_hook=hook)
    assert reply["content"]["status"] == "ok", "".join(out)
    return "".join(out)


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
