"""How one response differs from an earlier one to the same request: status, headers, body.

Used by the explorer (`ex.diff()`, and on its own when a request is re-sent after a cell edit)
and by `%%http --diff`. The body is compared as JSON, path by path (`items[0].name`), and as text
lines when either side is not JSON.
"""

from __future__ import annotations

import difflib
import html
import json
from dataclasses import dataclass, field
from typing import Any

import httpx

IGNORED_HEADERS = frozenset({"date", "content-length"})  # the clock; the body diff says the rest
MAX_SHOWN = 40  # changes listed when rendered; the data keeps them all
_MISSING = object()


@dataclass(frozen=True)
class BodyChange:
    path: str  # "" for the whole body, "items[0].name"
    kind: str  # "added", "removed", "changed"
    before: Any = None
    after: Any = None

    def __str__(self) -> str:
        where = self.path or "(body)"
        if self.kind == "added":
            return f"+ {where}: {_short(self.after)}"
        if self.kind == "removed":
            return f"- {where}: {_short(self.before)}"
        return f"~ {where}: {_short(self.before)} → {_short(self.after)}"


@dataclass
class ResponseDiff:
    """`request` answered twice: under In [`since`], then under In [`now`]."""

    request: str
    status: tuple[int, int] | None = None  # (before, after) when it changed
    headers: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    body: list[BodyChange] = field(default_factory=list)
    text_diff: list[str] = field(default_factory=list)  # unified diff lines, for non-JSON bodies
    since: int | None = None
    now: int | None = None
    note: str = ""  # instead of a comparison, e.g. there was nothing to compare with

    def __bool__(self) -> bool:
        return bool(self.status or self.headers or self.body or self.text_diff)

    def _headline(self) -> str:
        since = f" since In [{self.since}]" if self.since is not None else ""
        if self.note:
            return f"{self.request}: {self.note}"
        if not self:
            return f"{self.request}: same response{since}"
        return f"{self.request}: response changed{since}"

    def lines(self) -> list[str]:
        found = []
        if self.status:
            found.append(f"status {self.status[0]} → {self.status[1]}")
        for name, (before, after) in self.headers.items():
            if before is None:
                found.append(f"header {name} added: {after}")
            elif after is None:
                found.append(f"header {name} removed (was {before})")
            else:
                found.append(f"header {name}: {before} → {after}")
        found += [f"body {change}" for change in self.body]
        found += self.text_diff
        return found

    def __repr__(self) -> str:
        shown = self.lines()
        extra = [f"... and {len(shown) - MAX_SHOWN} more"] if len(shown) > MAX_SHOWN else []
        return "\n".join([self._headline(), *("  " + line for line in shown[:MAX_SHOWN]), *extra])

    def _repr_html_(self) -> str:
        shown = self.lines()
        rows = "".join(f"<div>{html.escape(line)}</div>" for line in shown[:MAX_SHOWN])
        if len(shown) > MAX_SHOWN:
            rows += f"<div>… and {len(shown) - MAX_SHOWN} more</div>"
        colour = "#ef6c00" if self else "#2e7d32"
        return (
            f"<div class='kernel-ext-response-diff' style='border-left:4px solid {colour};"
            f"padding:2px 8px;font-family:var(--jp-code-font-family,monospace);font-size:12px'>"
            f"<b>{html.escape(self._headline())}</b>{rows}</div>"
        )


def diff_responses(
    request: str,
    before: httpx.Response,
    after: httpx.Response,
    since: int | None = None,
    now: int | None = None,
) -> ResponseDiff:
    result = ResponseDiff(request, since=since, now=now)
    if before.status_code != after.status_code:
        result.status = (before.status_code, after.status_code)
    result.headers = diff_headers(before.headers, after.headers)
    old, new = _json(before), _json(after)
    if old is not _MISSING and new is not _MISSING:
        result.body = diff_json(old, new)
    elif before.content != after.content:
        result.text_diff = _text_diff(before, after)
    return result


def diff_headers(before: httpx.Headers, after: httpx.Headers) -> dict[str, tuple[str | None, str | None]]:
    changed: dict[str, tuple[str | None, str | None]] = {}
    for name in sorted({k.lower() for k in before} | {k.lower() for k in after}):
        if name in IGNORED_HEADERS:
            continue
        old, new = before.get(name), after.get(name)
        if old != new:
            changed[name] = (old, new)
    return changed


def diff_json(before: Any, after: Any, path: str = "") -> list[BodyChange]:
    """Added, removed and changed values, by path; a list is compared index by index."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes = []
        for key in [*before, *(k for k in after if k not in before)]:
            child = f"{path}.{key}" if path else str(key)
            if key not in after:
                changes.append(BodyChange(child, "removed", before[key]))
            elif key not in before:
                changes.append(BodyChange(child, "added", after=after[key]))
            else:
                changes += diff_json(before[key], after[key], child)
        return changes
    if isinstance(before, list) and isinstance(after, list):
        changes = []
        for i in range(max(len(before), len(after))):
            child = f"{path}[{i}]"
            if i >= len(after):
                changes.append(BodyChange(child, "removed", before[i]))
            elif i >= len(before):
                changes.append(BodyChange(child, "added", after=after[i]))
            else:
                changes += diff_json(before[i], after[i], child)
        return changes
    if before == after and type(before) is type(after):
        return []
    return [BodyChange(path, "changed", before, after)]


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return _MISSING
    try:
        return json.loads(response.content)
    except ValueError:
        return _MISSING


def _text_diff(before: httpx.Response, after: httpx.Response) -> list[str]:
    old = before.content.decode("utf-8", "replace").splitlines()
    new = after.content.decode("utf-8", "replace").splitlines()
    return [line for line in difflib.unified_diff(old, new, "before", "after", lineterm="", n=1)][2:]


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
