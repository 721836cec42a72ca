"""What a cell changed, applied to the live app: last definition wins, nothing stale serves.

`before_cell` snapshots the route lists and the apps' registrations, `note_cell` the names the
cell's code can rebind (see _boundnames.py). `after_cell` diffs them and hands each kind of
change to its rule in `_rules/`: routes, routers made anew, stale classes and dependencies, the
lifespan, middleware, exception and event handlers, dependency overrides. A rule settles a
router with a single list assignment, which the serving thread sees atomically. The reloader
keeps what the rules share: each cell's record of what it registered, the notebook's names
(_namespace.py), and the route table whose caches keep the hooks flat as an app grows.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Router

from .. import _compat as private
from ._boundnames import CellCode
from ._namespace import NotebookNames, Rebinding
from ._routes import route_mentions
from ._rules.app_registrations import AppRegistrations
from ._rules.dependency_overrides import point_old_versions_at_newest
from ._rules.event_handlers import drop_previous_events, settle_events
from ._rules.lifespan import LifespanInputs
from ._rules.records import MISSING, AppState, CellRecord, Changes
from ._rules.recreated_routers import (
    find_recreated,
    rehome_routes,
    repoint_replaced,
    retarget_includes,
)
from ._rules.redefined_routes import drop_previous_routes, settle_router
from ._rules.route_table import RouteTable
from ._rules.stale_routes import NestedModelWarnings, rebuild_stale_routes


@dataclass
class Snapshot:
    # name -> its value before the cell's code ran, for every name the code can rebind; or the
    # whole namespace (`everything`). Empty until IPython hands the cell's AST to `note_cell`.
    names: dict[str, Any]
    everything: bool
    routes: dict[int, tuple[Router, list[BaseRoute]]]
    apps: dict[int, AppState]  # id(app) -> its middleware and handlers before the cell


class HotReloader:
    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace
        self.app: FastAPI | None = None
        self._snapshot: Snapshot | None = None
        self._notebook = NotebookNames()
        self._written_by_functions: set[str] = set()  # `global` names of functions defined so far
        self._functions_write_anything = False  # some function defined so far uses globals()...
        self._cells: dict[str, CellRecord] = {}
        self._record: CellRecord | None = None  # the cell being settled, until it is stored
        self._table = RouteTable(self._notebook.names, self._live_records)
        self._replacing_own = False  # see settle_registrations
        self._lifespan = LifespanInputs()
        self._registrations = AppRegistrations()  # middleware and exception handlers
        self._restored: list[BaseRoute] = []  # brought back this cell: may need newer classes
        self._nested = NestedModelWarnings()

    @property
    def defined_in(self) -> dict[str, int | None]:
        """Name -> the execution count of the cell that last bound it."""
        return self._notebook.defined_in

    def stale_warnings(self) -> list[str]:
        """Warnings about models that still nest an old class, while they still do."""
        return self._nested.current(self.namespace)

    # --- the app being served -----------------------------------------------------------------

    def attach(self, app: FastAPI | None) -> None:
        """Start tracking `app`; registrations remembered for an older app are dropped."""
        self.app = app
        self._cells.clear()
        # Routes made before we watched (e.g. before %load_ext) count as users of their
        # dependencies too, so that redefining one rebuilds them.
        self._table.clear_caches()
        for router in self._routers():
            for route in router.routes:
                self._table.count_dependencies(route, +1)

    # --- hooks --------------------------------------------------------------------------------

    def before_cell(self) -> None:
        apps = self._apps()
        for app in apps:  # so that `add_middleware` works in the cell, whatever has served
            private.reset_middleware_stack(app)
        self._snapshot = Snapshot(
            names={},
            everything=False,
            routes={id(r): (r, list(r.routes)) for r in self._routers()},
            apps={id(app): AppState.of(app) for app in apps},
        )

    def note_cell(self, code: CellCode) -> None:
        """The cell's code is about to run: remember the names it can rebind, as they are now."""
        snapshot = self._snapshot
        if snapshot is None:  # code run outside a cell we watch
            return
        self._written_by_functions |= code.later
        self._functions_write_anything |= code.later_anything
        if snapshot.everything:  # a nested run (%time, %run...) inside a cell that diffs all
            return
        namespace = self.namespace
        if code.names is None or self._functions_write_anything:
            earlier = snapshot.names  # from an outer run of this cell: older, so they win
            snapshot.names = {**namespace, **earlier}
            snapshot.everything = True
            return
        for name in code.names | self._written_by_functions:
            if name not in snapshot.names:
                snapshot.names[name] = namespace.get(name, MISSING)

    def after_cell(self, *, cell_id: str | None, succeeded: bool, count: int | None) -> Changes:
        """Settle what the cell changed, phase by phase; the order is that of a fresh run's
        effects: routes first, then what rebinding names implies, then the apps' registrations."""
        snapshot, self._snapshot = self._snapshot, None
        changes = Changes()
        if snapshot is None:  # the cell that loaded us: nothing to compare with
            return changes
        self._forget_collected(snapshot)
        rebinding = self._notebook.track(
            self.namespace, snapshot.names, snapshot.everything, count, self._table.dependency_users
        )
        record = self._record = CellRecord()
        changes.routes += self._settle_routes(snapshot, record, by_name=cell_id is None)
        self._follow_rebinding(snapshot, rebinding, cell_id, changes)
        self._settle_apps(snapshot, rebinding.names, record, cell_id, changes)
        if cell_id is not None:
            self._store(cell_id, record, succeeded, changes)
        self._refresh_restored(changes)
        self._record = None
        if changes.any and isinstance(self.app, FastAPI):
            private.forget_openapi(self.app)
        return changes

    # --- the phases of after_cell -------------------------------------------------------------

    def _settle_routes(self, snapshot: Snapshot, record: CellRecord, by_name: bool) -> int:
        """Routes the cell defined replace those they redefine (_rules/redefined_routes.py)."""
        changed = 0
        for router, before in snapshot.routes.values():
            changed += settle_router(self._table, router, before, record, by_name)
        for router in self._routers():
            if id(router) not in snapshot.routes:  # a router first seen in this cell
                # Its routes made in module code (`app.include_router(users.router)`) are not
                # this cell's: re-running the cell does not make them again.
                made_before = [r for r in router.routes if not self._defined_here(r)]
                changed += settle_router(self._table, router, made_before, record, by_name)
        return changed

    def _follow_rebinding(
        self, snapshot: Snapshot, rebinding: Rebinding, cell_id: str | None, changes: Changes
    ) -> None:
        """What the names the cell rebound imply: routers made anew, the lifespan, routes and
        models that still name a replaced class or dependency."""
        rebound = rebinding.names
        recreated = find_recreated(snapshot.names, self.namespace, rebound, self.app)
        if recreated:
            changes.routes += retarget_includes(self._table, self._routers(), recreated)
            changes.routes += rehome_routes(
                self._table, snapshot.names, self.namespace, rebound, cell_id, self._cells
            )
        if rebound:
            changes.lifespan = self._lifespan.changed(self.app, snapshot.names, self.namespace, rebound)
        if rebinding.new_types or rebinding.new_dependencies:
            changes.rebuilt += self._rebuild_stale_routes(changes, bool(rebinding.new_dependencies))
        if rebinding.new_types:
            changes.warnings += self._nested.warn(
                self.namespace,
                rebinding.new_types,
                self._notebook.old_versions.name_of,
                self._notebook.defined_in,
            )

    def _settle_apps(
        self,
        snapshot: Snapshot,
        rebound: list[str],
        record: CellRecord,
        cell_id: str | None,
        changes: Changes,
    ) -> None:
        """Middleware, exception and event handlers the cell registered; dependency overrides."""
        changes.middleware = self._settle_app_registrations(snapshot, record)
        for app in self._apps():
            before = snapshot.apps.get(id(app))
            changes.startup += settle_events(app, before, record, cell_id, served=app is self.app)
        if isinstance(self.app, FastAPI):  # dependency overrides are FastAPI's
            point_old_versions_at_newest(
                self.app, rebound, self._notebook.old_versions, self.namespace, self._table.dependency_users
            )

    def _store(self, cell_id: str, record: CellRecord, succeeded: bool, changes: Changes) -> None:
        """The cell's record replaces its previous run's: what that run registered and this one
        no longer does goes. A failed re-run keeps the earlier run's, and adds its own."""
        changes.conflicts = self._conflicts(cell_id)
        previous = self._cells.get(cell_id)
        if succeeded or previous is None:  # a failed first run owns what it registered
            if previous is not None:
                changes.routes += self._drop_previous_routes(previous, record)
                changes.middleware |= self._drop_previous_app_registrations(previous, record)
                drop_previous_events(previous, record)
            self._cells[cell_id] = record
        else:  # keep what the earlier run registered
            previous.routes += record.routes
            previous.middleware += record.middleware
            previous.handlers += record.handlers
            previous.events += record.events
        self._table.owner.update((id(route), cell_id) for _, route in record.routes)

    def _conflicts(self, cell_id: str) -> list[tuple[BaseRoute, str]]:
        taken, self._table.taken = self._table.taken, []
        found = []
        for old, new in taken:
            other = self._table.owner.get(id(old))
            if other is not None and other != cell_id and other in self._cells:
                found.append((new, other))
        return found

    def forget_cells(self, cell_ids: Iterable[str]) -> Changes:
        """Cells deleted in the front end: drop what they registered, as if re-run empty."""
        changes = Changes()
        for cell_id in cell_ids:
            previous = self._cells.pop(cell_id, None)
            if previous is None:
                continue
            changes.routes += self._drop_previous_routes(previous, CellRecord())
            changes.middleware |= self._drop_previous_app_registrations(previous, CellRecord())
            drop_previous_events(previous, CellRecord())
        self._refresh_restored(changes)
        if changes.any and isinstance(self.app, FastAPI):
            private.forget_openapi(self.app)
        return changes

    def replace_objects(self, replaced: Mapping[int, Any]) -> Changes:
        """Objects replaced outside the notebook's namespace, e.g. by a reloaded module.

        `replaced` maps id(old) -> new, for routers, apps, classes and functions. Each include of
        an old router serves the new one, in its place and with its include context, and so does
        each mount of an old app; routes that use an old class or dependency are rebuilt. A cell
        in progress is not credited with any of it: its snapshot takes the result in.
        """
        changes = Changes()
        changes.routes += repoint_replaced(self._table, self._routers(), replaced)
        mapping = {old: new for old, new in replaced.items() if not isinstance(new, Router)}
        if mapping:
            changes.rebuilt += self._rebuild_stale_routes(changes, True, mapping)
        snapshot = self._snapshot
        if snapshot is not None and changes.any:
            snapshot.routes = {id(r): (r, list(r.routes)) for r in self._routers()}
        if changes.any and isinstance(self.app, FastAPI):
            private.forget_openapi(self.app)
        return changes

    def snapshot_if_idle(self) -> bool:
        """Take the before-state a reload outside any cell (`%api watch`) is compared with.
        True if taken: the caller drops it with `drop_snapshot` when done."""
        if self._snapshot is not None:
            return False
        self.before_cell()
        return True

    def drop_snapshot(self) -> None:
        self._snapshot = None

    def settle_registrations(self, owner: str) -> Changes:
        """Middleware, exception and event handlers that code run outside a cell (a module's
        reload) added since the snapshot belong to `owner`, as a cell's do: its next reload
        replaces them, and what it no longer registers goes. The cell then does not take them."""
        changes = Changes()
        snapshot = self._snapshot
        if snapshot is None:
            return changes
        record = CellRecord()
        # What a module's reload replaces was its own earlier version (made when it was first
        # imported, in some cell): it is not brought back when the module drops it.
        self._replacing_own = True
        try:
            changes.middleware = self._settle_app_registrations(snapshot, record)
        finally:
            self._replacing_own = False
        for app in self._apps():
            before = snapshot.apps.get(id(app))
            changes.startup += settle_events(app, before, record, owner, served=app is self.app)
        previous = self._cells.get(owner)
        if previous is not None:
            changes.middleware |= self._drop_previous_app_registrations(previous, record)
            drop_previous_events(previous, record)
        self._cells[owner] = record
        snapshot.apps = {id(app): AppState.of(app) for app in self._apps()}
        return changes

    # --- what the phases share ----------------------------------------------------------------

    def _live_records(self) -> list[CellRecord]:
        """Every record that may hold a route: the live cells', and the one being settled."""
        return [*self._cells.values(), *([self._record] if self._record is not None else [])]

    def _routers(self) -> list[Router]:
        roots: list[Router] = []
        router = getattr(self.app, "router", None)
        if isinstance(router, Router):
            roots.append(router)
        roots.extend(self._notebook.routers.values())
        return self._table.routers(roots)

    def _settle_app_registrations(self, snapshot: Snapshot, record: CellRecord) -> bool:
        """Middleware and exception handlers (_rules/app_registrations.py). True if the served
        app's stack changed: the gateway builds it again."""
        stale_types, current = self._notebook.stale_types, self._stale_map
        return self._registrations.settle(
            self._apps(), self.app, snapshot.apps, record, stale_types, current, self._replacing_own
        )

    def _drop_previous_app_registrations(self, previous: CellRecord, record: CellRecord) -> bool:
        return self._registrations.drop_previous(self._apps(), self.app, previous, record)

    def _drop_previous_routes(self, previous: CellRecord, record: CellRecord) -> int:
        removed, restored = drop_previous_routes(self._table, previous, record)
        self._restored.extend(restored)  # rebuilt by `_refresh_restored` if they need it
        return removed

    def _apps(self) -> list[Starlette]:
        apps = {id(app): app for app in self._notebook.apps.values()}
        if isinstance(self.app, Starlette):  # `%api serve` also takes a bare ASGI callable
            apps[id(self.app)] = self.app
        return list(apps.values())

    def _defined_here(self, route: BaseRoute) -> bool:
        """Whether the route's endpoint was defined in the notebook rather than in a module."""
        module = getattr(getattr(route, "endpoint", None), "__module__", None)
        return module is not None and module == self.namespace.get("__name__", "__main__")

    def _refresh_restored(self, changes: Changes) -> None:
        """A definition brought back may still name classes redefined since it was replaced."""
        restored, self._restored = self._restored, []
        mapping = self._stale_map() if restored else {}
        if any(route_mentions(route, set(mapping)) for route in restored):
            changes.rebuilt += self._rebuild_stale_routes(changes, False)

    def _forget_collected(self, snapshot: Snapshot) -> None:
        """Old versions that nothing holds any more have been collected: drop what was kept
        about them, and the caches of routers no longer served (they hold their routes), so
        memory stays flat over thousands of edits."""
        self._table.forget_routers(snapshot.routes)
        gone = self._notebook.forget_collected()
        if not gone:
            return
        for old_id in gone:
            self._table.dependency_users.pop(old_id, None)
        private.forget_endpoints(gone)
        self._nested.forget(gone)

    def _stale_map(self) -> dict[int, Any]:
        """id(old class or dependency) -> its current version, for rebuilding routes."""
        return self._notebook.current_versions(self.namespace)

    def _rebuild_stale_routes(
        self, changes: Changes, dependencies_changed: bool, mapping: Mapping[int, Any] | None = None
    ) -> int:
        mapping = self._stale_map() if mapping is None else mapping
        routers = self._routers()
        return rebuild_stale_routes(self._table, routers, mapping, dependencies_changed, changes.warnings)


def warn(message: str) -> None:
    print(f"kernel_ext: {message}", file=sys.stderr)
