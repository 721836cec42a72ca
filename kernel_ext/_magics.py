"""`%api` and `%%http`: thin glue over plain functions in `_api` and the `.http` engine."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from . import _api
from ._server import ServerError


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would sys.exit the kernel
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%api", description="Control the in-kernel API server.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("status", help="the server's state, URL, routes, last reload and error")
    commands.add_parser("routes", help="a table of the live routes")
    log = commands.add_parser("log", help="the request log, live")
    log.add_argument("--last", type=int, default=None, help="show only the last N lines")
    commands.add_parser("docs", help="Swagger UI for the live app, inline")
    commands.add_parser("explore", help="the request explorer widget")
    start = commands.add_parser("start", help="start the server")
    start.add_argument("--port", type=int, default=None)
    start.add_argument("--host", default=None, help="127.0.0.1 unless you ask (0.0.0.0 warns)")
    commands.add_parser("stop", help="stop the server and free its port")
    commands.add_parser("restart", help="stop and start again on the same port")
    serve = commands.add_parser("serve", help="serve another FastAPI object than `app`")
    serve.add_argument("name")
    export = commands.add_parser("export", help="write the app as a deployable package")
    export.add_argument("directory")
    export.add_argument("--force", action="store_true", help="overwrite a non-empty directory")
    return parser


def run_api_command(line: str) -> Any:
    args = build_parser().parse_args(shlex.split(line) or ["status"])
    command = args.command or "status"
    if command == "log":
        return _api.log(last=args.last)
    if command == "start":
        return _api.start(port=args.port, host=args.host)
    if command == "serve":
        return _api.serve(args.name)
    if command == "explore":
        return _api.explore()
    if command == "export":
        return _api.export(args.directory, force=args.force)
    return getattr(_api, command)()


@magics_class
class ApiMagics(Magics):
    @line_magic
    def api(self, line: str) -> Any:
        try:
            return run_api_command(line)
        except (UsageError, ServerError, RuntimeError, ValueError) as exc:
            raise ApiError(str(exc)) from None

    @cell_magic
    def http(self, line: str, cell: str) -> Any:
        """Send `.http`-format requests (VS Code REST Client / JetBrains) to the live app.

        See kernel_ext._http_run for the syntax, `-o NAME` and `--expect STATUS [JSON]`.
        """
        from ._http_run import run_http_cell
        from ._session import current_session

        session = current_session()
        base_url = session.base_url if session is not None and session.running else None
        return run_http_cell(line, cell, base_url=base_url, user_ns=self.shell.user_ns)


class ApiError(Exception):
    """Fails the cell (so nbmake sees it) with one line instead of a traceback of our frames."""

    def _render_traceback_(self) -> list[str]:
        return [f"kernel_ext: {self}"]


ApiMagics.api.__doc__ = build_parser().format_help()
