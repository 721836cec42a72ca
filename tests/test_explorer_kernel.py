"""The explorer inside a real kernel, driven like JupyterLab drives widgets: over comm messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.kernel import Kernel
from tests.support.waiting import wait_for

APP = """
from fastapi import FastAPI
app = FastAPI()

@app.get("/items/{item_id}", tags=["items"])
def read_item(item_id: int, q: str | None = None):
    return {"item_id": item_id, "q": q}
"""
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def comm_msg(kernel: Kernel, comm_id: str, data: dict[str, Any]) -> None:
    """What the front end sends when the user edits or clicks a widget."""
    msg = kernel.client.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
    kernel.client.shell_channel.send(msg)


def eventually(kernel: Kernel, expression: str, expected: Any, timeout: float = 20) -> None:
    wait_for(
        lambda: kernel.value(expression) == expected, timeout, step=0.1, what=f"{expression} == {expected!r}"
    )


def test_explorer_in_a_kernel(kernel: Kernel) -> None:
    assert kernel.run("%load_ext kernel_ext").status == "ok"
    assert kernel.run(APP).status == "ok"
    shown = kernel.run("import kernel_ext\nex = kernel_ext.explore()\nex")
    assert shown.status == "ok", shown.traceback
    assert any(WIDGET_VIEW in o["content"].get("data", {}) for o in shown.outputs)

    reply = kernel.run(
        "ex.select('GET', '/items/{item_id}')\nex.set(item_id=3, q='k')\nprint(ex.send().json())"
    )
    assert reply.status == "ok", reply.traceback
    assert reply.stdout.strip() == "{'item_id': 3, 'q': 'k'}"

    # The user types 41 into item_id and clicks Send, in the browser.
    item_id = kernel.value("ex.form.find('item_id').typed.model_id")
    send = kernel.value("ex.send_button.model_id")
    comm_msg(kernel, item_id, {"method": "update", "state": {"value": 41}, "buffer_paths": []})
    comm_msg(kernel, send, {"method": "custom", "content": {"event": "click"}})
    eventually(kernel, "ex.response.json()", {"item_id": 41, "q": "k"})
    assert kernel.value("ex.output_text.startswith('HTTP 200 OK · ')") is True

    # A cell edits the route: the explorer refreshes and keeps what was typed.
    edit = kernel.run(
        "@app.get('/items/{item_id}', tags=['items'])\n"
        "def read_item(item_id: int, q: str | None = None, extra: int = 1):\n"
        "    return {'item_id': item_id, 'q': q, 'extra': extra}"
    )
    assert edit.status == "ok", edit.traceback
    assert kernel.value("ex.values") == {"item_id": 41, "q": "k", "extra": None}

    # Failures land in the explorer, not in the cell.
    # A handler slower than the explorer's timeout fails on any machine, however fast its loopback.
    slow = kernel.run("import time\n@app.get('/slow')\ndef slow():\n    time.sleep(3)\n    return {}")
    assert slow.status == "ok", slow.traceback
    failed = kernel.run(
        "ex.select('GET', '/slow')\nex.timeout = 0.3\nex.send_button.click()\nex.timeout = 10"
    )
    assert failed.status == "ok" and failed.error is None, failed.traceback
    assert kernel.value("ex.output_text.startswith('Error: ')") is True
    assert kernel.value("'timed out' in ex.output_text.lower()") is True

    # A user mistake is one line, not a traceback through the explorer.
    mistake = kernel.run("ex.select('GET', '/itemz/{item_id}')")
    assert mistake.status == "error"
    assert mistake.traceback == (
        "ExplorerError: No operation GET /itemz/{item_id}. Did you mean: GET /items/{item_id}?"
    )


ENDLESS = """
import asyncio
from fastapi.responses import StreamingResponse

@app.get("/events")
def events():
    async def forever():
        n = 0
        while True:
            yield f"data: {n}\\n\\n"
            n += 1
            await asyncio.sleep(0.2)
    return StreamingResponse(forever(), media_type="text/event-stream")
"""
CLICK = {"method": "custom", "content": {"event": "click"}}


def test_an_endless_stream_does_not_hold_the_kernel(kernel: Kernel) -> None:
    assert kernel.run("%load_ext kernel_ext").status == "ok"
    assert kernel.run(APP + ENDLESS).status == "ok"
    ready = kernel.run(
        "import kernel_ext\nex = kernel_ext.explore()\nex.select('GET', '/events')\nex.timeout = 2"
    )
    assert ready.status == "ok", ready.traceback
    send = kernel.value("ex.send_button.model_id")

    # The user clicks Send in the browser: the comm handler returns after about ex.timeout (the
    # next cell waits for it), cut short with what arrived.
    comm_msg(kernel, send, CLICK)
    assert kernel.value("ex.output_text.startswith('Still arriving after 2 s (ex.stream_timeout)')") is True
    assert kernel.value("ex.history[-1].cut_short") == "Still arriving after 2 s (ex.stream_timeout)"
    assert kernel.value("ex.response.text.startswith('data: 0')") is True

    # A longer read stops when the user interrupts the kernel; what arrived stays shown.
    assert kernel.run("ex.stream_timeout = 60").status == "ok"
    comm_msg(kernel, send, CLICK)
    # Interrupt once the explorer shows that it reads the stream, as a user would: a fixed
    # sleep here was sometimes too short on a loaded machine (the interrupt came first).
    kernel.wait_for_shown("Read for up to 60 s")
    kernel.wait_for_shown("data: 1")  # the second chunk shown: inside the reading loop
    kernel.manager.interrupt_kernel()
    eventually(kernel, "ex.output_text.startswith('Interrupted: stopped reading')", True, timeout=10)
    assert kernel.value("ex.response.text.startswith('data: 0')") is True


def test_an_interrupt_while_waiting_for_the_response_is_shown(kernel: Kernel, tmp_path: Path) -> None:
    marker = tmp_path / "request-arrived"
    assert kernel.run("%load_ext kernel_ext").status == "ok"
    slow = (
        f"import pathlib, time\n@app.get('/wait')\ndef wait():\n"
        f"    pathlib.Path({str(marker)!r}).touch()\n    time.sleep(10)\n    return {{}}"
    )
    assert kernel.run(APP + slow).status == "ok"
    ready = kernel.run(
        "import kernel_ext\nex = kernel_ext.explore()\nex.select('GET', '/wait')\nex.timeout = 60"
    )
    assert ready.status == "ok", ready.traceback
    comm_msg(kernel, kernel.value("ex.send_button.model_id"), CLICK)
    wait_for(marker.exists, timeout=60, what="the request reaching the endpoint")
    kernel.manager.interrupt_kernel()
    eventually(kernel, "'Interrupted while waiting for the response: GET' in ex.output_text", True)
    assert kernel.value("ex.history[-1].error").startswith("Interrupted while waiting for the response: GET")
