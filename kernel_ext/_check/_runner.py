"""The fresh run, inside its own process: `python -m kernel_ext._check._runner`.

Reads one request (JSON, one line) on stdin: the cells, the app's name, optional requests to
send. Writes JSON lines on its stdout: `{"progress": i, ...}` before each cell, then
`{"result": ...}`. The cells' own output goes to `cells.log` in the working directory, never into
the protocol. `--serve` keeps the imports warm and forks a child per request (the test
harness's fast path): each child starts from the same clean shell.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import IO, Any

from .._extension import NO_SERVER_ENV

LOG_NAME = "cells.log"


def main(argv: list[str]) -> int:
    os.environ[NO_SERVER_ENV] = "1"
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    _quiet(os.path.join(os.getcwd(), LOG_NAME))
    shell = _shell()
    if "--serve" not in argv:
        _answer(shell, json.loads(sys.stdin.readline()), protocol)
        return 0
    for line in sys.stdin:  # one request per line; the parent stays clean
        if not line.strip():
            continue
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                request = json.loads(line)
                os.chdir(request["cwd"])
                sys.path[0] = request["cwd"]
                _quiet(os.path.join(request["cwd"], LOG_NAME))
                _answer(shell, request, protocol)
                code = 0
            finally:
                protocol.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            _send(protocol, {"error": f"the fresh run's process ended with status {status}"})
    return 0


def _quiet(path: str) -> None:
    """The cells' prints, displays and warnings go to a file (fd level: C extensions too)."""
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)


def _shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"  # the user's history stays untouched
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "kernel_ext")
    import fastapi.testclient  # noqa: F401  (warm: the harness sends requests)

    return shell


def _answer(shell: Any, request: dict[str, Any], protocol: IO[str]) -> None:
    try:
        _send(protocol, {"result": run(shell, request, protocol)})
    except BaseException as exc:  # reported, never a silent hang
        _send(protocol, {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})


def run(shell: Any, request: dict[str, Any], protocol: IO[str]) -> dict[str, Any]:
    from .._display import cell_finder
    from .._session import current_session
    from ._shape import describe

    session = current_session()
    assert session is not None
    app_name = request.get("app_name", "app")
    cells = request["cells"]
    index_of: dict[int, int] = {}  # execution count -> position in the live notebook
    errors = []
    for number, cell in enumerate(cells, start=1):
        if not cell["code"]:
            continue
        _send(protocol, {"progress": number, "of": len(cells), "label": cell["label"]})
        index_of[shell.execution_count] = cell["index"]
        result = shell.run_cell(cell["code"], store_history=True, cell_id=cell["cell_id"])
        error = result.error_before_exec or result.error_in_exec
        if error is not None:
            errors.append({"index": cell["index"], "error": f"{type(error).__name__}: {error}"})
    app = shell.user_ns.get(app_name)
    counts = cell_finder(shell, session.reloader.defined_in)

    def cell_of(obj: Any) -> int | None:
        count = counts(obj)
        return index_of.get(count) if count is not None else None

    out: dict[str, Any] = {"shape": describe(app, cell_of, shell.user_ns), "errors": errors}
    if request.get("requests") is not None:
        from ._requests import send_all

        out["responses"] = send_all(app, request["requests"], request.get("base_url") or "http://testserver")
    return out


def _send(protocol: IO[str], message: dict[str, Any]) -> None:
    protocol.write(json.dumps(message, default=str) + "\n")
    protocol.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
