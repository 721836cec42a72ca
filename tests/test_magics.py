"""`%api` and `%%http` in a real kernel over jupyter_client, as a notebook frontend drives them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.kernel import Kernel
from tests.support.ports import free_port, port_is_free

WIDGET = "application/vnd.jupyter.widget-view+json"
APP = (
    "%load_ext kernel_ext\n"
    "import kernel_ext\n"
    "from fastapi import FastAPI, APIRouter, Depends, Form, HTTPException, Header\n"
    "from pydantic import BaseModel\n"
    "app = FastAPI()\n"
    "class Item(BaseModel):\n"
    "    name: str\n"
    "    price: float = 0\n"
    "def get_db(): return 'db'\n"
    "@app.post('/items')\n"
    "def create(item: Item, db: str = Depends(get_db)) -> Item:\n"
    "    print('creating', item.name)\n"
    "    return item\n"
)
AUTH = (
    "@app.post('/token')\n"
    "def login(username: str = Form(), password: str = Form()):\n"
    "    if password != 'secret':\n"
    "        raise HTTPException(401, 'bad password')\n"
    "    return {'access_token': 'tok-' + username, 'token_type': 'bearer'}\n"
    "@app.get('/users/me')\n"
    "def me(authorization: str = Header()):\n"
    "    if not authorization.startswith('Bearer tok-'):\n"
    "        raise HTTPException(401, 'not logged in')\n"
    "    return {'username': authorization.removeprefix('Bearer tok-'), 'active': True}\n"
)


def page(kernel: Kernel, code: str) -> str:
    """What `thing?` shows: IPython answers it as a "page" payload of the execute_reply."""
    msg_id = kernel.send(code)
    reply = kernel.client.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kernel.client.get_shell_msg(timeout=60)
    assert reply["content"]["status"] == "ok"
    return "".join(p["data"]["text/plain"] for p in reply["content"]["payload"] if p["source"] == "page")


def ok(kernel: Kernel, code: str):  # type: ignore[no-untyped-def]
    reply = kernel.run(code)
    assert reply.status == "ok", reply.traceback
    return reply


def one_line_error(kernel: Kernel, code: str) -> str:
    reply = kernel.run(code)
    assert reply.status == "error", reply.outputs
    lines = reply.traceback.splitlines()
    assert len(lines) == 1 and "Traceback" not in reply.traceback, reply.traceback
    return lines[0]


def test_help_and_usage_errors_never_end_the_kernel(kernel: Kernel) -> None:
    ok(kernel, "%load_ext kernel_ext")
    shown = page(kernel, "%api?")
    for command in (
        "status",
        "routes",
        "log",
        "docs",
        "explore",
        "start",
        "stop",
        "restart",
        "serve",
        "check",
        "export",
    ):
        assert f"\n    {command} " in shown, command
    for argument in (
        "--port PORT",
        "--host HOST",
        "--last N",
        "%api serve name",
        "directory",
        "--force",
        "--strict",
    ):
        assert argument in shown, argument
    http = page(kernel, "%%http?")
    assert "usage: %%http [-h] [-o NAME] [--expect STATUS [JSON ...]]" in http
    assert "###" in http and "# @name login" in http and "{{login.response.body.$.access_token}}" in http

    helped = ok(kernel, "%api --help")
    assert helped.stdout.startswith("usage: %api [-h] COMMAND ...") and not helped.stderr
    assert ok(kernel, "%api start -h").stdout.startswith("usage: %api start [-h] [--port PORT] [--host HOST]")
    assert one_line_error(kernel, "%api bogus").startswith(
        "kernel_ext: %api: argument COMMAND: invalid choice: 'bogus' (choose from 'status', 'routes',"
    )
    assert one_line_error(kernel, "%api start --port abc") == (
        "kernel_ext: %api start: argument --port: invalid int value: 'abc'"
    )
    assert one_line_error(kernel, "%api export") == (
        "kernel_ext: %api export: the following arguments are required: directory"
    )
    assert one_line_error(kernel, "%api serve 'x") == (
        'kernel_ext: %api: cannot split "serve \'x": No closing quotation'
    )
    assert one_line_error(kernel, "%api serve nothere") == (
        "kernel_ext: there is no 'nothere' in the notebook; define nothere = FastAPI() first"
    )
    assert kernel.value("1 + 1") == 2


def test_each_command_through_the_magic(kernel: Kernel, tmp_path: Path) -> None:
    ok(kernel, APP)
    status = ok(kernel, "%api")
    assert status.text.startswith("kernel_ext state: running | url: http://127.0.0.1:")
    assert "kernel-ext-status" in status.html and "routes: 1" in status.text
    assert ok(kernel, "%api status").text == status.text
    url = kernel.value("kernel_ext.base_url()")
    port = int(url.rsplit(":", 1)[1])

    routes = ok(kernel, "%api routes")
    header, row = routes.text.splitlines()
    assert header.split() == ["method", "path", "endpoint", "cell", "request", "response", "dependencies"]
    assert row.split() == ["POST", "/items", "create", "[1]", "Item", "Item", "get_db"]
    assert "<table class='kernel-ext-routes'>" in routes.html and "<code>get_db</code>" in routes.html

    docs = ok(kernel, "%api docs")
    assert docs.text == f"Swagger UI: {url}/docs"
    assert (
        "<iframe" in docs.html and f'src="{url}/docs"' in docs.html and f"<a href='{url}/docs'" in docs.html
    )

    log = ok(kernel, "%api log")
    assert any(WIDGET in o["content"]["data"] for o in log.outputs)
    ok(
        kernel,
        "live = _\nimport httpx\nr = httpx.post(kernel_ext.base_url() + '/items', json={'name': 'pen'})",
    )
    assert kernel.value("r.status_code") == 200
    lines = kernel.value("kernel_ext._api.session().request_log.lines()")
    assert "creating pen" in lines and any('"POST /items HTTP/1.1" 200' in line for line in lines)
    # The widget is redrawn at most every 0.2 s with the latest lines (see _livelog).
    streamed = kernel.value("live.flush() or ''.join(o['text'] for o in live.output.outputs)")
    assert "creating pen\n" in streamed and '"POST /items HTTP/1.1" 200' in streamed

    explore = ok(kernel, "%api explore")
    assert any(WIDGET in o["content"]["data"] for o in explore.outputs)

    assert ok(kernel, "%api stop").text.startswith("kernel_ext state: stopped")
    assert port_is_free(port)
    assert one_line_error(kernel, "%api docs") == "kernel_ext: the server is stopped; %api start starts it."
    assert ok(kernel, "%api start").text.startswith(f"kernel_ext state: running | url: {url}/")
    assert ok(kernel, "%api restart").text.startswith(f"kernel_ext state: running | url: {url}/")
    assert one_line_error(kernel, "%api start").startswith("kernel_ext: The server is already running at")

    ok(kernel, "admin = FastAPI()\n@admin.get('/')\ndef admin_root(): return 'admin'")
    assert "app: admin | routes: 1" in ok(kernel, "%api serve admin").text
    assert kernel.value("httpx.get(kernel_ext.base_url()).json()") == "admin"
    ok(kernel, "%api serve app")

    out = tmp_path / "out"
    exported = ok(kernel, f"%api export {out}")
    assert f"code cells to {out}/" in exported.text and (out / "app" / "main.py").exists()
    assert "--force" in one_line_error(kernel, f"%api export {out}")
    ok(kernel, f"%api export {out} --force")
    assert kernel.value("1 + 1") == 2


def test_status_card_tells_the_last_error(kernel: Kernel) -> None:
    ok(kernel, APP)
    ok(
        kernel,
        "from contextlib import asynccontextmanager\n"
        "@asynccontextmanager\n"
        "async def broken(app):\n"
        "    raise RuntimeError('no database')\n"
        "    yield\n"
        "app = FastAPI(lifespan=broken)\n",
    )
    card = ok(kernel, "%api")
    assert "last error: the new app's lifespan failed at startup" in card.text and "no database" in card.html


def test_http_cells(kernel: Kernel) -> None:
    ok(kernel, APP + AUTH)
    sent = ok(
        kernel,
        '%%http -o created --expect 200 \'{"name": "pen"}\'\n'
        "@price = 2.5\n"
        "POST /items\n"
        "Content-Type: application/json\n"
        "\n"
        '{"name": "pen", "price": {{price}}}\n'
        "\n"
        "### the second request\n"
        "POST /items\n"
        "\n"
        '{"name": "pen"}\n',
    )
    assert "HTTP 200 OK" in sent.text
    assert kernel.value("[r.json() for r in created.responses]") == [
        {"name": "pen", "price": 2.5},
        {"name": "pen", "price": 0.0},
    ]

    login = ok(
        kernel,
        '%%http --expect 200 \'{"username": "alice", "active": true}\'\n'
        "@user = alice\n"
        "# @name login\n"
        "POST /token\n"
        "Content-Type: application/x-www-form-urlencoded\n"
        "\n"
        "username={{user}}&password=secret\n"
        "\n"
        "###\n"
        "GET /users/me\n"
        "Authorization: Bearer {{login.response.body.$.access_token}}\n",
    )
    assert login.status == "ok"
    assert kernel.value("_http.status_code") == 200
    assert kernel.value("_http['login'].json()['access_token']") == "tok-alice"
    # A named response stays available to later cells.
    ok(kernel, "%%http -o again\nGET /users/me\nAuthorization: Bearer {{login.response.body.$.access_token}}")
    assert kernel.value("again.json()") == {"username": "alice", "active": True}

    failed = one_line_error(kernel, "%%http --expect 200\nGET /users/me\nAuthorization: Bearer nope")
    assert failed.startswith("HttpExpectationError: GET /users/me: expected status 200, got 401")
    assert kernel.value("_http.status_code") == 401  # stored all the same
    body = one_line_error(kernel, '%%http --expect 200 \'{"name": "cup"}\'\nPOST /items\n\n{"name": "pen"}')
    assert body == (
        "HttpExpectationError: POST /items: status 200 as expected, but the body differs at "
        '$.name: expected "cup", got "pen"'
    )

    before = len(kernel.value("kernel_ext._api.session().request_log.lines()"))
    reply = kernel.run('%%http\nPOST /items\n\n{"name": "a"}\n\n###\nGET /users/me\nAuthorization {{nope}}')
    assert reply.status == "error" and reply.error["ename"] == "HttpSyntaxError"
    assert reply.traceback.startswith("HttpSyntaxError: line 8: ") and "Authorization" in reply.traceback
    assert "Traceback" not in reply.traceback
    assert len(kernel.value("kernel_ext._api.session().request_log.lines()")) == before  # nothing sent

    ok(kernel, "%api stop")
    stopped = one_line_error(kernel, "%%http\nGET /items")
    assert stopped.startswith("HttpRequestError: GET /items: no in-kernel server")
    assert kernel.value("1 + 1") == 2


def test_status_card_and_docs_use_the_proxied_url_under_jupyter_server(tmp_path: Path) -> None:
    """In a kernel that a Jupyter server with jupyter-server-proxy launched, the card's links and
    the inline docs point at `<base_url>proxy/<port>/`, and that docs page works through the proxy."""
    pytest.importorskip("jupyter_server_proxy", reason="jupyter-server-proxy is not installed")
    from tests.support import jupyter as proxy

    jupyter = proxy.start_jupyter(tmp_path, dict.fromkeys(proxy.UNUSED_EXTENSIONS, False))
    try:
        with proxy.server_kernel(jupyter, "magics.ipynb") as client:
            proxy.run_in(
                client,
                f"import os; os.environ['KERNEL_EXT_PORT'] = '{free_port()}'\n"
                "%load_ext kernel_ext\n"
                "import json, kernel_ext\n"
                "from fastapi import FastAPI\n"
                "app = FastAPI(title='proxied')\n",
            )
            out = proxy.run_in(
                client,
                "card = %api status\n"
                "docs = %api docs\n"
                "print(json.dumps([kernel_ext.base_url(), repr(card), card._repr_html_(), docs.url, "
                "docs._repr_html_()]))",
            )
            base_url, card, card_html, docs_url, docs_html = json.loads(out.strip().splitlines()[-1])
            prefix = f"/proxy/{base_url.rsplit(':', 1)[1]}"
            assert f"| url: {prefix}/ | docs: {prefix}/docs |" in card
            assert f"<a href='{prefix}/docs' target='_blank'>" in card_html
            assert docs_url == f"{prefix}/docs" and f'src="{prefix}/docs"' in docs_html
            page = jupyter.get(docs_url)  # what the IFrame loads, and the schema it asks for
            assert page.status_code == 200 and "swagger-ui" in page.text
            schema = jupyter.get(proxy.openapi_url_in(page.text))
            assert schema.status_code == 200 and schema.json()["info"]["title"] == "proxied"
    finally:
        proxy.stop_jupyter(jupyter)


def test_a_bad_magic_line_fails_the_notebook_under_nbmake(tmp_path: Path) -> None:
    # IPython's own UsageError would not: nbmake passes a notebook whose magic raises one.
    import nbformat

    cells = ["%load_ext kernel_ext", "%api start --port abc", "print('not reached')"]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbformat.write(notebook, tmp_path / "bad_line.ipynb")
    environment = {**os.environ, "KERNEL_EXT_NO_SERVER": "1"}  # no server needed to parse
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbmake", "bad_line.ipynb"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1, run.stdout
    assert "kernel_ext: %api start: argument --port: invalid int value: 'abc'" in run.stdout
    assert "not reached" not in run.stdout
