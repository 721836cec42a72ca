"""The contract diff under a cell: what the cell did to the served OpenAPI, shown once it serves.

Rendering the whole `app.openapi()` for 200 operations takes ~400 ms, so the contract is kept
as an index of the route objects that serve each operation (a cheap walk). After a cell that
changed the app, only operations whose route object differs are described, each by FastAPI's
own `get_openapi` for that one route (the old route object is still held, so its "before" is
exact), and compared by the rules in `_contractdiff`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts

from ._contractdiff import ContractDiff, Shape, diff_operations, shape

UNREADABLE = Shape(summary="\0unreadable")  # get_openapi failed for the route: not compared


@dataclass(frozen=True)
class Op:
    """One operation as served: the route (context) behind it and the app it belongs to."""

    app: Any
    ctx: Any  # fastapi.routing.RouteContext
    method: str

    @property
    def route(self) -> Any:
        return self.ctx.original_route


Index = dict[str, Op]  # "METHOD /path" -> Op


def index(app: Any) -> Index:
    """The operations an app documents, first definition winning as when serving. Cheap."""
    found: Index = {}
    if app is None or not hasattr(app, "routes"):
        return found
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        path = str(ctx.path_format)
        for method in sorted(ctx.methods or ()):
            found.setdefault(f"{method} {path}", Op(app, ctx, method))
    return found


class Shapes:
    """Each route's shapes, generated once per route object and kept while it is served."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[Any, dict[str, Shape]]] = {}

    def of(self, op: Op) -> Shape:
        key = id(op.ctx.original_route)
        entry = self._cache.get(key)
        if entry is None or entry[0] is not op.route:
            entry = (op.route, _describe(op))
            self._cache[key] = entry
        return entry[1].get(op.method, UNREADABLE)

    def keep_only(self, ops: Index) -> None:
        live = {id(op.route) for op in ops.values()}
        self._cache = {k: v for k, v in self._cache.items() if k in live}


def _describe(op: Op) -> dict[str, Shape]:
    """FastAPI's description of one route, per method; {} when it cannot describe it."""
    from fastapi.openapi.utils import get_openapi  # only once a route changes: not at %load_ext

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            schema = get_openapi(
                title="contract",
                version="0",
                routes=[op.ctx],
                separate_input_output_schemas=getattr(op.app, "separate_input_output_schemas", True),
            )
    except Exception:  # a half-defined model: the route is shown as changed elsewhere, not here
        return {}
    components = schema.get("components") or {}
    path_item = (schema.get("paths") or {}).get(str(op.ctx.path_format)) or {}
    return {m.upper(): shape(o, components) for m, o in path_item.items() if isinstance(o, dict)}


def compare(before: Index, after: Index, shapes: Shapes, cell: int | None = None) -> ContractDiff:
    """The changes from `before` to `after`; describes only operations whose route changed."""
    removed = [k for k in before if k not in after]
    added = [k for k in after if k not in before]
    # An operation is described only if it could be one end of a rename (same method on the
    # other side) or its route object changed; unchanged routes cost a dict lookup.
    removed_methods = {k.split(" ", 1)[0] for k in removed}
    added_methods = {k.split(" ", 1)[0] for k in added}
    old: dict[str, Shape] = {}
    new: dict[str, Shape] = {}
    for key in removed:
        old[key] = shapes.of(before[key]) if key.split(" ", 1)[0] in added_methods else Shape()
    for key in added:
        new[key] = shapes.of(after[key]) if key.split(" ", 1)[0] in removed_methods else Shape()
    for key, op in after.items():
        previous = before.get(key)
        if previous is not None and previous.route is not op.route:
            old[key], new[key] = shapes.of(previous), shapes.of(op)
            if UNREADABLE in (old[key], new[key]):
                del old[key], new[key]
    return diff_operations(old, new, cell)


class ContractWatch:
    """After a cell that changed the app, diffs the contract and shows it under that cell.

    The session's listener only marks the app as changed; the diff is made by a post_run_cell
    callback registered after the session's own, so the new routes already serve by then and
    the hooks that make them live do not wait for it.
    """

    def __init__(
        self, app_source: Callable[[], Any], count: Callable[[], int | None], report: Callable[[str], None]
    ) -> None:
        self._app_source = app_source
        self._count = count
        self._report = report
        self._shapes = Shapes()
        self._before: Index | None = None  # None: off
        self._changed = False
        self.last: ContractDiff | None = None

    @property
    def enabled(self) -> bool:
        return self._before is not None

    def set_enabled(self, enabled: bool) -> None:
        """On: changes count from now (the walk is cheap; nothing is described yet)."""
        self._shapes = Shapes()
        self._before = index(self._app_source()) if enabled else None
        self._changed = False

    def mark_changed(self) -> None:
        """The session listener: the app or its routes changed (cheap: the diff comes later)."""
        self._changed = True

    def check(self) -> ContractDiff | None:
        """Compare the app now with the last look; the diff, or None when nothing changed."""
        if self._before is None:
            return None
        after = index(self._app_source())
        before, self._before = self._before, after
        diff = compare(before, after, self._shapes, self._count())
        self._shapes.keep_only(after)
        if not diff:
            return None
        self.last = diff
        return diff

    def after_cell(self, result: Any = None) -> None:
        """post_run_cell: show the diff under the cell that caused it. Never raises."""
        if not self._changed:
            return
        self._changed = False
        try:
            diff = self.check()
        except Exception as exc:
            self._report(f"the contract diff failed ({type(exc).__name__}: {exc}); the app keeps serving.")
            return
        if diff:
            from IPython.display import display

            display(diff)
