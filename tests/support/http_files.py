"""`.http` text for tests: parsed, with its variables checked as a cell's would be."""

from __future__ import annotations

from typing import Any

from kernel_ext._http._file import HttpFile, parse_http
from kernel_ext._http._vars import Resolver


def checked(text: str, externals: dict[str, Any] | None = None, first_line_no: int = 1) -> HttpFile:
    http = parse_http(text, first_line_no=first_line_no)
    Resolver(http.variables, externals or {}).check(http)
    return http
