"""One error base: every error kernel_ext raises for the user shows as one line in a cell."""

from __future__ import annotations

import pytest

from kernel_ext._changes._coverage import CoverageError
from kernel_ext._check._diff import CheckFailed
from kernel_ext._errors import KernelExtError
from kernel_ext._explorer import ExplorerError
from kernel_ext._export._errors import ExportError
from kernel_ext._http._file import HttpCellError, HttpSyntaxError
from kernel_ext._http._run import HttpExpectationError, HttpRequestError, HttpUsageError
from kernel_ext._magics import ApiError
from kernel_ext._reload._modules import ReloadError
from kernel_ext._serving._lifespan import LifespanError
from kernel_ext._serving._server import ServerError

# Each error, the builtin base its callers catch, and what stands before its message.
ERRORS = [
    (ExplorerError, ValueError, "ExplorerError"),
    (ExportError, ValueError, "ExportError"),
    (HttpCellError, Exception, "HttpCellError"),
    (HttpUsageError, HttpCellError, "HttpUsageError"),
    (HttpRequestError, HttpCellError, "HttpRequestError"),
    (HttpExpectationError, HttpCellError, "HttpExpectationError"),
    (ServerError, RuntimeError, "ServerError"),
    (LifespanError, RuntimeError, "LifespanError"),
    (ReloadError, RuntimeError, "ReloadError"),
    (ApiError, Exception, "kernel_ext"),
    (CoverageError, AssertionError, "kernel_ext"),
    (CheckFailed, RuntimeError, "kernel_ext"),
]


@pytest.mark.parametrize(("error", "base", "label"), ERRORS, ids=[e[0].__name__ for e in ERRORS])
def test_each_error_is_a_kernel_ext_error_and_keeps_its_base(error: type, base: type, label: str) -> None:
    assert issubclass(error, KernelExtError) and issubclass(error, base)
    assert error("the reason")._render_traceback_() == [f"{label}: the reason"]


def test_a_cell_that_raises_one_shows_one_line_and_fails(shell, capsys) -> None:
    for error, _, label in ERRORS:
        shell.ns["error"] = error
        capsys.readouterr()
        result = shell.run("raise error('what went wrong')")
        assert isinstance(result.error_in_exec, error) and not result.success
        shown = capsys.readouterr()
        assert (shown.out + shown.err).strip() == f"{label}: what went wrong", error


def test_a_syntax_error_shows_the_offending_line_under_its_message(shell, capsys) -> None:
    shell.ns["error"] = HttpSyntaxError("bad", 3, "  GET oops  ")
    capsys.readouterr()
    shell.run("raise error")
    assert capsys.readouterr().out.strip() == "HttpSyntaxError: line 3: bad\n    GET oops"
