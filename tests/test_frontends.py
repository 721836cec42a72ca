"""What front ends other than JupyterLab send, in a real kernel: VS Code's cell ids, JupyterHub."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.kernel import Kernel

# VS Code's Jupyter extension sends the cell's document URI as `cellId`, and no `deletedCells`.
VSCODE_CELL = "vscode-notebook-cell:/home/me/api.ipynb#W3sZmlsZQ%3D%3D"
ROUTE_A = "@app.get('/a')\ndef read_a() -> str:\n    return 'a'\n"
ROUTE_B = "@app.get('/b')\ndef read_b() -> str:\n    return 'b'\n"


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    started = Kernel(env={"KERNEL_EXT_PROXY": "0"}).start()
    try:
        reply = started.run(
            "%load_ext kernel_ext\nfrom fastapi import FastAPI\napp = FastAPI()\nimport kernel_ext"
        )
        assert reply.status == "ok", reply.traceback
        yield started
    finally:
        started.shutdown()


def _status(kernel: Kernel, path: str) -> int:
    return httpx.get(kernel.value("kernel_ext.base_url()") + path, timeout=10).status_code


def test_vscode_cell_ids_let_an_edited_cell_replace_its_routes(kernel: Kernel) -> None:
    assert kernel.run(ROUTE_A, cell_id=VSCODE_CELL).status == "ok"
    assert _status(kernel, "/a") == 200
    # The same cell, edited to another path and another function name: /a goes.
    assert kernel.run(ROUTE_B, cell_id=VSCODE_CELL).status == "ok"
    assert (_status(kernel, "/a"), _status(kernel, "/b")) == (404, 200)


def test_vscode_a_cell_run_as_a_comment_drops_its_routes(kernel: Kernel) -> None:
    """VS Code sends no deletedCells, so a deleted cell's routes stay. What the README advises
    besides `%api forget`: replace the cell's code with a comment and run it, then delete it."""
    other = VSCODE_CELL.replace("W3sZmlsZQ", "W4sZmlsZQ")
    assert kernel.run(ROUTE_A, cell_id=VSCODE_CELL).status == "ok"
    assert kernel.run(ROUTE_B, cell_id=other).status == "ok"
    assert kernel.run("", cell_id=VSCODE_CELL).status == "ok"
    assert _status(kernel, "/a") == 200  # IPython does not run an empty cell: no hook sees it
    assert kernel.run("# deleted", cell_id=VSCODE_CELL).status == "ok"
    assert (_status(kernel, "/a"), _status(kernel, "/b")) == (404, 200)


def test_the_status_card_shows_the_url_as_text_as_well_as_a_link(kernel: Kernel) -> None:
    url = kernel.value("kernel_ext.base_url()") + "/"
    card = kernel.run("kernel_ext.status()")
    assert f"<code>{url}</code>" in card.html  # VS Code forwards ports it sees printed; copyable
    assert f"<a href='{url}' target='_blank'>" in card.html
    assert f"url: {url}" in card.text


# ---------------------------------------------------------------- JupyterHub and Binder


def test_jupyterhub_service_prefix_gives_proxied_urls_and_accepts_the_hubs_host() -> None:
    """A kernel of a Hub's single-user server: JupyterHub sets JUPYTERHUB_SERVICE_PREFIX, and the
    server names the notebook session (JPY_SESSION_NAME). Binder is the same."""
    hub = Kernel(
        env={
            "JUPYTERHUB_SERVICE_PREFIX": "/user/alice/",
            "JPY_SESSION_NAME": "/home/alice/api.ipynb",
            "KERNEL_EXT_PROXY": "",
        }
    ).start()
    try:
        reply = hub.run(
            "%load_ext kernel_ext\nfrom fastapi import FastAPI\napp = FastAPI(title='hub')\nimport kernel_ext"
        )
        assert reply.status == "ok", reply.traceback
        port = int(hub.value("kernel_ext.base_url()").rsplit(":", 1)[1])
        prefix = f"/user/alice/proxy/{port}"
        assert f"<code>{prefix}/</code>" in reply.html
        assert f"<code>{prefix}/docs</code>" in reply.html
        # What jupyter-server-proxy forwards: the Hub's public host, the prefix it stripped.
        headers = {"Host": "hub.example.org", "X-Forwarded-Prefix": prefix}
        docs = httpx.get(f"http://127.0.0.1:{port}/docs", headers=headers, timeout=10)
        assert docs.status_code == 200
        assert re.search(r"url: '([^']+)'", docs.text).group(1) == f"{prefix}/openapi.json"
        schema = httpx.get(f"http://127.0.0.1:{port}/openapi.json", headers=headers, timeout=10)
        assert schema.status_code == 200 and schema.json()["info"]["title"] == "hub"
    finally:
        hub.shutdown()
