"""schemathesis against the OpenAPI of every notebook app, served in-kernel.

Notebooks are discovered when the tests are collected. Each runs top to bottom in a fresh kernel
(in a copy of notebooks/, so files it writes stay out of the repo), except its trailing clean-up
cells (closing clients, dropping tables; or any cell tagged `teardown`), then schemathesis
generates inputs for every operation of the app it serves: no route may answer 500.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from schemathesis.cli import schemathesis as schemathesis_cli

from tests.support.kernel import start_kernel
from tests.support.notebooks import NOTEBOOKS, serving_cells

MAX_EXAMPLES = int(os.environ.get("KERNEL_EXT_FUZZ_EXAMPLES", "8"))  # per operation; raise for a deep run
TIME_LIMIT = 240  # seconds for one notebook's fuzz run: a hang detector, not a budget

# Operations whose point is to answer 500 (a notebook demonstrating unhandled errors):
# {notebook: {"GET /path", ...}}, each with its reason in a comment.
EXPECTED_500: dict[str, set[str]] = {
    # Shows that a response failing its response_model is a 500 with the traceback in the log.
    "13_response_models.ipynb": {"GET /items/broken"},
    # The explorer's demo of how a failing endpoint looks.
    "01_explorer.ipynb": {"GET /boom"},
}
# Paths left out of fuzzing because generated input makes them run for minutes (not a failure).
UNBOUNDED: dict[str, set[str]] = {
    # `/countdown?n=` streams a line per 0.2 s for any n; `/slow?seconds=` sleeps that long.
    "01_explorer.ipynb": {"/countdown", "/slow"},
}


def notebook_ids() -> list[str]:
    return sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize("name", notebook_ids())
def test_no_500_on_generated_input(name: str, tmp_path: Path) -> None:
    workdir = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, workdir, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    kernel = start_kernel(cwd=str(workdir))
    try:
        for source, may_raise in serving_cells(workdir / name):
            reply = kernel.run(source, timeout=120)
            if reply.status != "ok" and not may_raise:
                pytest.skip(f"{name} does not run here ({reply.traceback.splitlines()[-1:]})")
        url = kernel.value("__import__('kernel_ext').base_url()")
        if not httpx.get(url + "/openapi.json", timeout=30).json().get("paths"):
            pytest.skip(f"{name} serves no HTTP operation to fuzz")
        failures = fuzz(url, UNBOUNDED.get(name, set()))
    finally:
        kernel.shutdown()
    unexpected = {op: text for op, text in failures.items() if op not in EXPECTED_500.get(name, set())}
    assert not unexpected, "\n\n".join(f"{op}:\n{text}" for op, text in unexpected.items())


def fuzz(url: str, skip_paths: set[str]) -> dict[str, str]:
    """Run schemathesis's own command line in this process; return {"METHOD /path": failure
    text} for each failing operation. In-process, not a subprocess: a worker imports and warms
    schemathesis and hypothesis once (2 s of CPU per notebook as a subprocess, 0.1-0.7 s here)."""
    arguments = [
        "run",
        f"{url}/openapi.json",
        "--checks=not_a_server_error",
        f"--max-examples={MAX_EXAMPLES}",
        "--phases=examples,fuzzing",
        "--workers=1",
        "--request-timeout=20",
        "--generation-database=none",
        "--seed=1",
        "--suppress-health-check=all",  # slow generation on a busy machine is not the API's fault
        "--no-color",
        *(f"--exclude-path={path}" for path in sorted(skip_paths)),
    ]
    # In a thread, as a hang detector: should the run outlast TIME_LIMIT, the test fails.
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        result = pool.submit(CliRunner().invoke, schemathesis_cli, arguments).result(timeout=TIME_LIMIT)
    finally:
        pool.shutdown(wait=False)
    if result.exit_code == 0:
        return {}
    problem = (
        repr(result.exception) if result.exception and not isinstance(result.exception, SystemExit) else ""
    )
    return _failing_operations(result.output) or {"(schemathesis)": result.output[-4000:] + problem}


def _failing_operations(output: str) -> dict[str, str]:
    """Split schemathesis's FAILURES section into one entry per operation."""
    failures: dict[str, str] = {}
    current: str | None = None
    for line in output.splitlines():
        if line.startswith("_") and line.strip("_ ").split(" ")[0] in _METHODS:
            current = line.strip("_ ")
            failures[current] = ""
        elif current is not None:
            if line.startswith("=") and "SUMMARY" in line:
                break
            failures[current] += line + "\n"
    return failures


_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"}
