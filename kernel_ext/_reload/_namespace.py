"""The notebook's names: which ones a cell rebound, and the definitions they replaced.

After a cell, the names it could bind (_boundnames.py) are compared with their values before.
A rebound class or dependency function leaves an old version that routes may still hold: it is
kept, weakly (_oldversions.py), so the rules can map it to the current one. Routers and apps
bound to names are the roots the reloader walks for routes, middleware and handlers.
"""

from __future__ import annotations

import operator
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRouter
from starlette.applications import Starlette
from starlette.routing import Router

from .. import _compat as private
from ._oldversions import OldVersions
from ._rules.records import MISSING


@dataclass
class Rebinding:
    """What one cell rebound."""

    names: list[str] = field(default_factory=list)
    new_types: set[int] = field(default_factory=set)  # ids of the classes it replaced
    new_dependencies: set[int] = field(default_factory=set)  # ids of dependencies it replaced


class NotebookNames:
    def __init__(self, names: dict[int, str] | None = None) -> None:
        self.names: dict[int, str] = {} if names is None else names  # id(router or app) -> name
        self.defined_in: dict[str, int | None] = {}  # name -> execution count
        self.old_versions = OldVersions()  # the definitions names had before, while they live
        self.stale_types: set[int] = set()
        self.stale_dependencies: set[int] = set()  # ids of replaced functions that routes used
        self.routers: dict[str, Router] = {}
        self.apps: dict[str, Starlette] = {}  # sub-apps too: their middleware is settled alike

    def track(
        self,
        namespace: Mapping[str, Any],
        before: Mapping[str, Any],
        everything: bool,
        count: int | None,
        dependency_users: Mapping[int, int],
    ) -> Rebinding:
        """Record what the cell rebound: `before` holds the values of the names it could bind
        (of every name, with `everything`); `count` is its execution count."""
        if everything:  # found at C speed, but in proportion to the whole namespace
            changed = list(
                compress(namespace, map(operator.is_not, namespace.values(), map(before.get, namespace)))
            )
        else:
            changed = [
                name for name, old in before.items() if name in namespace and namespace[name] is not old
            ]
        rebinding = Rebinding(changed)
        replaced = False
        for name in changed:
            value = namespace[name]
            old = before.get(name, MISSING)
            self.defined_in[name] = count
            self._track_roots(name, value)
            if not (_is_definition(old) and _is_definition(value)):
                continue
            self.old_versions.add(old, name)
            replaced = True
            if isinstance(old, type) and isinstance(value, type):
                self.stale_types.add(id(old))
                rebinding.new_types.add(id(old))
            elif dependency_users.get(id(old), 0) > 0:
                self.stale_dependencies.add(id(old))
                rebinding.new_dependencies.add(id(old))
        if replaced:  # else FastAPI's and typing's memos keep the old versions alive
            private.forget_memos()
        return rebinding

    def _track_roots(self, name: str, value: Any) -> None:
        """The routers and apps bound to names: where the reloader looks for what changed."""
        if isinstance(value, (APIRouter, FastAPI)):
            self.names.setdefault(id(value), name)  # keys includes of a recreated router
            self.routers[name] = value.router if isinstance(value, FastAPI) else value
        elif name in self.routers:
            del self.routers[name]
        if isinstance(value, Starlette):
            self.apps[name] = value
        else:
            self.apps.pop(name, None)

    def current_versions(self, namespace: Mapping[str, Any]) -> dict[int, Any]:
        """id(old class or dependency) -> its current version, for rebuilding routes."""
        mapping: dict[int, Any] = {}
        for old_id in self.stale_types:
            current = namespace.get(self.old_versions.name_of(old_id), MISSING)
            if isinstance(current, type):
                mapping[old_id] = current
        for old_id in self.stale_dependencies:
            current = namespace.get(self.old_versions.name_of(old_id), MISSING)
            if current is not MISSING and id(current) != old_id and callable(current):
                mapping[old_id] = current
        return mapping

    def forget_collected(self) -> set[int]:
        """Ids of old versions collected since the last call; they are forgotten here."""
        gone = set(self.old_versions.collected())
        self.stale_types -= gone
        self.stale_dependencies -= gone
        return gone


def _is_definition(value: Any) -> bool:
    """What a re-run cell redefines and routes may still hold: functions, classes, and wrapped
    callables such as `@lru_cache` or `functools.wraps` decorators."""
    if isinstance(value, (types.FunctionType, type)):
        return True
    return callable(value) and hasattr(value, "__wrapped__")
