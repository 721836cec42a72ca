"""Google Colab, against a stand-in `google.colab` (tests/standins): no Colab runs here.

In Colab the browser reaches a kernel port only through Colab's proxy, at the URL that
`google.colab.kernel.proxyPort(port)` gives. The status card, `%api docs` and links use it, `/docs`
finds its openapi.json through it, and the Host guard lets the proxy's requests in.
"""

from __future__ import annotations

import os
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from kernel_ext._serving import _proxy as _proxy
from tests.support.kernel import Kernel

STANDINS = Path(__file__).resolve().parent / "standins"
PROXY_URL = re.compile(r"http://127\.0\.0\.1:\d+/")
APP = (
    "from fastapi import FastAPI\n"
    "app = FastAPI(title='in colab')\n"
    "@app.get('/items/{item_id}')\n"
    "def item(item_id: int) -> dict:\n"
    "    return {'id': item_id}\n"
)


def _kernel(colab: bool) -> Kernel:
    path = [str(STANDINS)] if colab else []
    path += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {"PYTHONPATH": os.pathsep.join(path)} if path else {}
    return Kernel(env={**env, "KERNEL_EXT_PROXY": ""}).start()


@pytest.fixture(scope="module")
def colab() -> Iterator[tuple[Kernel, str]]:
    """A kernel where `google.colab` is the stand-in; the proxied URL its status card showed."""
    kernel = _kernel(colab=True)
    try:
        loaded = kernel.run("%load_ext kernel_ext")
        assert loaded.status == "ok", loaded.traceback
        found = PROXY_URL.search(loaded.html)
        assert found, loaded.html
        assert kernel.run(APP + "import kernel_ext").status == "ok"
        yield kernel, found.group(0)
    finally:
        kernel.shutdown()


def test_the_status_card_shows_the_proxied_url(colab: tuple[Kernel, str]) -> None:
    kernel, url = colab
    direct = kernel.value("kernel_ext.base_url()")
    assert not url.startswith(direct)  # the proxy's address, not the server's own
    card = kernel.run("kernel_ext.status()")
    assert f"<code>{url}</code>" in card.html and f"<a href='{url}' target='_blank'>" in card.html
    assert f"<code>{url}docs</code>" in card.html
    assert f"url: {url}" in card.text  # the plain-text form shows it too
    # Asked of the front end once per port, as Colab's own examples do.
    asked = kernel.value("__import__('google.colab.output').colab.output.calls")
    assert asked == [f"google.colab.kernel.proxyPort({urlsplit(direct).port})"]


def test_the_api_answers_through_the_proxy(colab: tuple[Kernel, str]) -> None:
    _, url = colab
    response = httpx.get(url + "items/7", timeout=30)
    assert response.status_code == 200, response.text  # the Host guard let the proxy in
    assert response.json() == {"id": 7}


def test_docs_find_openapi_json_through_the_proxy(colab: tuple[Kernel, str]) -> None:
    _, url = colab
    docs = httpx.get(url + "docs", timeout=30)
    assert docs.status_code == 200
    openapi = re.search(r"url: '([^']+)'", docs.text).group(1)
    schema = httpx.get(urljoin(url + "docs", openapi), timeout=30)  # as the browser resolves it
    assert schema.status_code == 200 and schema.json()["info"]["title"] == "in colab"


def test_api_docs_frames_swagger_with_colabs_helper(colab: tuple[Kernel, str]) -> None:
    kernel, url = colab
    shown = kernel.run("%api docs")
    assert shown.status == "ok", shown.traceback
    assert f"<a href='{url}docs' target='_blank'>" in shown.html
    scripts = [o["content"]["data"].get("application/javascript", "") for o in shown.outputs]
    port = urlsplit(kernel.value("kernel_ext.base_url()")).port
    assert any(f"proxyPort({port}," in s and 'url.pathname = "/docs"' in s for s in scripts), scripts


def test_websockets_are_not_proxied_but_the_explorer_client_runs_in_the_kernel(
    colab: tuple[Kernel, str],
) -> None:
    kernel, url = colab
    refused = httpx.get(url + "ws", headers={"Upgrade": "websocket", "Connection": "Upgrade"}, timeout=30)
    assert refused.status_code == 502  # the stand-in, like Colab, does not forward WebSockets
    code = (
        "from fastapi import WebSocket\n"
        "@app.websocket('/ws')\n"
        "async def echo(ws: WebSocket) -> None:\n"
        "    await ws.accept()\n"
        "    await ws.send_text('hi ' + await ws.receive_text())\n"
        "    await ws.close()\n"
        "from websockets.sync.client import connect\n"
        "with connect(kernel_ext.base_url().replace('http', 'ws') + '/ws') as ws:\n"
        "    ws.send('colab')\n"
        "    print(ws.recv())"
    )
    reply = kernel.run(code)
    assert reply.status == "ok", reply.traceback
    assert reply.stdout.strip() == "hi colab"


def test_without_colab_the_same_host_is_refused() -> None:
    """The control: outside Colab the proxy's public host name is a DNS-rebinding suspect."""
    kernel = _kernel(colab=False)
    try:
        reply = kernel.run("%load_ext kernel_ext\n" + APP + "import kernel_ext")
        assert reply.status == "ok", reply.traceback
        assert not PROXY_URL.search(reply.html.replace(kernel.value("kernel_ext.base_url()"), ""))
        base = kernel.value("kernel_ext.base_url()")
        host = {"Host": "8000-m-s-standin-a.us-west1-0.prod.colab.dev"}
        assert httpx.get(base + "/items/1", headers=host, timeout=30).status_code == 400
    finally:
        kernel.shutdown()


# ---------------------------------------------------------------- colab_url, in process


@pytest.fixture
def fake_colab(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """`google.colab.output` whose eval_js answers what the test sets."""
    answers = types.SimpleNamespace(value="https://8123-abc.prod.colab.dev", error=None, scripts=[])

    def eval_js(script: str, ignore_result: bool = False, timeout_sec: float | None = None) -> object:
        answers.scripts.append(script)
        if answers.error is not None:
            raise answers.error
        return answers.value

    output = types.ModuleType("google.colab.output")
    output.eval_js = eval_js  # type: ignore[attr-defined]  # a module made here
    package = types.ModuleType("google.colab")
    package.output = output  # type: ignore[attr-defined]  # a module made here
    monkeypatch.setitem(sys.modules, "google.colab", package)
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    monkeypatch.setattr(_proxy, "_COLAB_URLS", {})
    monkeypatch.delenv("KERNEL_EXT_PROXY", raising=False)
    return answers


def test_colab_url_ends_with_a_slash_and_is_asked_once(fake_colab: types.SimpleNamespace) -> None:
    assert _proxy.colab_url(8123) == "https://8123-abc.prod.colab.dev/"
    assert _proxy.public_url(8123) == "https://8123-abc.prod.colab.dev/"
    assert _proxy.docs_root_path(8123) == ""
    assert fake_colab.scripts == ["google.colab.kernel.proxyPort(8123)"]
    assert _proxy.colab_target("https://8123-abc.prod.colab.dev/docs") == (8123, "/docs")
    assert _proxy.colab_target("http://127.0.0.1:8123/docs") is None


def test_no_answer_from_the_front_end_means_direct_urls(fake_colab: types.SimpleNamespace) -> None:
    fake_colab.error = TimeoutError("no front end")
    assert _proxy.colab_url(8123) is None
    assert _proxy.public_url(8123).startswith("http://127.0.0.1:8123")
    fake_colab.error, fake_colab.value = None, None  # an answer that is not a URL
    assert _proxy.colab_url(8123) is None
    fake_colab.value = "javascript:alert(1)"
    assert _proxy.colab_url(8123) is None


def test_colab_proxy_can_be_switched_off(
    fake_colab: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERNEL_EXT_PROXY", "0")
    assert _proxy.colab_url(8123) is None and fake_colab.scripts == []


def test_a_host_other_than_loopback_is_never_proxied(fake_colab: types.SimpleNamespace) -> None:
    assert _proxy.public_url(8123, "10.1.2.3") == "http://10.1.2.3:8123/"
    assert fake_colab.scripts == []


def test_outside_colab(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.colab", None)  # import google.colab fails
    assert _proxy.in_colab() is False
    assert _proxy.colab_url(8123) is None
