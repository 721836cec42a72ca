"""One router's routes by replacement key and by endpoint name.

Kept in step with every assignment the reloader makes, so settling an edit costs a few dict
lookups instead of a scan of every route: the hook stays flat as an app grows.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from ._routes import endpoint_name

KeyOf = Callable[[BaseRoute], Hashable | None]


class RouteIndex:
    def __init__(self, routes: list[BaseRoute], key_of: KeyOf) -> None:
        self.key_of = key_of
        self.by_key: dict[Hashable, list[BaseRoute]] = {}
        self.by_name: dict[str, list[BaseRoute]] = {}
        # id(callback route) -> the routes made with it in `callbacks=` (FastAPI copies the list)
        self.callback_users: dict[Hashable, list[APIRoute]] = {}
        for route in routes:
            self.add(route)

    def add(self, route: BaseRoute) -> None:
        key = self.key_of(route)
        if key is not None:
            self.by_key.setdefault(key, []).append(route)
        name = endpoint_name(route)
        if name is not None:
            self.by_name.setdefault(name, []).append(route)
        if isinstance(route, APIRoute):
            for callback in route.callbacks or ():
                self.callback_users.setdefault(id(callback), []).append(route)

    def remove(self, route: BaseRoute) -> None:
        _discard(self.by_key, self.key_of(route), route)
        _discard(self.by_name, endpoint_name(route), route)
        if isinstance(route, APIRoute):
            for callback in route.callbacks or ():
                _discard(self.callback_users, id(callback), route)

    def candidates(self, route: BaseRoute, by_name: bool) -> list[BaseRoute]:
        """Routes that `route` might replace; the caller checks each pair."""
        found = list(self.by_key.get(self.key_of(route), ()))
        if by_name:
            found += self.by_name.get(endpoint_name(route) or "", ())
        return found


def _discard(table: dict[Any, list[Any]], key: Hashable | None, route: BaseRoute) -> None:
    if key is None or key not in table:
        return
    kept = [r for r in table[key] if r is not route]
    if kept:
        table[key] = kept
    else:
        del table[key]
