"""The server answers only to loopback host names unless it can't be reached by a local browser."""

from __future__ import annotations

import httpx
import pytest

from kernel_ext._serving import _proxy as _proxy
from kernel_ext._serving._hostcheck import (
    ALLOWED_HOSTS_ENV,
    LOOPBACK_NAMES,
    MAX_REMEMBERED_HOSTS,
    HostPolicy,
    hostname,
)
from tests.support.shell import Shell

APP = "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/')\ndef root(): return 'ok'"


@pytest.mark.parametrize(
    ("header", "expected"),
    [("example.com:8000", "example.com"), ("[::1]:8000", "::1"), ("LocalHost", "localhost"), ("::1", "::1")],
)
def test_hostname(header: str, expected: str) -> None:
    assert hostname(header) == expected


def test_loopback_policy() -> None:
    policy = HostPolicy(LOOPBACK_NAMES)
    for ok in ("127.0.0.1:8000", "localhost", "[::1]:1", "app.localhost:8000", None, ""):
        assert policy.accepts(ok), ok
    for bad in ("evil.example:8000", "127.0.0.1.evil.example", "10.0.0.2:8000"):
        assert not policy.accepts(bad), bad


def test_raw_host_values_get_the_same_verdict_twice_and_the_memory_stays_bounded() -> None:
    policy = HostPolicy(LOOPBACK_NAMES)
    for _ in range(2):  # the second time from what was remembered
        assert policy.accepts_raw(b"127.0.0.1:8000")
        assert not policy.accepts_raw(b"evil.example:8000")
    for n in range(MAX_REMEMBERED_HOSTS * 3):
        assert not policy.accepts_raw(f"evil{n}.example".encode())
    assert policy.accepts_raw(b"localhost:1")  # past the bound: still parsed, not remembered
    assert len(policy._verdicts) == MAX_REMEMBERED_HOSTS


@pytest.fixture
def no_jupyter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_proxy, "jupyter_server", lambda: None)
    monkeypatch.delenv(ALLOWED_HOSTS_ENV, raising=False)


def test_policy_by_bind_address_and_setting(no_jupyter: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert HostPolicy.for_server("127.0.0.1").allowed == LOOPBACK_NAMES
    assert HostPolicy.for_server("0.0.0.0").allowed is None  # asked for remote access
    monkeypatch.setenv(ALLOWED_HOSTS_ENV, "api.test, other.test")
    assert HostPolicy.for_server("127.0.0.1").allowed == LOOPBACK_NAMES | {"api.test", "other.test"}
    monkeypatch.setenv(ALLOWED_HOSTS_ENV, "*")
    assert HostPolicy.for_server("127.0.0.1").allowed is None


@pytest.mark.parametrize(
    ("url", "remote"),
    [
        ("http://localhost:8888/", False),
        ("http://127.0.0.1:8888/lab/", False),
        ("http://hub-pod:8888/", True),
    ],
)
def test_policy_under_a_jupyter_server(monkeypatch: pytest.MonkeyPatch, url: str, remote: bool) -> None:
    monkeypatch.delenv(ALLOWED_HOSTS_ENV, raising=False)
    monkeypatch.setattr(_proxy, "jupyter_server", lambda: _proxy.JupyterServer(url, "/"))
    assert (HostPolicy.for_server("127.0.0.1").allowed is None) is remote


def test_server_refuses_a_rebound_host_and_serves_loopback_names(shell: Shell) -> None:
    shell.ok(APP)
    port = shell.url.rsplit(":", 1)[1]
    assert shell.get("/").json() == "ok"
    assert shell.get("/", headers={"host": f"localhost:{port}"}).json() == "ok"
    refused = shell.get("/", headers={"host": f"evil.example:{port}"})
    assert refused.status_code == 400
    assert "DNS rebinding" in refused.text and f"{ALLOWED_HOSTS_ENV}=evil.example" in refused.text
    docs = shell.get("/openapi.json", headers={"host": "evil.example"})
    assert docs.status_code == 400  # the schema is not readable either


def test_websocket_from_a_rebound_host_is_refused(shell: Shell) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    shell.ok(
        APP
        + "\nfrom fastapi import WebSocket\n@app.websocket('/ws')\nasync def ws(w: WebSocket):\n    await w.accept()\n    await w.send_text('hi')"
    )
    url = shell.url.replace("http://", "ws://") + "/ws"
    with connect(url) as websocket:
        assert websocket.recv() == "hi"
    with pytest.raises(InvalidStatus), connect(url, additional_headers={"Host": "evil.example"}):
        pass


def test_allowed_hosts_setting_applies_on_restart(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    shell.ok(APP)
    monkeypatch.setenv(ALLOWED_HOSTS_ENV, "api.test")
    shell.ok("%api restart")
    assert shell.get("/", headers={"host": "api.test"}).json() == "ok"
    assert shell.get("/", headers={"host": "evil.example"}).status_code == 400
    assert httpx.get(shell.url + "/", timeout=10).json() == "ok"
