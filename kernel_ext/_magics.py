"""`%api` and `%%http`: thin glue over plain functions in `_api` and the `.http` engine."""

from __future__ import annotations

import argparse
import shlex
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import MagicArgumentParser

from . import _api
from ._errors import KernelExtError
from ._serving._server import ServerError


class _HelpShown(Exception):
    """`--help` printed the help; the magic returns nothing."""


# IPython's parser for magics, which raises IPython's UsageError. Its decorators
# (`@magic_arguments`, `@argument`) can't declare %api's subcommands, so the parser is built
# from COMMANDS; and its `parse_argstring` keeps quotes in the words (IPython splits without
# POSIX rules), so lines are split with shlex. A UsageError that reached IPython would show one
# line but not fail the cell (nbmake 1.5 passes a notebook whose magic raises one), so `api`
# turns it into an ApiError.
class _Parser(MagicArgumentParser):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("add_help", True)  # `-h` shows the help, as `%api?` does
        super().__init__(formatter_class=argparse.HelpFormatter, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        # argparse would sys.exit, which IPython reports as a SystemExit traceback.
        if status:
            raise UsageError((message or f"{self.prog}: error").strip())
        raise _HelpShown


Argument = tuple[tuple[str, ...], dict[str, Any]]

# name, help, arguments: the one table that both the parser and `%api?` are built from.
COMMANDS: list[tuple[str, str, list[Argument]]] = [
    ("status", "the server's state, URL, routes, last reload and last error", []),
    ("routes", "the live routes: method, path, endpoint, cell, models, dependencies", []),
    ("log", "the request log, live", [(("--last",), {"type": int, "metavar": "N", "help": "only N lines"})]),
    ("docs", "Swagger UI for the live app, inline, and a link to it", []),
    ("explore", "the request explorer widget", []),
    (
        "start",
        "start the server",
        [
            (("--port",), {"type": int, "help": "a free port is chosen unless you ask"}),
            (("--host",), {"help": "127.0.0.1 unless you ask (0.0.0.0 warns)"}),
        ],
    ),
    (
        "diff",
        "the contract diff shown under a cell that changes the API: on, off, or the last one",
        [(("state",), {"nargs": "?", "choices": ["on", "off"], "help": "on or off"})],
    ),
    (
        "coverage",
        "every operation of the served app: requests that hit it, statuses seen, documented never seen",
        [
            (
                ("--fail-under",),
                {
                    "type": float,
                    "metavar": "N",
                    "help": "fail the cell when under N percent of operations were hit",
                },
            )
        ],
    ),
    ("stop", "stop the server and free its port", []),
    (
        "forget",
        "drop what a deleted cell registered (front ends that don't report deletions: VS Code)",
        [(("cell",), {"help": "In [N], N, or the cell's id"})],
    ),
    ("restart", "stop and start again on the same port", []),
    ("serve", "serve another FastAPI object than `app`", [(("name",), {"help": "its notebook variable"})]),
    (
        "check",
        "run the current cells again in a fresh process (side effects included) and compare the apps",
        [(("--strict",), {"action": "store_true", "help": "raise when they differ (nbmake fails)"})],
    ),
    (
        "reload",
        "reload the notebook's modules and apply what they redefine to the live app",
        [
            (("modules",), {"nargs": "+", "metavar": "MODULE", "help": "e.g. shop.items"}),
            (("--recursive", "-r"), {"action": "store_true", "help": "their submodules too"}),
        ],
    ),
    (
        "watch",
        "reload a module when its file is saved (while the kernel is idle); `off` stops",
        [(("paths",), {"nargs": "*", "metavar": "PATH", "help": "default: the working directory"})],
    ),
    (
        "export",
        "write the app as a deployable package",
        [
            (("directory",), {"help": "where to write it"}),
            (("--force",), {"action": "store_true", "help": "overwrite a non-empty directory"}),
        ],
    ),
]


def _command(parser: argparse.ArgumentParser, arguments: list[Argument]) -> argparse.ArgumentParser:
    for flags, options in arguments:
        parser.add_argument(*flags, **options)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="%api",
        description="Control the in-kernel API server; without a COMMAND, show its status. "
        "Each command is also a function: kernel_ext.status(), kernel_ext.routes(), ...",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help, arguments in COMMANDS:
        _command(commands.add_parser(name, help=help, description=help), arguments)
    return parser


def help_text() -> str:
    """`%api?`: the overview, then the arguments of each command that takes any."""
    parts = [build_parser().format_help()]
    for name, help, arguments in COMMANDS:
        if arguments:
            parser = _Parser(prog=f"%api {name}", description=help, add_help=False)
            parts.append(_command(parser, arguments).format_help())
    return "\n".join(part.rstrip() + "\n" for part in parts)


def run_api_command(line: str) -> Any:
    try:
        words = shlex.split(line)
    except ValueError as exc:  # unbalanced quotes
        raise UsageError(f"%api: cannot split {line!r}: {exc}") from None
    try:
        args = build_parser().parse_args(words or ["status"])
    except _HelpShown:
        return None
    command = args.command or "status"
    if command == "log":
        return _api.log(last=args.last)
    if command == "start":
        return _api.start(port=args.port, host=args.host)
    if command == "serve":
        return _api.serve(args.name)
    if command == "coverage":
        return _api.coverage(fail_under=args.fail_under)
    if command == "diff":
        return _api.diff_switch(args.state)
    if command == "check":
        return _api.check(strict=args.strict)
    if command == "forget":
        return _api.forget(args.cell)
    if command == "reload":
        return _api.reload(*args.modules, recursive=args.recursive)
    if command == "watch":
        if args.paths == ["off"]:
            return print(_api.watch(off=True))
        return print(_api.watch(*args.paths))
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
        """Send the cell's `.http`-format requests to the in-kernel server; `%%http?` for more."""
        from ._http._run import run_http_cell
        from ._session import current_session

        session = current_session()
        base_url = session.base_url if session is not None and session.running else None
        memory = session.http if session is not None else None
        shell = self.shell
        assert shell is not None  # IPython registers magics with their shell
        count = shell.execution_count - 1  # this cell's In [N]
        return run_http_cell(line, cell, base_url=base_url, user_ns=shell.user_ns, count=count, memory=memory)


class ApiError(KernelExtError):
    """What any `%api` command failed with, as one line that says it is kernel_ext's."""

    label = "kernel_ext"


HTTP_SYNTAX = """\
The cell, in the .http format of VS Code REST Client and JetBrains HTTP client:

    @user = alice                      variables: @name = value, used as {{name}}
    # @name login                      names the next request's response
    POST /token                        METHOD, then a path on the in-kernel server or a full URL
    Content-Type: application/x-www-form-urlencoded
                                       headers, a blank line, then the body
    username={{user}}&password=secret

    ###                                separates requests (text after ### is a title)
    # @expect 200 {"username": "alice"}
    GET /users/me
    Authorization: Bearer {{login.response.body.$.access_token}}

A named response gives {{NAME.response.body.$.path}} (a JSONPath: its first match),
{{NAME.response.headers.H}}. Named responses and @variables stay available to later %%http
cells (a later cell may redefine them).
System variables: {{$uuid}}, {{$random.uuid}}, {{$timestamp}}, {{$datetime iso8601}},
{{$randomInt 1 10}}, {{$processEnv NAME}}, {{$dotenv NAME}}, and the rest of REST Client's and
JetBrains'. `Authorization: Basic user pass` is base64-encoded for you. Multipart bodies may
include files with `< ./path`. `>> file` saves a response body; `# @timeout 5` limits one request
(--timeout limits each, body included: a stream is cut off and shown as far as it got).
JavaScript response handlers (`> {% ... %}`) are not run. The whole cell is checked before
anything is sent: a malformed block fails the cell naming its line. The result (-o, default
_http) behaves like the last response (.status_code, .json(), .headers) with .responses, [i] and
["name"].
"""


def http_help() -> str:
    """`%%http?`: the magic line's arguments and the cell's syntax."""
    from ._http._run import http_arg_parser

    return http_arg_parser().format_help().rstrip() + "\n\n" + HTTP_SYNTAX


# IPython's `?` asks `obj.getdoc()` first: the full help, built when asked rather than at load
# (argparse formatting and the .http engine's import would otherwise slow every %load_ext).
# IPython types a decorated magic as a union of callables; each one is a function, which takes attributes.
ApiMagics.api.getdoc = help_text  # type: ignore[union-attr]  # a function takes attributes
ApiMagics.http.getdoc = http_help  # type: ignore[union-attr]  # a function takes attributes
