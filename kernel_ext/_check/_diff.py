"""Two app shapes compared: each difference with the cell that would make them equal."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._errors import KernelExtError
from ._shape import Shape

Label = Callable[["int | None"], str]  # a cell position -> "In [7]"


@dataclass(frozen=True)
class Difference:
    kind: str  # "stale route", "route only in the fresh run", "schema differs", ...
    what: str  # "GET /items/{item_id}"
    detail: str
    rerun: str  # what to do: "re-run In [7]"

    def line(self) -> str:
        return f"{self.kind}: {self.what} ({self.detail}); {self.rerun}"


def compare(
    live: Shape, fresh: Shape, label: Label, errors: dict[int, str] | None = None
) -> list[Difference]:
    """`errors`: cell position -> what it raised in the fresh run, said beside what it left out."""
    found = _compare(live, fresh, label)
    if not errors:
        return found
    return [_with_error(d, errors, label) for d in found]


def _with_error(difference: Difference, errors: dict[int, str], label: Label) -> Difference:
    for cell, error in errors.items():
        if difference.rerun == f"re-run {label(cell)}":
            detail = f"{difference.detail}; {label(cell)} raised in the fresh run: {error}"
            if error.startswith("NameError"):
                detail += " (is the name defined in a cell below it?)"
            return Difference(difference.kind, difference.what, detail, difference.rerun)
    return difference


def _compare(live: Shape, fresh: Shape, label: Label) -> list[Difference]:
    if fresh.get("app") is None:
        if live.get("app") is None:
            return []
        return [Difference("no app in the fresh run", "app", "the fresh run defines no app", "see the notes")]
    found = _routes(live["routes"], fresh["routes"], label)
    reported = {d.what for d in found}
    found += _operations(live["operations"], fresh["operations"], fresh["routes"], label, reported)
    found += _middleware(live["middleware"], fresh["middleware"], label)
    found += _keyed("exception handler", live["handlers"], fresh["handlers"], label)
    found += _listed("startup handler", live["startup"], fresh["startup"], label)
    return found


def without_cells(shape: Shape, cells: set[int]) -> Shape:
    """The shape minus what `cells` defined: cells marked skip are not held against the app."""
    if not cells:
        return shape
    routes = {k: v for k, v in shape["routes"].items() if v["cell"] not in cells}
    gone = shape["routes"].keys() - routes.keys()
    return {
        **shape,
        "routes": routes,
        "operations": {k: v for k, v in shape["operations"].items() if k not in gone},
        "middleware": [m for m in shape["middleware"] if m["cell"] not in cells],
        "handlers": {k: v for k, v in shape["handlers"].items() if v["cell"] not in cells},
        "startup": [s for s in shape["startup"] if s["cell"] not in cells],
    }


def _rerun(label: Label, cell: int | None, fallback: str = "restart the kernel and run all") -> str:
    return f"re-run {label(cell)}" if cell is not None else fallback


def _routes(live: dict[str, Any], fresh: dict[str, Any], label: Label) -> list[Difference]:
    found = []
    for key in sorted(live.keys() - fresh.keys()):
        cell = live[key]["cell"]
        where = f"from {label(cell)}" if cell is not None else "from a cell no longer in the notebook"
        fix = (
            f"re-run {label(cell)}" if cell is not None else "delete it with the cell, or restart the kernel"
        )
        found.append(Difference("stale route", key, f"served live {where}, not by a fresh run", fix))
    for key in sorted(fresh.keys() - live.keys()):
        cell = fresh[key]["cell"]
        found.append(Difference("route only in the fresh run", key, "not served live", _rerun(label, cell)))
    for key in sorted(live.keys() & fresh.keys()):
        a, b = live[key], fresh[key]
        fix = _rerun(label, b["cell"])
        if a["cell"] != b["cell"]:
            detail = f"served live by {label(a['cell'])}, by {label(b['cell'])} in a fresh run"
            if a["cell"] is not None and b["cell"] is not None:
                detail += " (the later cell in the notebook wins)"
            found.append(Difference("defined by another cell", key, detail, fix))
        elif a["code"] != b["code"]:
            found.append(Difference("code differs", key, "its endpoint or dependencies changed", fix))
        elif a["shadowed"] != b["shadowed"]:
            detail = f"{a['shadowed']} shadowed copies live, {b['shadowed']} in a fresh run"
            found.append(Difference("duplicate route", key, detail, fix))
    return found


def _operations(
    live: dict[str, Any], fresh: dict[str, Any], routes: dict[str, Any], label: Label, reported: set[str]
) -> list[Difference]:
    found = []
    for key in sorted(live.keys() | fresh.keys()):
        if key in reported or live.get(key) == fresh.get(key):
            continue
        if key not in live or key not in fresh:
            if key in routes or key.split(" ", 1)[0] == "OPENAPI":
                where = "live" if key in live else "in the fresh run"
                found.append(
                    Difference("schema differs", key, f"documented only {where}", _fix(key, routes, label))
                )
            continue
        found.append(
            Difference("schema differs", key, _first_change(live[key], fresh[key]), _fix(key, routes, label))
        )
    return found


def _fix(key: str, routes: dict[str, Any], label: Label) -> str:
    entry = routes.get(key)
    return _rerun(label, entry["cell"] if entry else None, "re-run the cells that define it")


def _first_change(live: Any, fresh: Any, path: str = "") -> str:
    """Where two JSON values first differ, e.g. `parameters[2]: only in the fresh run`."""
    if isinstance(live, dict) and isinstance(fresh, dict):
        for key in sorted(live.keys() | fresh.keys()):
            here = f"{path}.{key}" if path else key
            if key not in live:
                return f"{here}: only in the fresh run"
            if key not in fresh:
                return f"{here}: only live"
            if live[key] != fresh[key]:
                return _first_change(live[key], fresh[key], here)
    if isinstance(live, list) and isinstance(fresh, list) and len(live) == len(fresh):
        for i, (a, b) in enumerate(zip(live, fresh, strict=True)):
            if a != b:
                return _first_change(a, b, f"{path}[{i}]")
    text = f"live {_short(live)}, fresh {_short(fresh)}"
    return f"{path}: {text}" if path else text


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _middleware(live: list[dict[str, Any]], fresh: list[dict[str, Any]], label: Label) -> list[Difference]:
    def ident(entry: dict[str, Any]) -> tuple[str, str, str]:
        return (entry["key"], entry["options"], entry["code"])

    if [ident(m) for m in live] == [ident(m) for m in fresh]:
        return []
    found = []
    fresh_ids = {ident(m) for m in fresh}
    live_ids = {ident(m) for m in live}
    for entry in live:
        if ident(entry) not in fresh_ids:
            found.append(
                Difference("middleware differs", entry["key"], "only live", _rerun(label, entry["cell"]))
            )
    for entry in fresh:
        if ident(entry) not in live_ids:
            found.append(
                Difference(
                    "middleware differs", entry["key"], "only in the fresh run", _rerun(label, entry["cell"])
                )
            )
    if not found:
        order = ", ".join(m["key"] for m in live)
        found.append(
            Difference(
                "middleware differs", "order", f"live order: {order}", "restart the kernel and run all"
            )
        )
    return found


def _keyed(kind: str, live: dict[str, Any], fresh: dict[str, Any], label: Label) -> list[Difference]:
    found = []
    for key in sorted(live.keys() | fresh.keys()):
        a, b = live.get(key), fresh.get(key)
        if a == b or (a and b and a["code"] == b["code"] and a["cell"] == b["cell"]):
            continue
        if b is None:
            found.append(
                Difference(f"{kind} differs", key, "only live", _rerun(label, a["cell"] if a else None))
            )
        elif a is None:
            found.append(
                Difference(f"{kind} differs", key, "only in the fresh run", _rerun(label, b["cell"]))
            )
        else:
            found.append(
                Difference(f"{kind} differs", key, "a different version live", _rerun(label, b["cell"]))
            )
    return found


def _listed(
    kind: str, live: list[dict[str, Any]], fresh: list[dict[str, Any]], label: Label
) -> list[Difference]:
    live_keys = [(e["key"], e["cell"]) for e in live]
    fresh_keys = [(e["key"], e["cell"]) for e in fresh]
    if live_keys == fresh_keys:
        return []
    found = []
    for key, cell in live_keys:
        if (key, cell) not in fresh_keys or live_keys.count((key, cell)) > fresh_keys.count((key, cell)):
            found.append(Difference(f"{kind} differs", key, "only live (or more often)", _rerun(label, cell)))
    for key, cell in fresh_keys:
        if (key, cell) not in live_keys:
            found.append(Difference(f"{kind} differs", key, "only in the fresh run", _rerun(label, cell)))
    return list(dict.fromkeys(found))


# --- the result -----------------------------------------------------------------------------------

SIDE_EFFECTS = "The check ran the notebook's cells again in a fresh process, side effects included."


@dataclass
class CheckResult:
    """Truthy when the live app equals a fresh run of the notebook's current cells."""

    differences: list[Difference]
    notes: list[str] = field(default_factory=list)
    cells: int = 0
    seconds: float = 0.0

    def __bool__(self) -> bool:
        return not self.differences

    def headline(self) -> str:
        ran = f"{self.cells} cells in {self.seconds:.1f} s"
        if not self.differences:
            return f"The live app matches a fresh run ({ran})."
        count = len(self.differences)
        return f"The live app differs from a fresh run in {count} place{'s' if count > 1 else ''} ({ran})."

    def __repr__(self) -> str:
        lines = [self.headline()]
        lines += [f"  {d.line()}" for d in self.differences]
        lines += [f"note: {n}" for n in self.notes]
        lines.append(SIDE_EFFECTS)
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def _repr_html_(self) -> str:
        esc = html.escape
        parts = [f"<p><b>{esc(self.headline())}</b></p>"]
        if self.differences:
            rows = "".join(
                f"<tr><td>{esc(d.kind)}</td><td><code>{esc(d.what)}</code></td>"
                f"<td>{esc(d.detail)}</td><td>{esc(d.rerun)}</td></tr>"
                for d in self.differences
            )
            parts.append(
                "<table><thead><tr><th>difference</th><th>what</th><th>detail</th>"
                "<th>to fix</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>"
            )
        if self.notes:
            parts.append("<ul>" + "".join(f"<li>{esc(n)}</li>" for n in self.notes) + "</ul>")
        parts.append(f"<p><small>{esc(SIDE_EFFECTS)}</small></p>")
        return "".join(parts)


class CheckFailed(KernelExtError, RuntimeError):
    """`%api check --strict` found differences: one line naming each."""

    label = "kernel_ext"
