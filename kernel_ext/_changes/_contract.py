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
from typing import Any, NamedTuple

from fastapi.routing import APIRoute, iter_route_contexts

from ._contractdiff import ContractDiff, Shape, diff_operations, shape

UNREADABLE = Shape(summary="\0unreadable")  # get_openapi failed for the route: not compared


class Op(NamedTuple):
    """One operation as served: the route (or its context in an included router) behind it."""

    app: Any
    ctx: Any  # the APIRoute itself, or a fastapi.routing.RouteContext for an included one
    method: str
    route: Any  # the APIRoute object


Index = dict[str, Op]  # "METHOD /path" -> Op


def index(app: Any) -> Index:
    """The operations an app documents, first definition winning as when serving.

    Runs after every change, so it stays a plain walk: a route of the app's own list is its own
    context; only included routers go through FastAPI's context iterator (prefixes, tags).
    """
    found: Index = {}
    if app is None or not hasattr(app, "routes"):
        return found
    for entry in app.routes:
        if isinstance(entry, APIRoute):
            if entry.include_in_schema:
                for method in sorted(entry.methods or ()):
                    found.setdefault(f"{method} {entry.path_format}", Op(app, entry, method, entry))
            continue
        for ctx in iter_route_contexts([entry]):
            route = ctx.original_route
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            path = str(ctx.path_format)
            for method in sorted(ctx.methods or ()):
                found.setdefault(f"{method} {path}", Op(app, ctx, method, route))
    return found


class Shapes:
    """Each route's shapes, generated once per route object and kept while it is served."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[Any, dict[str, Shape]]] = {}

    def of(self, op: Op) -> Shape:
        entry = self._cache.get(id(op.route))
        if entry is None or entry[0] is not op.route:
            self.prepare([op])
            entry = self._cache[id(op.route)]
        return entry[1].get(op.method, UNREADABLE)

    def prepare(self, ops: list[Op]) -> None:
        """Describe the routes not yet known in one `get_openapi` call: the models they share
        (Item, FastAPI's validation error) are generated once, not once per route."""
        todo: dict[int, Op] = {}
        for op in ops:
            entry = self._cache.get(id(op.route))
            if entry is None or entry[0] is not op.route:
                todo.setdefault(id(op.route), op)
        if not todo:
            return
        described = _describe(list(todo.values()))
        if described is None:  # one route FastAPI cannot describe: find which, one by one
            described = {}
            for key, op in todo.items():
                described.update(_describe([op]) or {key: {}})
        for key, op in todo.items():
            self._cache[key] = (op.route, described.get(key, {}))

    def keep_only(self, ops: Index) -> None:
        live = {id(op.route) for op in ops.values()}
        self._cache = {k: v for k, v in self._cache.items() if k in live}


def _describe(ops: list[Op]) -> dict[int, dict[str, Shape]] | None:
    """FastAPI's description of some routes of one app: per route, per method; None if it fails."""
    from fastapi.openapi.utils import get_openapi  # only once a route changes: not at %load_ext

    app = ops[0].app
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            schema = get_openapi(
                title="contract",
                version="0",
                routes=[op.ctx for op in ops],
                separate_input_output_schemas=getattr(app, "separate_input_output_schemas", True),
            )
    except Exception:  # a half-defined model
        return None
    components = schema.get("components") or {}
    paths = schema.get("paths") or {}
    described: dict[int, dict[str, Shape]] = {}
    for op in ops:
        path_item = paths.get(str(op.ctx.path_format)) or {}
        methods = {m.lower() for m in op.route.methods or ()}
        described[id(op.route)] = {
            m.upper(): shape(o, components)
            for m, o in path_item.items()
            if m in methods and isinstance(o, dict)
        }
    return described


def compare(before: Index, after: Index, shapes: Shapes, cell: int | None = None) -> ContractDiff:
    """The changes from `before` to `after`; describes only operations whose route changed."""
    removed = [k for k in before if k not in after]
    added = [k for k in after if k not in before]
    # An operation is described only if it could be one end of a rename (same method on the
    # other side) or its route object changed; unchanged routes cost a dict lookup.
    removed_methods = {k.split(" ", 1)[0] for k in removed}
    added_methods = {k.split(" ", 1)[0] for k in added}
    old_keys = [k for k in removed if k.split(" ", 1)[0] in added_methods]
    new_keys = [k for k in added if k.split(" ", 1)[0] in removed_methods]
    changed = [k for k, op in after.items() if k in before and before[k].route is not op.route]
    # Old and new versions of one path go in separate calls: one call cannot hold both.
    shapes.prepare([before[k] for k in old_keys + changed])
    shapes.prepare([after[k] for k in new_keys + changed])
    old: dict[str, Shape] = {k: Shape() for k in removed}
    new: dict[str, Shape] = {k: Shape() for k in added}
    old.update((k, shapes.of(before[k])) for k in old_keys)
    new.update((k, shapes.of(after[k])) for k in new_keys)
    for key in changed:
        old[key], new[key] = shapes.of(before[key]), shapes.of(after[key])
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
        self,
        app_source: Callable[[], Any],
        count: Callable[[], int | None],
        report: Callable[[str], None],
        in_cell: Callable[[], bool] = lambda: True,
        log: Callable[[str], None] = print,
    ) -> None:
        self._app_source = app_source
        self._count = count
        self._report = report
        self._in_cell = in_cell
        self._log = log  # where a change made between cells (a watched file reloaded) is told
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
        """The session listener: the app or its routes changed (cheap: the diff comes later).

        Between cells (`%api watch` reloading a saved module) no cell will show it: the diff is
        made at once and written to the request log, with the reload's own summary."""
        if self._in_cell():
            self._changed = True
            return
        try:
            diff = self.check(cell=False)
        except Exception as exc:
            self._log(f"kernel_ext: the contract diff failed ({type(exc).__name__}: {exc})")
            return
        if diff:
            self._log(repr(diff))

    def check(self, cell: bool = True) -> ContractDiff | None:
        """Compare the app now with the last look; the diff, or None when nothing changed."""
        if self._before is None:
            return None
        after = index(self._app_source())
        before, self._before = self._before, after
        diff = compare(before, after, self._shapes, self._count() if cell else None)
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
