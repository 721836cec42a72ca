"""What must not leak: the server listens on loopback only, errors carry no internals, and the
auth notebooks (16, 17), served in-kernel, refuse missing, forged and expired credentials when
called from another process."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import psutil
import pytest

from tests.support.kernel import APP, Kernel, kernel_with_app, ok, start_kernel
from tests.support.notebooks import NOTEBOOKS, serving_cells

BOOM = APP + '\n@app.get("/boom")\ndef boom():\n    secret = "s3cr3t-in-a-local"\n    return 1 / 0\n'


def listening(pid: int) -> list[tuple[str, int]]:
    process = psutil.Process(pid)
    processes = [process, *process.children(recursive=True)]
    return sorted(
        (c.laddr.ip, c.laddr.port)
        for p in processes
        for c in p.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    )


def test_by_default_the_kernel_listens_on_loopback_only() -> None:
    with kernel_with_app() as (kernel, url):
        port = int(url.rsplit(":", 1)[1])
        sockets = listening(kernel.pid)
        assert ("127.0.0.1", port) in sockets
        assert {ip for ip, _ in sockets} == {"127.0.0.1"}, sockets


def test_listening_on_all_interfaces_needs_asking_and_warns() -> None:
    with kernel_with_app() as (kernel, url):
        port = int(url.rsplit(":", 1)[1])
        ok(kernel, "%api stop")
        reply = ok(kernel, f"%api start --host 0.0.0.0 --port {port}")
        assert "0.0.0.0" in reply.stderr, reply.stderr  # a visible warning
        assert ("0.0.0.0", port) in listening(kernel.pid)


def test_errors_and_cross_origin_requests_leak_nothing() -> None:
    with kernel_with_app(BOOM) as (_, url):
        response = httpx.get(url + "/boom", headers={"Origin": "http://evil.example"}, timeout=10)
        assert response.status_code == 500
        assert response.text == "Internal Server Error"  # no traceback, no locals
        assert "access-control-allow-origin" not in response.headers
        ok_response = httpx.get(url + "/", headers={"Origin": "http://evil.example"}, timeout=10)
        assert "access-control-allow-origin" not in ok_response.headers


@pytest.fixture
def notebook_kernel(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Kernel, str]]:
    """The auth notebook named by the test's parameter, run top to bottom in a fresh kernel."""
    name: str = request.param
    if not (NOTEBOOKS / name).exists():
        pytest.skip(f"{name} is not written yet")
    workdir = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, workdir, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    kernel = start_kernel(cwd=str(workdir))
    try:
        for source, may_raise in serving_cells(workdir / name):
            reply = kernel.run(source, timeout=120)
            assert reply.status == "ok" or may_raise, reply.traceback
        yield kernel, kernel.value("__import__('kernel_ext').base_url()")
    finally:
        kernel.shutdown()


@pytest.mark.parametrize("notebook_kernel", ["16_security_basic.ipynb"], indirect=True)
def test_basic_auth_notebook_refuses_bad_credentials(notebook_kernel: tuple[Kernel, str]) -> None:
    kernel, url = notebook_kernel
    me = url + "/users/me"
    # The notebook's demo credentials come from its settings (generated unless set).
    username, password = kernel.value("(username, password)")
    assert httpx.get(me, auth=(username, password)).json() == {"username": username}
    refused = [
        httpx.get(me),
        httpx.get(me, auth=(username, "wrong")),
        httpx.get(me, auth=("mallory", password)),
        httpx.get(me, auth=("stanleyjobson", "swordfish")),  # the reference's well-known pair
        httpx.get(me, headers={"Authorization": "Basic " + "A" * 5000}),
        httpx.get(me, headers={"Authorization": f"Bearer {password}"}),
    ]
    for response in refused:
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Basic"
        assert password not in response.text


@pytest.mark.parametrize("notebook_kernel", ["17_security_oauth2.ipynb"], indirect=True)
def test_oauth2_notebook_refuses_missing_forged_and_expired_tokens(
    notebook_kernel: tuple[Kernel, str],
) -> None:
    kernel, url = notebook_kernel
    key = kernel.value("settings.secret_key.get_secret_value()")
    password = kernel.value("settings.demo_password.get_secret_value()")
    well_known = httpx.post(url + "/token", data={"username": "johndoe", "password": "secret"})
    assert well_known.status_code == 400  # the reference's password is not the demo's
    login = httpx.post(url + "/token", data={"username": "johndoe", "password": password})
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]

    def me(token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}".strip()} if token is not None else {}
        return httpx.get(url + "/users/me", headers=headers)

    assert me(token).json()["username"] == "johndoe"
    soon = datetime.now(UTC) + timedelta(minutes=5)
    bad = {
        "missing": None,
        "empty": "",
        "forged with another key": jwt.encode({"sub": "johndoe", "exp": soon}, "x" * 32, algorithm="HS256"),
        "alg none": jwt.encode({"sub": "johndoe", "exp": soon}, None, algorithm="none"),
        "expired": jwt.encode({"sub": "johndoe", "exp": datetime.now(UTC) - timedelta(seconds=1)}, key),
        "no expiry": jwt.encode({"sub": "johndoe"}, key),
        "not yet valid": jwt.encode({"sub": "johndoe", "exp": soon, "nbf": soon}, key),
        "garbage": "a.b.c",
    }
    for why, value in bad.items():
        response = me(value)
        assert response.status_code == 401, (why, response.status_code, response.text)
        assert response.headers["www-authenticate"] == "Bearer", why
    # A token that expires while in use stops working.
    short = jwt.encode({"sub": "johndoe", "exp": datetime.now(UTC) + timedelta(seconds=2)}, key)
    assert me(short).status_code == 200
    time.sleep(2.5)
    assert me(short).status_code == 401
    assert key not in kernel.value("__import__('kernel_ext')._session.current_session().request_log.text()")


def test_a_rebound_domain_cannot_read_the_api() -> None:
    # DNS rebinding: a page on attacker.example re-points its name at 127.0.0.1, and the
    # browser then sends our port requests with the attacker's name in Host.
    with kernel_with_app() as (_kernel, url):
        port = url.rsplit(":", 1)[1]
        refused = httpx.get(url + "/openapi.json", headers={"Host": f"attacker.example:{port}"}, timeout=10)
        assert refused.status_code == 400 and "paths" not in refused.text
        assert "DNS rebinding" in refused.text
        allowed = httpx.get(url + "/openapi.json", headers={"Host": f"localhost:{port}"}, timeout=10)
        assert allowed.status_code == 200 and "paths" in allowed.json()
