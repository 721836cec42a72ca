"""API coverage: which operations of the served app the session's requests have reached.

The request path only counts (method, raw path, status) in a dict (`Hits.add`); everything
else happens when coverage is asked for: each distinct path is matched to an operation of the
app as it is now, and the documented responses come from the app's own (cached) OpenAPI.
"""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .._errors import KernelExtError
from ._contract import index

MAX_PATHS = 100_000  # distinct (method, path, status) kept; later new ones are not counted


class Hits:
    """Requests served, by (method, raw path, status). Written by the server thread only."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, bytes, int], int] = {}

    def add(self, method: str, raw_path: bytes, status: int) -> None:
        key = (method, raw_path, status)
        counts = self.counts
        if key in counts:
            counts[key] += 1
        elif len(counts) < MAX_PATHS:
            counts[key] = 1

    def snapshot(self) -> dict[tuple[str, bytes, int], int]:
        return dict(self.counts)  # one C-level copy: consistent while the server appends

    def clear(self) -> None:
        self.counts = {}


class CoverageError(KernelExtError, AssertionError):
    """Coverage below a --fail-under threshold: fails the cell, so nbmake fails the notebook."""

    label = "kernel_ext"


@dataclass
class OperationCoverage:
    operation: str  # "GET /items/{item_id}"
    hits: int = 0
    statuses: dict[int, int] = field(default_factory=dict)  # status seen -> requests
    documented: list[str] = field(default_factory=list)  # status codes in the OpenAPI

    @property
    def never_seen(self) -> list[str]:
        """Documented responses no request has produced yet (`4XX` matches any 4xx)."""
        return [code for code in self.documented if not any(_matches(code, s) for s in self.statuses)]


@dataclass
class Coverage:
    """Every operation of the served app with its hits; `.percent` is the share hit at least once."""

    operations: list[OperationCoverage]
    other_requests: int = 0  # requests that reached no operation: /docs, 404s, removed routes

    @property
    def percent(self) -> float:
        if not self.operations:
            return 100.0
        return 100.0 * len(self.hit) / len(self.operations)

    @property
    def hit(self) -> list[str]:
        return [op.operation for op in self.operations if op.hits]

    @property
    def missed(self) -> list[str]:
        return [op.operation for op in self.operations if not op.hits]

    def __getitem__(self, operation: str) -> OperationCoverage:
        for op in self.operations:
            if op.operation == operation:
                return op
        raise KeyError(f"no operation {operation!r}; operations: {', '.join(o.operation for o in self)}")

    def __iter__(self) -> Any:
        return iter(self.operations)

    def __len__(self) -> int:
        return len(self.operations)

    def fail_under(self, threshold: float) -> Coverage:
        """Raise CoverageError when below `threshold` percent; else return self (for display)."""
        if self.percent < threshold:
            missed = ", ".join(self.missed) or "none"
            raise CoverageError(
                f"API coverage {self.percent:.1f}% is under {threshold:g}%; never requested: {missed}"
            )
        return self

    def headline(self) -> str:
        return f"API coverage: {len(self.hit)} of {len(self.operations)} operations hit ({self.percent:.1f}%)"

    def _rows(self) -> list[tuple[str, str, str, str]]:
        return [
            (
                op.operation,
                str(op.hits),
                ", ".join(f"{s} ({n})" if n > 1 else str(s) for s, n in sorted(op.statuses.items())),
                ", ".join(op.never_seen),
            )
            for op in self.operations
        ]

    def __repr__(self) -> str:
        header = ("operation", "hits", "statuses seen", "documented, never seen")
        rows = [header, *self._rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = [self.headline()]
        lines += [
            "  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows
        ]
        if self.other_requests:
            lines.append(f"  {self.other_requests} other requests (docs, unknown paths, removed routes)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(
            f"<th style='text-align:left'>{h}</th>"
            for h in ("operation", "hits", "statuses seen", "documented, never seen")
        )
        body = ""
        for (operation, hits, seen, never), op in zip(self._rows(), self.operations, strict=True):
            colour = "" if op.hits else " style='color:#c62828'"
            cells = (operation, hits, seen, never)
            body += (
                f"<tr{colour}>" + "".join(f"<td><code>{html.escape(v)}</code></td>" for v in cells) + "</tr>"
            )
        return (
            f"<div class='kernel-ext-coverage'><b>{html.escape(self.headline())}</b>"
            f"<table><tr>{head}</tr>{body}</table></div>"
        )


def coverage(app: Any, counts: dict[tuple[str, bytes, int], int]) -> Coverage:
    """Match the counted requests to the app's operations, as it serves now."""
    ops = index(app)
    paths = _openapi_paths(app)
    report = {key: OperationCoverage(key, documented=_documented(paths, key)) for key in ops}
    matchers = [(key, op.method, op.ctx.path_regex) for key, op in ops.items()]
    other = 0
    for (method, raw_path, status), n in counts.items():
        path = unquote(raw_path.decode("latin-1"))
        key = next((k for k, m, regex in matchers if m == method and regex.match(path)), None)
        if key is None:
            other += n
            continue
        entry = report[key]
        entry.hits += n
        entry.statuses[status] = entry.statuses.get(status, 0) + n
    return Coverage(list(report.values()), other)


def _openapi_paths(app: Any) -> dict[str, Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return app.openapi().get("paths") or {}  # FastAPI caches it until the routes change
    except Exception:  # a half-defined model: coverage still counts, without documented codes
        return {}


def _documented(paths: dict[str, Any], key: str) -> list[str]:
    method, path = key.split(" ", 1)
    operation = (paths.get(path) or {}).get(method.lower()) or {}
    return [str(code) for code in operation.get("responses") or {}]


def _matches(documented: str, status: int) -> bool:
    if documented.upper().endswith("XX"):
        return str(status)[0] == documented[0]
    return documented == str(status)
