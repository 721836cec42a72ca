"""Session-level behaviour: restarts, serving another object, listeners."""

from __future__ import annotations

import contextlib
import threading
import uuid

import httpx

import kernel_ext
from tests.support.shell import Shell


def test_restart_under_load_refuses_nothing_and_never_says_no_app(shell: Shell) -> None:
    shell.ok("from fastapi import FastAPI\napp = FastAPI()\n@app.get('/')\ndef root(): return 'ok'")
    url = shell.url
    stop = threading.Event()
    answers: list[object] = []

    def hammer() -> None:
        while not stop.is_set():
            try:
                answers.append(httpx.get(url + "/", timeout=10).status_code)
            except httpx.HTTPError as exc:
                answers.append(type(exc).__name__)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(5):
        kernel_ext.restart()
        assert kernel_ext.base_url() == url
    stop.set()
    for t in threads:
        t.join()
    assert answers and set(answers) == {200}, {a for a in answers if a != 200}


def test_serve_another_name(shell: Shell) -> None:
    shell.ok("from fastapi import FastAPI\napp = FastAPI()\n@app.get('/')\ndef root(): return 'app'")
    shell.ok("api = FastAPI()\n@api.get('/')\ndef other(): return 'api'")
    kernel_ext.serve("api")
    assert shell.get("/").json() == "api"
    shell.ok("@api.get('/')\ndef other(): return 'api v2'")
    assert shell.get("/").json() == "api v2"
    kernel_ext.serve("app")
    assert shell.get("/").json() == "app"


def test_listeners_hear_about_route_changes_only(shell: Shell) -> None:
    calls: list[int] = []
    shell.session.add_listener(lambda: calls.append(1))
    shell.ok("from fastapi import FastAPI\napp = FastAPI()")
    assert calls == [1]
    shell.ok("x = 1")
    assert calls == [1]
    shell.ok("@app.get('/')\ndef root(): return 1")
    assert calls == [1, 1]


def test_stop_and_start_again(shell: Shell) -> None:
    marker = uuid.uuid4().hex
    shell.ok(f"from fastapi import FastAPI\napp = FastAPI()\n@app.get('/')\ndef root(): return '{marker}'")
    url = shell.url
    card = kernel_ext.stop()
    assert "stopped" in repr(card) and not shell.session.running
    # Another process may take the freed port at once; it must not be us answering.
    with contextlib.suppress(httpx.ConnectError):
        assert httpx.get(url + "/").text != f'"{marker}"'
    kernel_ext.start()
    assert httpx.get(kernel_ext.base_url() + "/").json() == marker


def test_serving_shortens_the_gil_switch_interval_and_stop_restores_it(shell: Shell) -> None:
    import sys

    assert sys.getswitchinterval() == 0.001
    kernel_ext.stop()
    assert sys.getswitchinterval() == 0.005
    kernel_ext.start()
    assert sys.getswitchinterval() == 0.001
