"""A real JupyterLab server on a copy of notebooks/, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
TOKEN = "kernel-ext-e2e"
TOTAL_BUDGET = 290.0  # seconds for the server's start and all four steps
START_TIMEOUT = 150.0  # importing jupyter_server on a loaded 2-core box can take most of a minute
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Plugins that reach the internet (news, PyPI) or run node (the build check) are of no use here.
PAGE_CONFIG = {
    "disabledExtensions": {
        "@jupyterlab/apputils-extension:announcements": True,
        "@jupyterlab/extensionmanager-extension": True,
    },
    "buildCheck": False,
    "buildAvailable": False,
}


class Budget:
    """One deadline for the whole test: each wait gets its own cap, or what is left if that is less."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def seconds(self, cap: float) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"the browser test ran over its {TOTAL_BUDGET:.0f} s budget", pytrace=False)
        return min(cap, left)

    def ms(self, cap_ms: float) -> float:
        return self.seconds(cap_ms / 1000) * 1000


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    log: Path

    def tree(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def unavailable(reason: str) -> None:
    """Skip on a developer's machine; under CI a skipped browser test would hide a broken setup."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but the browser test cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def need_chromium() -> None:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} not found: install it with `apt-get install -y chromium` (.ci/run does)")


@pytest.fixture
def budget() -> Budget:
    return Budget(TOTAL_BUDGET)


@pytest.fixture
def lab(tmp_path: Path, budget: Budget) -> Iterator[Lab]:
    need_chromium()
    root = tmp_path / "notebooks"
    # A copy: running the notebooks in the browser saves them, and the repo's copies must not change.
    shutil.copytree(
        REPO / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.db", ".env")
    )
    home = tmp_path / "jupyter"
    (home / "config" / "labconfig").mkdir(parents=True)
    (home / "config" / "labconfig" / "page_config.json").write_text(json.dumps(PAGE_CONFIG))
    env = _lab_env(home)
    last = ""
    for _attempt in range(3):  # the free port can be taken between finding it and binding it
        port = free_port()
        log = tmp_path / f"lab-{port}.log"
        proc = _start_lab(port, root, env, log)
        url = f"http://127.0.0.1:{port}"
        if _wait_up(proc, url, budget.seconds(START_TIMEOUT)):
            try:
                yield Lab(url, TOKEN, root, log)
            finally:
                _stop(proc)
            return
        _stop(proc)
        last = log.read_text(errors="replace")[-3000:]
        if "already in use" not in last:
            break
    pytest.fail(f"JupyterLab did not start; its log ends:\n{last}", pytrace=False)


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    need_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    profile = tmp_path / "chromium-profile"  # empty: no extensions, history or cached JupyterLab state
    profile.mkdir()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            accept_downloads=False,
            timeout=60_000,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            context.set_default_timeout(60_000)
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):  # a picture from an earlier run must not pass for this one's
        old.unlink()
    return SCREENSHOTS


def _lab_env(home: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # Both notebooks' kernels start from this environment: one fixed port would clash.
        if key not in ("KERNEL_EXT_PORT", "KERNEL_EXT_PROXY")
    }
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),  # the kernel spec and lab extensions come from the venv
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
        PYTHONUNBUFFERED="1",
    )
    return env


def _start_lab(port: int, root: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    jupyter = Path(sys.executable).parent / "jupyter"
    args = [
        str(jupyter),
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_root=True",  # CI runs as root
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        # window.jupyterapp: lets the test read cell outputs from the notebook model.
        "--LabApp.expose_app_in_browser=True",
    ]
    with log.open("wb") as out:
        # Its own process group, so the kernels it started can be ended with it if it hangs.
        return subprocess.Popen(
            args, env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_up(proc: subprocess.Popen[bytes], url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            response = httpx.get(f"{url}/api/status", headers={"Authorization": f"token {TOKEN}"}, timeout=5)
            if response.status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(45)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # anything of its group still there (a stuck kernel)
    proc.wait(10)
