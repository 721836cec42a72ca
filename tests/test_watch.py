"""`%api watch`: a saved module reloads while the kernel is idle, never during a cell (a real kernel)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.kernel import Kernel
from tests.support.shop import APP, Package
from tests.support.waiting import wait_for

NEW_ROUTE = (
    '@router.get("/me")',
    '@router.get("/new")\ndef new() -> str:\n    return "new"\n\n\n@router.get("/me")',
)


def status(url: str) -> int:
    return httpx.get(url, timeout=10).status_code


def test_watch_waits_for_a_running_cell_then_reloads_while_idle(kernel: Kernel, tmp_path: Path) -> None:
    shop = Package(tmp_path)
    ready = tmp_path / "cell-running"
    setup = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); sys.dont_write_bytecode = True"
    for code in (setup, "%load_ext kernel_ext", APP, f"%api watch {tmp_path}"):
        reply = kernel.run(code)
        assert reply.status == "ok", reply.traceback
    assert "watching" in reply.stdout
    base = kernel.value("__import__('kernel_ext').base_url()")
    card = kernel.run("import kernel_ext\nprint(repr(kernel_ext.status()))").stdout
    assert f"watching: {tmp_path.resolve()}" in card
    # A cell runs while the file is saved: the watcher sees it, the reload waits for the cell.
    running = kernel.send(
        "import time, httpx, kernel_ext\n"
        "w = kernel_ext._api.session().watch\n"
        f"open({str(ready)!r}, 'w').close()\n"
        "while w.seen == 0:\n    time.sleep(0.01)\n"
        "time.sleep(0.2)  # room for a reload that must not happen\n"
        "during = httpx.get(kernel_ext.base_url() + '/api/items/new').status_code\n"
    )
    wait_for(ready.exists, 20, what="the cell to start")
    shop.edit(*NEW_ROUTE)
    assert kernel.wait(running).status == "ok"
    assert kernel.value("during") == 404
    # Idle now: no cell runs, and the saved file serves.
    wait_for(lambda: status(base + "/api/items/new") == 200, 20, what="the saved route to serve")
    assert status(base + "/api/items/list") == 200

    # A syntax error: reported in the request log and the status card; the last version serves.
    shop.edit('@router.get("/new")', '@router.get("/newer"')
    wait_for(
        lambda: "syntax error" in (kernel.value("kernel_ext._api.session().last_error") or ""),
        20,
        what="the error",
    )
    assert status(base + "/api/items/new") == 200
    assert "syntax error" in kernel.value("'\\n'.join(kernel_ext._api.session().request_log.lines())")
    assert "syntax error" in kernel.run("%api status").html
    shop.edit('@router.get("/newer"', '@router.get("/newer")')
    wait_for(lambda: status(base + "/api/items/newer") == 200, 20, what="the fixed route to serve")
    assert kernel.value("kernel_ext._api.session().last_error") is None

    reply = kernel.run("%api watch off")
    assert "not watching" in reply.stdout
    assert kernel.value("kernel_ext._api.session().watch") is None
