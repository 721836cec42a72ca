"""The live routers, and the caches that keep a cell's hooks as cheap at 5,000 routes as at 10.

Every rule that changes a router's routes goes through `assign`: one list assignment, which the
serving thread sees whole, with the caches kept in step (each router's replacement-key index,
the routers it includes, its route ids, and how many live routes use each dependency). The
table also knows which cell holds each route (`owner`) and what each live route replaced
(`shadows`); a route replaced in place (rebuilt, retargeted) takes over both (`stand_in`).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Hashable, Iterable, Mapping, Sequence

from starlette.routing import BaseRoute, Router

from ... import _compat as private
from ..._compat import dependency_calls
from .._routeindex import RouteIndex
from .._routes import route_key
from .._shadows import Shadows
from .records import CellRecord


class RouteTable:
    def __init__(
        self,
        names: dict[int, str] | None = None,
        records: Callable[[], Iterable[CellRecord]] = tuple,
    ) -> None:
        # id(router) -> the notebook name it was bound to: an include of a router made anew
        # under the same name has the same replacement key.
        self.names: dict[int, str] = {} if names is None else names
        self.records = records  # the cell records that may hold a route, for `stand_in`
        self.owner: dict[int, str] = {}  # id(route) -> the cell id whose record holds it
        self.shadows: Shadows[BaseRoute] = Shadows()
        self.dependency_users: dict[int, int] = {}  # id(dependency callable) -> live routes using it
        self.taken: list[tuple[BaseRoute, BaseRoute]] = []  # (old, new) slot changes this cell
        self._includes: dict[int, tuple[list[BaseRoute], int, list[Router]]] = {}
        self._route_ids: dict[int, tuple[list[BaseRoute], list[int]]] = {}  # see `locate`
        self._indexes: dict[int, RouteIndex] = {}

    def clear_caches(self) -> None:
        """Another app is served: what was cached about the old one's routers goes."""
        self._indexes.clear()
        self._includes.clear()
        self._route_ids.clear()
        self.dependency_users.clear()

    def forget_routers(self, keep: Container[int]) -> None:
        """Drop the caches of routers not in `keep` (ids): they hold their routes alive."""
        for cache in (self._indexes, self._includes, self._route_ids):
            for router_id in [key for key in cache if key not in keep]:
                del cache[router_id]

    # --- finding the routers --------------------------------------------------------------------

    def routers(self, roots: Iterable[Router]) -> list[Router]:
        """`roots` and every router they include, at any depth, each once."""
        pending = list(roots)
        found: dict[int, Router] = {}
        while pending:
            router = pending.pop()
            if id(router) in found:
                continue
            found[id(router)] = router
            pending.extend(self.included_in(router))
        return list(found.values())

    def included_in(self, router: Router) -> list[Router]:
        # Every cell pays for this: reuse what was seen, scan only what decorators appended.
        routes = router.routes
        cached = self._includes.get(id(router))
        if cached is not None and cached[0] is routes and len(routes) >= cached[1]:
            if len(routes) == cached[1]:
                return cached[2]
            targets = cached[2] + _include_targets(routes[cached[1] :])
        else:
            targets = _include_targets(routes)
        self._includes[id(router)] = (routes, len(routes), targets)
        return targets

    def forget_includes(self, router: Router) -> None:
        self._includes.pop(id(router), None)

    # --- keys and positions ---------------------------------------------------------------------

    def key(self, route: BaseRoute) -> Hashable:
        return route_key(route, self.names)

    def index(self, router: Router, routes: list[BaseRoute]) -> RouteIndex:
        """`router`'s index, built from `routes` the first time it is asked for."""
        index = self._indexes.get(id(router))
        if index is None:
            index = self._indexes[id(router)] = RouteIndex(routes, self.key)
        return index

    def locate(
        self, router: Router, routes: list[BaseRoute], wanted: list[BaseRoute], hints: dict[int, int]
    ) -> tuple[list[int], dict[int, int]]:
        """The ids of `routes` and the positions of `wanted` in it.

        Mapping 5,000 routes to ids costs more than the rest of an edit, so the ids are kept per
        router. The cache and `hints` (id -> likely position) are only hints: a position is used
        only if the route is found there.
        """
        cached = self._route_ids.get(id(router))
        if cached is not None and cached[0] is routes and len(cached[1]) <= len(routes):
            ids = cached[1] + list(map(id, routes[len(cached[1]) :]))
            found = _positions(routes, ids, wanted, hints)
            if len(found) < len(wanted):  # a stale hint, or really gone: ask the list itself
                ids = list(map(id, routes))
                found = _positions(routes, ids, wanted, hints)
        else:
            ids = list(map(id, routes))
            found = _positions(routes, ids, wanted, hints)
        self._route_ids[id(router)] = (routes, ids)
        return ids, found

    def remember_ids(self, router: Router, routes: list[BaseRoute], ids: list[int]) -> None:
        """`ids` are those of `routes`, now `router.routes`: the next `locate` starts from them."""
        self._route_ids[id(router)] = (routes, ids)

    # --- changing a router ----------------------------------------------------------------------

    def assign(
        self,
        router: Router,
        routes: list[BaseRoute],
        removed: Sequence[BaseRoute] = (),
        added: Sequence[BaseRoute] = (),
        replaced_by: Mapping[int, BaseRoute] | None = None,
    ) -> None:
        """Serve `routes` on `router`; `removed` and `added` say how they differ from before, and
        `replaced_by` (id(removed) -> added) which added route takes a removed one's place."""
        targets = self.included_in(router)
        if any(map(private.is_included_router, [*removed, *added])):
            self._includes.pop(id(router), None)
        else:
            self._includes[id(router)] = (routes, len(routes), targets)
        index = self.index(router, router.routes)
        for route in removed:
            index.remove(route)
            self.count_dependencies(route, -1)
        for route in added:
            index.add(route)
            self.count_dependencies(route, +1)
        private.set_routes(router, routes)  # the serving thread sees old or new, never half
        if removed:
            self._follow_callbacks(removed, replaced_by or {})

    def _follow_callbacks(self, removed: Sequence[BaseRoute], replaced_by: Mapping[int, BaseRoute]) -> None:
        """A route made with `callbacks=router.routes` got a copy of that list: a fresh run of the
        notebook copies the callbacks as their cells now define them. So a callback route
        replaced takes its place in the copies too, and one removed leaves them."""
        for old in removed:
            new = replaced_by.get(id(old))
            for index in self._indexes.values():
                for user in index.callback_users.pop(id(old), ()):
                    callbacks = user.callbacks or []
                    if new is None:
                        user.callbacks = [c for c in callbacks if c is not old]
                    else:
                        user.callbacks = [new if c is old else c for c in callbacks]
                        index.callback_users.setdefault(id(new), []).append(user)

    def count_dependencies(self, route: BaseRoute, delta: int) -> None:
        """Keep count of the live routes that use each dependency (their whole Depends tree)."""
        users = self.dependency_users
        for call in dependency_calls(route):
            users[id(call)] = users.get(id(call), 0) + delta

    def stand_in(self, router: Router, old: list[BaseRoute], new: dict[int, BaseRoute]) -> None:
        """Entries replaced in place (`new`: id(old) -> new) stand for the old ones in cell
        records and histories, so editing or deleting their cell still takes them away."""
        for route in old:
            self.shadows.replace(route, new[id(route)])
            owner = self.owner.pop(id(route), None)
            if owner is not None:
                self.owner[id(new[id(route)])] = owner
        for record in self.records():
            if any(id(r) in new for _, r in record.routes):
                record.routes = [(at, new.get(id(r), r)) for at, r in record.routes]
        self._route_ids.pop(id(router), None)


def _include_targets(routes: list[BaseRoute]) -> list[Router]:
    return [private.included_router_target(r) for r in routes if private.is_included_router(r)]


def _positions(
    routes: list[BaseRoute], ids: list[int], wanted: list[BaseRoute], hints: dict[int, int]
) -> dict[int, int]:
    """id(route) -> its position in `routes`, for each of `wanted` found where a hint or `ids`
    says."""
    found: dict[int, int] = {}
    for route in wanted:
        hint = hints.get(id(route), -1)
        if 0 <= hint < len(routes) and routes[hint] is route:
            found[id(route)] = hint
            continue
        try:
            position = ids.index(id(route))
        except ValueError:
            continue
        if routes[position] is route:
            found[id(route)] = position
    return found
