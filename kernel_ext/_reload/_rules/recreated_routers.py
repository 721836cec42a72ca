"""A router or sub-app made anew replaces the old one wherever the old one was used.

A re-run `router = APIRouter()` cell, or a reloaded module, makes a new object; the app still
includes (or mounts) the old one. A fresh run would include the new one, in the same place and
with the same prefix, and the routes other cells put on the router would be on the new one
(those cells run after it). The include entries are swapped in one assignment per router, and
stand in for the old entries in cell records, so editing their cell still takes them away.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.routing import APIRouter
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Router

from ... import _compat as private
from .records import MISSING, CellRecord
from .route_table import RouteTable


def find_recreated(
    before: Mapping[str, Any], namespace: Mapping[str, Any], rebound: Sequence[str], served: Any
) -> dict[int, Any]:
    """id(old) -> new, for routers and sub-apps a cell made anew under the same name (`before`:
    the names' values before the cell). The served app is never replaced this way."""
    found: dict[int, Any] = {}
    for name in rebound:
        old, new = before.get(name, MISSING), namespace.get(name)
        if old is new or old is served:
            continue
        if (isinstance(old, APIRouter) and isinstance(new, APIRouter)) or (
            isinstance(old, Starlette) and isinstance(new, Starlette)
        ):
            found[id(old)] = new
    return found


def retarget_includes(table: RouteTable, routers: Sequence[Router], recreated: Mapping[int, Any]) -> int:
    """Includes and mounts of a recreated router or sub-app point at the new one, where they
    were. Returns how many entries changed."""
    changed = 0
    for router in routers:
        routes = list(router.routes)
        removed, added = [], []
        for position, route in enumerate(routes):
            if private.is_included_router(route):
                target = recreated.get(id(private.included_router_target(route)))
                if isinstance(target, APIRouter):
                    routes[position] = private.repoint_include(route, target)
                    removed.append(route)
                    added.append(routes[position])
            elif isinstance(route, Mount) and id(route.app) in recreated:
                changed += private.retarget_mount(route, recreated[id(route.app)])
        if added:
            pairs = {id(o): n for o, n in zip(removed, added, strict=True)}
            table.assign(router, routes, removed=removed, added=added, replaced_by=pairs)
            table.stand_in(router, removed, pairs)
            changed += len(added)
    return changed


def rehome_routes(
    table: RouteTable,
    before: Mapping[str, Any],
    namespace: Mapping[str, Any],
    rebound: Sequence[str],
    cell_id: str | None,
    cells: Mapping[str, CellRecord],
) -> int:
    """Routes other live cells (`cells`) put on a router or sub-app this cell made anew move to
    the new one: in a fresh run those cells run after this one, on the new object. Returns how
    many routes moved."""
    moved_count = 0
    owner = table.owner
    for name in rebound:
        old, new = before.get(name, MISSING), namespace.get(name)
        old_router, new_router = getattr(old, "router", old), getattr(new, "router", new)
        if old is new or not (isinstance(old_router, Router) and isinstance(new_router, Router)):
            continue
        moved = [
            r for r in old_router.routes if owner.get(id(r)) not in (None, cell_id) and owner[id(r)] in cells
        ]
        if not moved:
            continue
        table.assign(new_router, [*new_router.routes, *moved], added=moved)
        ids = set(map(id, moved))
        for cell in {owner[id(r)] for r in moved}:
            record = cells[cell]
            record.routes = [(new_router if id(r) in ids else at, r) for at, r in record.routes]
        moved_count += len(moved)
    return moved_count


def repoint_replaced(table: RouteTable, routers: Sequence[Router], replaced: Mapping[int, Any]) -> int:
    """Objects replaced outside the notebook (a reloaded module): each include of an old router,
    and each mount of an old app, serves the new one in its place. Returns how many changed."""
    changed = 0
    for router in routers:
        routes = list(router.routes)
        pairs: dict[int, BaseRoute] = {}
        for position, route in enumerate(routes):
            repointed = _repointed(route, replaced)
            if repointed is not None:
                routes[position] = pairs[id(route)] = repointed
        if pairs:
            removed = [r for r in router.routes if id(r) in pairs]
            table.assign(router, routes, removed=removed, added=list(pairs.values()), replaced_by=pairs)
            table.stand_in(router, removed, pairs)
            changed += len(pairs)
    return changed


def _repointed(route: BaseRoute, replaced: Mapping[int, Any]) -> BaseRoute | None:
    """The same include or mount serving the replacement of what it served, if that was replaced."""
    if private.is_included_router(route):
        new = replaced.get(id(private.included_router_target(route)))
        return private.repoint_include(route, new) if isinstance(new, Router) else None
    if isinstance(route, Mount):
        new = replaced.get(id(route.app))
        return Mount(route.path, app=new, name=route.name) if isinstance(new, Starlette) else None
    return None
