"""Whether a cell changed what the served app's lifespan would do in a fresh run.

A `lifespan=` function runs once, when the server starts. A fresh run of the notebook would run
the current one, reading the current globals; so when a cell redefines the function, the app
takes the new one, and when it rebinds a global the function reads (`ml_models = {}`), the
lifespan has to run again. Running it again is the caller's job; this only tells.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Mapping, Sequence
from typing import Any

from ... import _compat
from .records import MISSING


class LifespanInputs:
    def __init__(self) -> None:
        # id(function) -> (the function, the globals it reads). One entry: the served app's
        # lifespan, read once, since `getclosurevars` walks the code on every call.
        self._reads: dict[int, tuple[Any, frozenset[str]]] = {}

    def changed(
        self, app: Any, before: Mapping[str, Any], namespace: Mapping[str, Any], rebound: Sequence[str]
    ) -> bool:
        """True if the cell redefined `app`'s lifespan function (then `app` takes the new one)
        or rebound a global it reads. `before` holds the names' values before the cell."""
        context = _compat.current_lifespan(app)
        function = inspect.unwrap(context) if callable(context) else None
        if not isinstance(function, types.FunctionType):
            return False
        for name in rebound:
            old, new = before.get(name, MISSING), namespace.get(name)
            if (old is context or old is function) and callable(new):
                _compat.set_lifespan(app, new)
                return True
        reads = self._reads.get(id(function))
        if reads is None or reads[0] is not function:
            reads = (function, frozenset(inspect.getclosurevars(function).globals))
            self._reads = {id(function): reads}
        return not reads[1].isdisjoint(rebound)
