"""Helpers over tests.kernel.Kernel for the reliability suite: ports, load, pids, polling."""

from __future__ import annotations

import contextlib
import os
import queue
import time
from collections.abc import Callable, Iterator

import httpx

from tests.kernel import Kernel, Reply, free_port

APP = """\
from fastapi import FastAPI
from pydantic import BaseModel
app = FastAPI()

@app.get("/")
def root():
    return {"ok": True}
"""


def start_kernel(port: int | None = None, cwd: str | None = None) -> Kernel:
    """A fresh kernel whose server will listen on `port` (a free one by default)."""
    env = {**os.environ, "KERNEL_EXT_PORT": str(port if port is not None else free_port())}
    try:
        return _start(Kernel(env=env), cwd)
    except RuntimeError:
        # jupyter_client picks the kernel's zmq ports by bind-and-close; kernels starting at the
        # same moment on other workers can take one first ("Kernel died before replying").
        return _start(Kernel(env=env), cwd)


def _start(kernel: Kernel, cwd: str | None) -> Kernel:
    if cwd is None:
        return kernel.start()
    kernel.manager.start_kernel(env=kernel.env, cwd=cwd)
    kernel.client = kernel.manager.blocking_client()
    kernel.client.start_channels()
    kernel.client.wait_for_ready(timeout=60)
    return kernel


@contextlib.contextmanager
def kernel_with_app(app: str = APP, port: int | None = None) -> Iterator[tuple[Kernel, str]]:
    """A kernel with kernel_ext loaded and `app` defined; yields it with the server's URL."""
    kernel = start_kernel(port)
    try:
        ok(kernel, "%load_ext kernel_ext")
        ok(kernel, app)
        url = kernel.value("__import__('kernel_ext').base_url()")
        yield kernel, url
    finally:
        kernel.shutdown()


def ok(kernel: Kernel, code: str, timeout: float = 60) -> Reply:
    reply = kernel.run(code, timeout=timeout)
    assert reply.status == "ok", f"cell failed:\n{code}\n{reply.traceback}\n{reply.stderr}"
    return reply


def kernel_pid(kernel: Kernel) -> int:
    provisioner = kernel.manager.provisioner
    assert provisioner is not None
    return provisioner.process.pid  # type: ignore[attr-defined]


def drain(kernel: Kernel) -> None:
    """Drop messages left over from an interrupted cell."""
    for get in (kernel.client.get_iopub_msg, kernel.client.get_shell_msg):
        with contextlib.suppress(queue.Empty):
            while True:
                get(timeout=0.3)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.005) -> float:
    """Poll until true; returns the seconds it took. Raises TimeoutError as a hang detector."""
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"still false after {timeout} s")
        time.sleep(step)
    return time.perf_counter() - start


def get(url: str, timeout: float = 10.0) -> httpx.Response:
    return httpx.get(url, timeout=timeout)


def request_log(kernel: Kernel) -> str:
    return kernel.value("__import__('kernel_ext')._session.current_session().request_log.text()")
