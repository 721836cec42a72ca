"""Routes that name a redefined class or dependency are rebuilt with the current one.

A route keeps the classes it was created with (body, `response_model`, `responses`) and the
`Depends(...)` in its signature, and FastAPI reads them only when the route is created; so a
re-run `class Item` cell leaves every route that uses `Item` validating with the old class.
Each such route is created again from its endpoint with the new classes, in the same slot.
Models that nest an old class are the user's to re-run: they are named in a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from fastapi.routing import APIRoute, APIWebSocketRoute
from pydantic import BaseModel
from starlette.routing import BaseRoute, Router

from .._routes import rebuild, repoint_sub_dependencies, route_mentions
from .._types import mentions
from .route_table import RouteTable


def rebuild_stale_routes(
    table: RouteTable,
    routers: Sequence[Router],
    mapping: Mapping[int, Any],
    dependencies_changed: bool,
    warnings: list[str],
) -> int:
    """Rebuild each route that mentions a key of `mapping` (id(old) -> current version); with
    `dependencies_changed`, also those whose dependencies depend on one. A route that can't be
    rebuilt stays, and a line in `warnings` says which cell to re-run. Returns how many."""
    stale = set(mapping)
    repointed: set[int] = set()  # dependencies already re-pointed, across routes
    rebuilt = 0
    for router in routers:
        routes = list(router.routes)
        removed: list[BaseRoute] = []
        added: list[BaseRoute] = []
        for position, route in enumerate(routes):
            sub_changed = dependencies_changed and repoint_sub_dependencies(route, mapping, repointed)
            if not (sub_changed or route_mentions(route, stale)):
                continue
            if not isinstance(route, APIRoute | APIWebSocketRoute):
                continue  # only FastAPI's routes are built from a signature
            try:
                routes[position] = rebuild(route, mapping)
            except Exception as exc:
                warnings.append(
                    f"could not rebuild {getattr(route, 'path', route)!s} with the new "
                    f"classes ({type(exc).__name__}: {exc}); re-run its cell."
                )
                continue
            removed.append(route)
            added.append(routes[position])
            rebuilt += 1
        if added:
            pairs = {id(o): n for o, n in zip(removed, added, strict=True)}
            table.assign(router, routes, removed=removed, added=added, replaced_by=pairs)
            # The rebuilt route is still its cell's: editing or deleting that cell drops it.
            table.stand_in(router, removed, pairs)
    return rebuilt


class NestedModelWarnings:
    """Models that nest an old class can't be rebuilt safely: say which cell to re-run, once,
    and keep saying it (`current`) while the model still nests it."""

    def __init__(self) -> None:
        self._warned: set[tuple[str, int]] = set()  # (model's name, id(old class))
        self._messages: dict[tuple[str, int], str] = {}

    def warn(
        self,
        namespace: Mapping[str, Any],
        new_types: Iterable[int],
        name_of: Callable[[int], str],
        defined_in: Mapping[str, int | None],
    ) -> list[str]:
        """New warnings for the models in `namespace` that nest one of `new_types` (ids of
        classes just redefined; `name_of` gives their names)."""
        found = []
        new_types = list(new_types)
        for name, value in list(namespace.items()):
            for old_id in new_types:
                if (name, old_id) in self._warned or not nests(value, old_id):
                    continue
                self._warned.add((name, old_id))
                old_name = name_of(old_id)
                cell = defined_in.get(name)
                where = f"the cell that defines it (In [{cell}])" if cell else "its cell"
                message = (
                    f"model {name} still uses the old {old_name}; re-run {where} "
                    f"to pick up the new {old_name}."
                )
                self._messages[(name, old_id)] = message
                found.append(message)
        return found

    def current(self, namespace: Mapping[str, Any]) -> list[str]:
        """The warnings whose model still nests the old class."""
        return [
            message
            for (name, old_id), message in self._messages.items()
            if nests(namespace.get(name), old_id)
        ]

    def forget(self, gone: set[int]) -> None:
        """Old classes collected: nothing can nest them any more."""
        self._warned = {key for key in self._warned if key[1] not in gone}
        self._messages = {k: v for k, v in self._messages.items() if k[1] not in gone}


def nests(model: Any, old_id: int) -> bool:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return False
    return any(mentions(f.annotation, {old_id}) for f in model.model_fields.values())
