"""`app.dependency_overrides` that also knows which dependencies were redefined.

Routes keep the `Depends(old)` they were created with. Hot reload maps each old version to the
newest in `reloaded`, kept apart from the user's own entries: `clear()` or printing the dict only
touches what the user put there. FastAPI looks an override up once, with `.get(call, call)`; this
`.get` follows the chain through both, so a user's override of the newest version (new → fake)
also reaches routes that still hold an old one (old → new → fake).
"""

from __future__ import annotations

from typing import Any


class ChainedOverrides(dict):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reloaded: dict[Any, Any] = {}

    def get(self, key: Any, default: Any = None) -> Any:
        value, found, seen = key, False, {id(key)}
        while True:
            if _holds(self, value):
                value = dict.__getitem__(self, value)  # the user's entry wins
            elif _holds(self.reloaded, value):
                value = self.reloaded[value]
            else:
                break
            found = True
            if id(value) in seen:
                break
            seen.add(id(value))
        return value if found else default

    def __bool__(self) -> bool:
        # FastAPI skips override lookups when the dict is falsy.
        return dict.__len__(self) > 0 or bool(self.reloaded)


def _holds(mapping: dict[Any, Any], key: Any) -> bool:
    try:
        return dict.__contains__(mapping, key)
    except TypeError:  # an unhashable callable can't be a key
        return False
