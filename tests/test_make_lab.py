"""`make lab` starts JupyterLab on the quickstart, as root too (containers, CI), and stops cleanly."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 150.0  # importing jupyter_server on a loaded 2-core box can take most of a minute
ROOT_NOTICE = "running as root, so JupyterLab starts with --allow-root"


@dataclass
class MakeLab:
    process: subprocess.Popen[bytes]
    url: str
    token: str
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _env(home: Path, path_prefix: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KERNEL_EXT_", "MAKE", "MFLAGS"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
        PYTHONUNBUFFERED="1",
    )
    if path_prefix is not None:
        env["PATH"] = f"{path_prefix}{os.pathsep}{env['PATH']}"
    return env


def start_make_lab(home: Path, path_prefix: Path | None = None) -> MakeLab:
    """`make lab` as the README says, with a port, a token and no browser for the test."""
    port, token = free_port(), secrets.token_hex(16)
    lab_args = (
        f"--no-browser --ServerApp.port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"
    )
    log = home / "make-lab.log"
    home.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        # Its own process group: stopping it stops make, JupyterLab and any kernel it started.
        process = subprocess.Popen(
            ["make", "--no-print-directory", "lab", f"LAB_ARGS={lab_args}"],
            cwd=REPO,
            env=_env(home, path_prefix),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return MakeLab(process, f"http://127.0.0.1:{port}", token, log)


def stop(lab: MakeLab) -> int | None:
    """SIGTERM to the group (what Ctrl-C twice does to JupyterLab); its exit code."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(lab.process.pid, signal.SIGTERM)
    try:
        return lab.process.wait(45)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(lab.process.pid, signal.SIGKILL)
        lab.process.wait(10)
        return None


def wait_for_lab(lab: MakeLab) -> httpx.Response | None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and lab.process.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(f"{lab.url}/lab?token={lab.token}", timeout=5)
            if response.status_code == 200:
                return response
        time.sleep(0.5)
    return None


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator[MakeLab]:
    lab = start_make_lab(tmp_path / "home")
    try:
        yield lab
    finally:
        stop(lab)


def test_make_lab_serves_jupyterlab_on_the_quickstart(make_lab: MakeLab) -> None:
    page = wait_for_lab(make_lab)
    assert page is not None, make_lab.output
    assert "JupyterLab" in page.text
    assert f"Serving notebooks from local directory: {REPO / 'notebooks'}" in make_lab.output
    contents = httpx.get(
        f"{make_lab.url}/api/contents/00_quickstart.ipynb?content=0",
        headers={"Authorization": f"token {make_lab.token}"},
        timeout=10,
    )
    assert contents.status_code == 200  # it serves notebooks/
    assert "127.0.0.1" in make_lab.output and "0.0.0.0" not in make_lab.output
    # As root it passes --allow-root and says so; as anyone else it does neither.
    assert (ROOT_NOTICE in make_lab.output) == (os.geteuid() == 0)
    stop(make_lab)
    assert make_lab.process.poll() is not None
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{make_lab.url}/lab", timeout=5)


@pytest.mark.skipif(os.geteuid() != 0, reason="shows what root without --allow-root does")
def test_as_root_without_allow_root_jupyterlab_refuses(tmp_path: Path) -> None:
    """The control: hide root from the Makefile (an `id` that says 1000), and JupyterLab stops."""
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "id").write_text("#!/bin/sh\necho 1000\n")
    (shim / "id").chmod(0o755)
    lab = start_make_lab(tmp_path / "home", path_prefix=shim)
    try:
        lab.process.wait(START_TIMEOUT)
    finally:
        stop(lab)
    assert lab.process.returncode != 0
    assert "--allow-root" in lab.output and ROOT_NOTICE not in lab.output
