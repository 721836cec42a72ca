"""Routes keep the `Depends(old)` they were created with: point every old version at the newest.

FastAPI's overrides are not transitive (v1 -> v2 and v2 -> v3 leave v1 at v2), so each old
version maps straight to the newest. The mappings live in `ChainedOverrides.reloaded`, apart
from the user's own `app.dependency_overrides` entries (see _overrides.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI

from .._oldversions import OldVersions
from .._overrides import ChainedOverrides
from .records import MISSING


def point_old_versions_at_newest(
    app: FastAPI,
    rebound: Iterable[str],
    old_versions: OldVersions,
    namespace: Mapping[str, Any],
    users: Mapping[int, int],
) -> None:
    """Map each old version of the names the cell rebound to the name's current value.

    Only those names are visited, so the cost does not grow with history, except for an app not
    seen before, which gets every mapping. `users` counts the live routes using each callable.
    """
    names: Iterable[str] = rebound
    if not isinstance(app.dependency_overrides, ChainedOverrides):
        app.dependency_overrides = ChainedOverrides(app.dependency_overrides)
        names = old_versions.names()
    reloaded = app.dependency_overrides.reloaded
    for name in names:
        current = namespace.get(name, MISSING)
        if current is MISSING or not callable(current):
            continue
        for old in old_versions.versions(name):
            # A dependency whose every route was re-run with it is left unmapped: a request
            # already matched to an old route then finishes wholly in the old version.
            if current is old or (users.get(id(old)) == 0 and old not in reloaded):
                continue
            reloaded[old] = current
