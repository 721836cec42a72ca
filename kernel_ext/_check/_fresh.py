"""Start the fresh run in its own process, in a copy of the working directory, and read it.

The copy keeps files the cells write (a database, a module) away from the live ones. Ctrl-C (the
kernel's interrupt) kills the process group at once and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .._extension import NO_SERVER_ENV
from ._cells import FreshCell

Progress = Callable[[int, int, str], None]
# Not copied: version control, environments, caches; and files too large to copy quickly.
_IGNORED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".ipynb_checkpoints",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".cache",
    }
)
MAX_FILE_BYTES = 50_000_000


class FreshRunError(RuntimeError):
    """The fresh run's process failed (not a cell: those are notes)."""


def copy_workdir(source: Path, target: Path) -> list[str]:
    """Copy `source` into `target`; returns what was left out, for the notes."""
    left_out: list[str] = []

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = set()
        for name in names:
            path = os.path.join(directory, name)
            if name in _IGNORED_DIRS and os.path.isdir(path):
                skipped.add(name)
            elif os.path.isfile(path) and os.path.getsize(path) > MAX_FILE_BYTES:
                skipped.add(name)
                left_out.append(os.path.relpath(path, source))
        return skipped

    try:
        shutil.copytree(source, target, ignore=ignore, symlinks=True, dirs_exist_ok=True)
    except shutil.Error as exc:  # files removed or unreadable while copying: the rest is there
        left_out += [str(error[0]) for error in exc.args[0]]
    return left_out


def run_fresh(
    cells: list[FreshCell],
    app_name: str,
    workdir: Path,
    progress: Progress | None = None,
    requests: list[dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The fresh run's result (see _runner.run) and the files it could not copy."""
    with tempfile.TemporaryDirectory(prefix="kernel_ext_check_") as temp:
        work = Path(temp) / (workdir.name or "work")
        left_out = copy_workdir(workdir, work)
        request = {"cells": [asdict(c) for c in cells], "app_name": app_name, "requests": requests}
        return _run(request, work, progress), left_out


def runner_env() -> dict[str, str]:
    return {**os.environ, NO_SERVER_ENV: "1", "PYTHONUNBUFFERED": "1"}


def _run(request: dict[str, Any], work: Path, progress: Progress | None) -> dict[str, Any]:
    stderr_path = work.parent / "runner.stderr"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "kernel_ext._check._runner"],
            cwd=work,
            env=runner_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,  # its own process group: a kill takes the cells' children too
        )
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.close()
            return read_answer(process.stdout, progress, lambda: _stderr_tail(stderr_path))
        finally:
            kill(process)


def read_answer(stream: Any, progress: Progress | None, why: Callable[[], str]) -> dict[str, Any]:
    for line in stream:
        message = json.loads(line)
        if "progress" in message:
            if progress is not None:
                progress(message["progress"], message["of"], message["label"])
        elif "result" in message:
            return message["result"]
        elif "error" in message:
            raise FreshRunError(f"the fresh run failed: {message['error']}")
    raise FreshRunError(f"the fresh run's process ended without an answer. {why()}".strip())


def kill(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    if process.stdout is not None:
        process.stdout.close()


def _stderr_tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""
