"""A real IPython kernel driven over jupyter_client, for tests that need the whole stack, and
helpers to start one with kernel_ext loaded and an app defined."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from jupyter_client.manager import KernelManager

from tests.support.ports import free_port

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Reply:
    status: str
    stdout: str = ""
    stderr: str = ""
    error: dict[str, Any] | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def traceback(self) -> str:
        return ANSI.sub("", "\n".join(self.error["traceback"])) if self.error else ""

    @property
    def html(self) -> str:
        return "".join(
            o["content"].get("data", {}).get("text/html", "")
            for o in self.outputs
            if o["msg_type"] in ("display_data", "execute_result")
        )

    @property
    def text(self) -> str:
        return "".join(
            o["content"].get("data", {}).get("text/plain", "")
            for o in self.outputs
            if o["msg_type"] in ("display_data", "execute_result")
        )


class Kernel:
    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.manager = KernelManager(kernel_name="python3")
        # Each test kernel's server takes a port the OS picks when it binds (KERNEL_EXT_PORT=0):
        # kernels of parallel tests would otherwise all scan from 8000, and a port picked free
        # in advance may be taken by another test before the kernel binds it.
        self.env = {**os.environ, "KERNEL_EXT_PORT": "0", **(env or {})}

    def start(self, attempts: int = 3, cwd: str | None = None) -> Kernel:
        # jupyter_client picks the kernel's zmq ports by bind-and-close; kernels starting at
        # once under xdist sometimes collide, and the kernel dies. Try again with new ports.
        for attempt in range(attempts):
            try:
                return self._start(cwd)
            except RuntimeError:
                if self.manager.has_kernel:
                    self.manager.shutdown_kernel(now=True)
                self.manager = KernelManager(kernel_name="python3")
                if attempt == attempts - 1:
                    raise
        return self

    def _start(self, cwd: str | None) -> Kernel:
        self.manager.start_kernel(env=self.env, **({"cwd": cwd} if cwd is not None else {}))
        self.client = self.manager.blocking_client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        return self

    def run(
        self,
        code: str,
        *,
        cell_id: str | None = None,
        deleted: list[str] | None = None,
        timeout: float = 60,
    ) -> Reply:
        """Execute like a notebook frontend; JupyterLab sends the cell id in the metadata, and
        the ids of cells deleted since the last execution (`deleted`)."""
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        metadata: dict[str, Any] = {"cellId": cell_id} if cell_id else {}
        if deleted is not None:
            metadata["deletedCells"] = deleted
        msg = self.client.session.msg("execute_request", content, metadata=metadata)
        self.client.shell_channel.send(msg)
        return self._collect(msg["header"]["msg_id"], timeout)

    def send(self, code: str, *, cell_id: str | None = None) -> str:
        """Start executing without waiting; returns the message id for `wait`."""
        metadata = {"cellId": cell_id} if cell_id else {}
        content = {"code": code, "silent": False, "store_history": True, "allow_stdin": False}
        msg = self.client.session.msg("execute_request", content, metadata=metadata)
        self.client.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def wait(self, msg_id: str, timeout: float = 60) -> Reply:
        return self._collect(msg_id, timeout)

    def wait_started(self, msg_id: str, timeout: float = 60) -> None:
        """Read iopub until the cell `msg_id` (from `send`) is executing; `wait` still collects
        its output and reply afterwards."""
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"the cell did not start within {timeout} s") from None
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
                return

    def _collect(self, msg_id: str, timeout: float) -> Reply:
        reply = Reply(status="unknown")
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"no idle after {timeout} s") from None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            content = msg["content"]
            if kind == "status" and content["execution_state"] == "idle":
                break
            if kind == "stream":
                if content["name"] == "stdout":
                    reply.stdout += content["text"]
                else:
                    reply.stderr += content["text"]
            elif kind == "error":
                reply.error = content
            elif kind in ("display_data", "execute_result", "update_display_data"):
                reply.outputs.append(msg)
        shell_reply = self.client.get_shell_msg(timeout=timeout)
        while shell_reply["parent_header"].get("msg_id") != msg_id:
            shell_reply = self.client.get_shell_msg(timeout=timeout)
        reply.status = shell_reply["content"]["status"]
        return reply

    def value(self, expression: str) -> Any:
        """Evaluate an expression in the kernel and return its Python value (via repr)."""
        import ast

        reply = self.run(f"print(repr({expression}))")
        assert reply.status == "ok", reply.traceback
        return ast.literal_eval(reply.stdout.strip())

    def shutdown(self) -> None:
        try:
            self.client.stop_channels()
        finally:
            if self.manager.is_alive():
                self.manager.shutdown_kernel(now=False)

    @property
    def pid(self) -> int:
        provisioner = self.manager.provisioner
        assert provisioner is not None
        return provisioner.process.pid  # type: ignore[attr-defined]

    def drain(self) -> None:
        """Drop messages left over from an interrupted cell."""
        for get in (self.client.get_iopub_msg, self.client.get_shell_msg):
            with contextlib.suppress(queue.Empty):
                while True:
                    get(timeout=0.3)

    def wait_for_shown(self, text: str, timeout: float = 60) -> None:
        """Read iopub until any message shows `text`: a widget's state update (a comm message
        from a click's handler) as well as a cell's output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.client.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            if text in json.dumps(msg["content"]):
                return
        raise TimeoutError(f"nothing showed {text!r} within {timeout} s")

    def wait_for_output(self, msg_id: str, text: str, timeout: float = 60) -> None:
        """Read iopub until the cell `msg_id` displays `text` (markdown or plain), while it runs."""
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"no output with {text!r} after {timeout} s") from None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            data = msg["content"].get("data", {})
            if text in data.get("text/markdown", "") + data.get("text/plain", ""):
                return


# A small app for tests that need a route to hit.
APP = """\
from fastapi import FastAPI
from pydantic import BaseModel
app = FastAPI()

@app.get("/")
def root():
    return {"ok": True}
"""


def start_kernel(port: int | None = None, cwd: str | None = None) -> Kernel:
    """A fresh kernel whose server will listen on `port` (one free now by default: tests that
    must know the port before the server binds it; else Kernel() lets the OS pick at bind)."""
    env = {"KERNEL_EXT_PORT": str(port if port is not None else free_port())}
    return Kernel(env=env).start(cwd=cwd)


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
    """Run a cell that must succeed."""
    reply = kernel.run(code, timeout=timeout)
    assert reply.status == "ok", f"cell failed:\n{code}\n{reply.traceback}\n{reply.stderr}"
    return reply


def get(url: str, timeout: float = 10.0) -> httpx.Response:
    return httpx.get(url, timeout=timeout)


def request_log(kernel: Kernel) -> str:
    return kernel.value("__import__('kernel_ext')._session.current_session().request_log.text()")
