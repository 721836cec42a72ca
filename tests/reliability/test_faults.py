"""Faults a team will hit: endpoints that raise or hang, a taken port, interrupts, restarts."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from tests.support.kernel import (
    APP,
    get,
    kernel_with_app,
    ok,
    request_log,
    start_kernel,
)
from tests.support.load import Load
from tests.support.ports import free_port, port_is_free
from tests.support.waiting import wait_for

FAULTY = (
    APP
    + """
import asyncio, time
started = []

@app.get("/boom")
def boom():
    return 1 / 0

@app.get("/aboom")
async def aboom():
    raise LookupError("async endpoint failed")

@app.get("/hang")
async def hang():
    started.append("async")
    await asyncio.sleep(120)

@app.get("/hang-sync")
def hang_sync():
    started.append("sync")
    time.sleep(120)
"""
)


def report(record_property: pytest.RecordProperty, name: str, seconds: float) -> None:
    """Measured figures go to the junit properties and to -s output; they are never asserted."""
    record_property(name, f"{seconds * 1000:.0f} ms")
    print(f"{name}: {seconds * 1000:.0f} ms")


def test_raising_endpoint_gives_500_logs_traceback_and_keeps_serving() -> None:
    with kernel_with_app(FAULTY) as (kernel, url):
        assert get(url + "/boom").status_code == 500
        assert get(url + "/aboom").status_code == 500
        # Called from a cell: the traceback goes to the request log, not into that cell.
        reply = ok(kernel, f"import httpx\nprint(httpx.get({url + '/boom'!r}).status_code)")
        assert reply.stdout.strip() == "500"
        assert "Traceback" not in reply.stderr + reply.stdout
        # uvicorn logs the traceback just after sending the 500: wait for the lines.
        expected = ("ZeroDivisionError", "Traceback", "LookupError: async endpoint failed")
        wait_for(lambda: all(text in request_log(kernel) for text in expected), timeout=10, step=0.1)
        assert get(url + "/").json() == {"ok": True}
        assert kernel.run("1 + 1").status == "ok"


def _fire(url: str, outcomes: list[str]) -> threading.Thread:
    def call() -> None:
        try:
            outcomes.append(str(httpx.get(url, timeout=60).status_code))
        except httpx.HTTPError as exc:
            outcomes.append(type(exc).__name__)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def test_hanging_endpoints_do_not_block_others_and_stop_completes(
    record_property: pytest.RecordProperty,
) -> None:
    with kernel_with_app(FAULTY) as (kernel, url):
        port = int(url.rsplit(":", 1)[1])
        outcomes: list[str] = []
        threads = [_fire(url + path, outcomes) for path in ["/hang", "/hang-sync"] * 4]
        wait_for(lambda: kernel.value("len(started)") == 8, timeout=30, step=0.05)
        for _ in range(5):
            assert get(url + "/").status_code == 200
        reply = ok(
            kernel, "import time\n_t0 = time.perf_counter()\n%api stop\n_stop = time.perf_counter() - _t0"
        )
        # The cell returned (ok() gives up after 60 s): the stop did not wait for the endpoints'
        # 120 s. How long it took is reported (budget 1.5 s), not asserted.
        report(record_property, "stop with 8 requests in flight", kernel.value("_stop"))
        assert "Traceback" not in reply.stderr and "CancelledError" not in reply.stderr
        for thread in threads:
            thread.join(10)
        assert len(outcomes) == 8, "in-flight requests were left hanging after the stop"
        assert port_is_free(port)
        after = ok(kernel, "%api start\nimport kernel_ext\nprint(kernel_ext.base_url())")
        assert after.stdout.strip() == url
        assert "Traceback" not in after.stderr
        assert get(url + "/").status_code == 200


def test_port_taken_is_one_clear_line_and_the_kernel_lives() -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    kernel = start_kernel(port)
    try:
        reply = kernel.run("%load_ext kernel_ext")
        assert reply.status == "ok"
        lines = [line for line in reply.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, reply.stderr
        assert str(port) in lines[0] and "Traceback" not in lines[0]
        assert kernel.run("1 + 1").status == "ok"

        again = kernel.run(f"%api start --port {port}")
        assert again.status == "error"
        assert again.traceback.count("\n") == 0 and str(port) in again.traceback, again.traceback

        other = free_port()
        ok(kernel, f"%api start --port {other}\n" + APP)
        assert get(f"http://127.0.0.1:{other}/").status_code == 200
    finally:
        blocker.close()
        kernel.shutdown()


def test_interrupt_while_idle_leaves_the_server_serving() -> None:
    with kernel_with_app() as (kernel, url):
        kernel.manager.interrupt_kernel()
        time.sleep(0.5)
        kernel.drain()
        assert get(url + "/").status_code == 200
        ok(kernel, "@app.get('/')\ndef root():\n    return {'ok': 'after interrupt'}")
        assert get(url + "/").json() == {"ok": "after interrupt"}


@pytest.mark.parametrize("busy", ["import time\ntime.sleep(60)", "while True:\n    pass"])
def test_interrupt_while_busy_leaves_the_server_serving(busy: str) -> None:
    with kernel_with_app() as (kernel, url):
        msg_id = kernel.send(busy)
        kernel.wait_started(msg_id)
        assert get(url + "/").status_code == 200  # served while the cell runs
        kernel.manager.interrupt_kernel()
        reply = kernel.wait(msg_id, timeout=30)
        assert reply.status == "error" and reply.error is not None
        assert reply.error["ename"] == "KeyboardInterrupt"
        assert get(url + "/").status_code == 200
        ok(kernel, "@app.get('/')\ndef root():\n    return {'ok': 'after interrupt'}")
        assert get(url + "/").json() == {"ok": "after interrupt"}


def test_kernel_restart_frees_the_port_and_the_new_kernel_takes_it(
    record_property: pytest.RecordProperty,
) -> None:
    port = free_port()
    kernel = start_kernel(port)
    try:
        ok(kernel, "%load_ext kernel_ext")
        ok(kernel, FAULTY)
        outcomes: list[str] = []
        _fire(f"http://127.0.0.1:{port}/hang", outcomes)  # a request in flight during shutdown
        wait_for(lambda: kernel.value("len(started)") == 1, timeout=30, step=0.05)
        stopping = threading.Thread(target=lambda: kernel.manager.shutdown_kernel(now=False, restart=True))
        start = time.perf_counter()
        stopping.start()
        wait_for(lambda: port_is_free(port), timeout=10, step=0.002)
        report(record_property, "shutdown request to port free", time.perf_counter() - start)
        stopping.join(30)
        report(record_property, "shutdown request to kernel process gone", time.perf_counter() - start)
        kernel.manager.start_kernel(env=kernel.env)
        kernel.client.wait_for_ready(timeout=60)
        ok(kernel, "%load_ext kernel_ext")
        ok(kernel, APP)
        assert get(f"http://127.0.0.1:{port}/").status_code == 200
    finally:
        kernel.shutdown()


def test_reload_ext_under_load_keeps_app_port_and_single_hooks() -> None:
    with kernel_with_app() as (kernel, url):
        with Load(
            url, ["/"] * 10, lambda r: None if r.status_code == 200 else f"HTTP {r.status_code}"
        ) as load:
            for _ in range(5):
                seen = load.count
                wait_for(lambda seen=seen: load.count >= seen + 5, timeout=30)
                ok(kernel, "%reload_ext kernel_ext")
            seen = load.count
            wait_for(lambda seen=seen: load.count >= seen + 20, timeout=30)
            result = load.stop()
        print(f"%reload_ext x5 under load: {result.summary()}")
        assert not result.problems, result.summary()  # answered means right: no 503 "no app", no 500
        # The listening socket is handed over, so no connection is refused. A keep-alive
        # connection the old server closes (or resets) as a request goes out on it is the one
        # error left (browsers retry those); it is reported, not asserted on.
        closed = ("RemoteProtocolError", "ReadError", "WriteError")
        assert not [e for e in result.errors if not e.startswith(closed)], result.summary()
        assert kernel.value("__import__('kernel_ext').base_url()") == url
        hooks = kernel.value(
            "[getattr(f, '__qualname__', '') for e in ('pre_run_cell', 'post_run_cell') "
            "for f in get_ipython().events.callbacks[e] if 'kernel_ext' in getattr(f, '__module__', '')]"
        )
        # One of each after five reloads: the session's two hooks and the contract diff's.
        assert sorted(hooks) == ["ContractWatch.after_cell", "Session.post_run_cell", "Session.pre_run_cell"]
        ok(kernel, "@app.get('/')\ndef root():\n    return {'ok': 'reloaded'}")
        assert get(url + "/").json() == {"ok": "reloaded"}
        assert len(get(url + "/openapi.json").json()["paths"]) == 1
