"""The extension's lifecycle in a real kernel over jupyter_client."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.support.kernel import Kernel
from tests.support.ports import free_port, port_is_free
from tests.support.waiting import wait_for

LOAD = "%load_ext kernel_ext\nimport kernel_ext"


def url_of(kernel: Kernel) -> str:
    return kernel.value("kernel_ext.base_url()")


def test_load_shows_a_status_card_and_serves_sync_calls_from_cells(kernel: Kernel) -> None:
    reply = kernel.run(LOAD)
    assert reply.status == "ok", reply.traceback
    url = url_of(kernel)
    assert url.startswith("http://127.0.0.1:")
    assert url in reply.html and url + "/docs" in reply.html and "routes" in reply.html
    app = "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/items/{i}')\ndef item(i: int): return {'i': i}"
    assert kernel.run(app).status == "ok"
    probe = kernel.run("import httpx\nr = httpx.get(kernel_ext.base_url() + '/items/1')\nprint(r.json())")
    assert probe.stdout.strip() == "{'i': 1}"


def test_server_answers_while_a_cell_sleeps_or_loops(kernel: Kernel) -> None:
    kernel.run(LOAD + "\nfrom fastapi import FastAPI\napp = FastAPI()\n@app.get('/')\ndef r(): return 1")
    url = url_of(kernel)
    for busy in ("import time; time.sleep(3)", "x = 0\nfor i in range(30_000_000): x += i"):
        msg_id = kernel.send(busy)
        kernel.wait_started(msg_id)
        assert httpx.get(url + "/", timeout=5).json() == 1
        assert kernel.wait(msg_id).status == "ok"


def test_load_twice_is_harmless_and_reload_keeps_the_port(kernel: Kernel) -> None:
    kernel.run(LOAD + "\nfrom fastapi import FastAPI\napp = FastAPI()\n@app.get('/')\ndef r(): return 1")
    url = url_of(kernel)
    again = kernel.run("%load_ext kernel_ext")
    assert again.status == "ok" and not again.error
    assert url_of(kernel) == url
    reloaded = kernel.run("%reload_ext kernel_ext")
    assert reloaded.status == "ok", reloaded.traceback
    assert url_of(kernel) == url
    assert httpx.get(url + "/").json() == 1


def test_unload_stops_the_server_and_frees_the_port(kernel: Kernel) -> None:
    kernel.run(LOAD)
    url = url_of(kernel)
    port = int(url.rsplit(":", 1)[1])
    assert not port_is_free(port)
    assert kernel.run("%unload_ext kernel_ext").status == "ok"
    assert port_is_free(port)
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


def test_kernel_shutdown_ends_the_process_by_itself_and_frees_the_port() -> None:
    kernel = Kernel().start()
    try:
        kernel.run(LOAD)
        port = int(url_of(kernel).rsplit(":", 1)[1])
        kernel.client.shutdown()  # what JupyterLab sends; nothing here kills the process after it
        # A server thread that is not a daemon would keep the interpreter from exiting.
        wait_for(lambda: not kernel.manager.is_alive(), 30, step=0.01, what="the kernel to exit")
        assert port_is_free(port)
    finally:
        kernel.manager.shutdown_kernel(now=True)


def test_kernel_restart_frees_the_port_and_leaves_no_thread(kernel: Kernel) -> None:
    kernel.run(LOAD)
    port = int(url_of(kernel).rsplit(":", 1)[1])
    kernel.manager.restart_kernel(now=False)
    kernel.client.wait_for_ready(timeout=60)
    assert port_is_free(port)
    threads = kernel.value("[t.name for t in __import__('threading').enumerate()]")
    assert not any("kernel_ext" in name for name in threads)
    kernel.run(LOAD)
    assert url_of(kernel).endswith(f":{port}") or port_is_free(port)


def test_taken_port_gives_one_line_and_the_kernel_lives() -> None:
    port = free_port()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    kernel = Kernel(env={"KERNEL_EXT_PORT": str(port)}).start()
    try:
        reply = kernel.run(LOAD)
        assert reply.status == "ok" and reply.error is None
        lines = [line for line in reply.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, reply.stderr
        assert str(port) in lines[0] and "already in use" in lines[0] and "--port" in lines[0]
        assert kernel.value("1 + 1") == 2
        other = free_port()
        started = kernel.run(f"%api start --port {other}")
        assert started.status == "ok", started.traceback
        assert url_of(kernel).endswith(f":{other}")
        failed = kernel.run(f"%api restart\n%api stop\n%api start --port {port}")
        assert failed.status == "error"
        assert "already in use" in failed.traceback and "kernel_ext/" not in failed.traceback
    finally:
        kernel.shutdown()
        blocker.close()


def test_port_comes_from_the_environment() -> None:
    port = free_port()
    kernel = Kernel(env={"KERNEL_EXT_PORT": str(port)}).start()
    try:
        kernel.run(LOAD)
        assert url_of(kernel) == f"http://127.0.0.1:{port}"
    finally:
        kernel.shutdown()


def test_nest_asyncio_applied_first_still_works(kernel: Kernel) -> None:
    reply = kernel.run("import nest_asyncio\nnest_asyncio.apply()\n" + LOAD)
    assert reply.status == "ok", reply.traceback
    kernel.run("from fastapi import FastAPI\napp = FastAPI()\n@app.get('/')\nasync def r(): return 'ok'")
    probe = kernel.run("import httpx\nprint(httpx.get(kernel_ext.base_url()).json())")
    assert probe.stdout.strip() == "ok"


def test_request_output_goes_to_the_request_log_not_the_running_cell(kernel: Kernel) -> None:
    kernel.run(LOAD)
    app = (
        "import logging\nfrom fastapi import FastAPI\napp = FastAPI()\n"
        "log = logging.getLogger('shop')\nlog.setLevel(logging.INFO)\n"
        "@app.get('/p')\ndef p():\n    print('printed-in-endpoint')\n    log.info('logged-in-endpoint')\n    return 1\n"
        "@app.get('/boom')\ndef boom():\n    raise ZeroDivisionError('kaboom')"
    )
    kernel.run(app)
    url = url_of(kernel)
    msg_id = kernel.send("import time; time.sleep(1.5); print('cell output')")
    kernel.wait_started(msg_id)
    assert httpx.get(url + "/p").json() == 1
    assert httpx.get(url + "/boom").status_code == 500
    busy = kernel.wait(msg_id)
    assert busy.stdout == "cell output\n" and busy.stderr == ""
    log = "\n".join(kernel.value("kernel_ext._api.session().request_log.lines()"))
    assert "printed-in-endpoint" in log and "logged-in-endpoint" in log
    assert '"GET /p HTTP/1.1" 200' in log
    assert "ZeroDivisionError: kaboom" in log
    assert "cell output" not in log


def test_jupyterlab_cell_id_tracks_an_edited_decorator(kernel: Kernel) -> None:
    kernel.run(LOAD + "\nfrom fastapi import FastAPI\napp = FastAPI()")
    kernel.run("@app.get('/a')\ndef first(): return 'a'", cell_id="cell-7")
    kernel.run("@app.get('/b')\ndef second(): return 'b'", cell_id="cell-7")
    url = url_of(kernel)
    assert httpx.get(url + "/a").status_code == 404
    assert httpx.get(url + "/b").json() == "b"


def test_binding_all_interfaces_is_explicit_and_warned(kernel: Kernel) -> None:
    kernel.run(LOAD)
    reply = kernel.run("%api stop\n%api start --host 0.0.0.0")
    assert reply.status == "ok", reply.traceback
    assert "0.0.0.0" in reply.stderr and "every machine" in reply.stderr


def test_reference_logging_snippet_and_print_lines_reach_the_request_log(kernel: Kernel) -> None:
    kernel.run(LOAD)
    kernel.run(
        "import logging\nlogging.basicConfig(level=logging.INFO)\nlogger = logging.getLogger(__name__)\n"
        "from fastapi import FastAPI\napp = FastAPI()\n"
        "@app.get('/items/{item_id}')\ndef read_item(item_id: int):\n"
        "    logger.info(f'Reading item {item_id}')\n    print('printed', item_id)\n    return {'item_id': item_id}"
    )
    reply = kernel.run("import httpx\nprint(httpx.get(kernel_ext.base_url() + '/items/3').json())")
    assert reply.stdout.strip() == "{'item_id': 3}" and "Reading" not in reply.stderr
    lines = kernel.value("kernel_ext._api.session().request_log.lines()")
    assert any("Reading item 3" in line for line in lines)
    assert "printed 3" in lines
