"""A real jupyter-server (with jupyter-server-proxy) in a subprocess, and kernels it starts."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.ports import free_port
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
# Extensions the tests do not need; they make the server start several seconds slower.
UNUSED_EXTENSIONS = ("jupyterlab", "jupyter_lsp", "notebook_shim", "jupyter_server_terminals")


@dataclass
class Jupyter:
    url: str  # http://127.0.0.1:<port>/
    token: str
    runtime_dir: Path
    process: subprocess.Popen

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path.lstrip("/"), headers=self.auth, timeout=30, **kwargs)

    def answers(self) -> bool:
        if self.process.poll() is not None:
            log = (self.runtime_dir.parent / "jupyter.log").read_text()
            pytest.fail(f"jupyter server exited:\n{log}")
        try:
            return self.get("api/status").status_code == 200
        except httpx.TransportError:
            return False


def start_jupyter(tmp: Path, extensions: dict[str, bool]) -> Jupyter:
    config_dir = tmp / "config"
    config_dir.mkdir(parents=True)
    config = {"ServerApp": {"jpserver_extensions": extensions}}
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(config))
    token, port = secrets.token_hex(16), free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "IPYTHONDIR": str(tmp / "ipython"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    env.pop("KERNEL_EXT_PROXY", None)
    command = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={tmp}",
        "--allow-root",
    ]
    log = (tmp / "jupyter.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    jupyter = Jupyter(f"http://127.0.0.1:{port}/", token, tmp / "runtime", process)
    try:
        wait_for(jupyter.answers, 120, step=0.2, what="the jupyter server to answer")
    except TimeoutError:
        process.terminate()
        pytest.fail(f"jupyter server did not start:\n{(tmp / 'jupyter.log').read_text()}")
    return jupyter


def stop_jupyter(jupyter: Jupyter) -> None:
    jupyter.process.terminate()
    try:
        jupyter.process.wait(15)
    except subprocess.TimeoutExpired:
        jupyter.process.kill()
        jupyter.process.wait()


@contextmanager
def server_kernel(jupyter: Jupyter, notebook: str) -> Iterator[Any]:
    """A kernel the Jupyter server starts for a notebook session, and a blocking client for it."""
    from jupyter_client import BlockingKernelClient

    created = httpx.post(
        jupyter.url + "api/sessions",
        headers=jupyter.auth,
        json={"path": notebook, "type": "notebook", "kernel": {"name": "python3"}},
        timeout=60,
    )
    assert created.status_code == 201, created.text
    session = created.json()
    client = BlockingKernelClient(
        connection_file=str(jupyter.runtime_dir / f"kernel-{session['kernel']['id']}.json")
    )
    client.load_connection_file()
    # No heartbeat: on a loaded machine a late beat makes wait_for_ready call the kernel dead.
    client.start_channels(hb=False)
    try:
        client.wait_for_ready(timeout=120)
        yield client
    finally:
        client.stop_channels()
        httpx.delete(jupyter.url + f"api/sessions/{session['id']}", headers=jupyter.auth, timeout=30)


def run_in(client: Any, code: str) -> str:
    """Run `code` in the kernel; its stdout, or the error."""
    out: list[str] = []

    def hook(message: dict) -> None:
        if message["msg_type"] == "stream":
            out.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            out.append("\n".join(message["content"]["traceback"]))

    reply = client.execute_interactive(code, timeout=120, output_hook=hook)
    assert reply["content"]["status"] == "ok", "".join(out)
    return "".join(out)


def openapi_url_in(docs_page: str) -> str:
    """The schema URL a Swagger UI page asks for."""
    match = re.search(r"url: '([^']+)'", docs_page)
    assert match, docs_page
    return match.group(1)
