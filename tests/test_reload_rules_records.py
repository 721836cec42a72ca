"""kernel_ext/_reload/_rules/records.py: what a snapshot copies, and what counts as a change."""

from __future__ import annotations

import warnings

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware

from kernel_ext._reload._rules.records import AppState, Changes


def test_an_apps_state_is_a_copy_the_cell_cannot_change() -> None:
    app = FastAPI()
    state = AppState.of(app)
    app.add_middleware(GZipMiddleware)
    app.exception_handler(KeyError)(lambda request, exc: None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # on_event is deprecated, still used
        app.on_event("startup")(lambda: None)
    assert state.middleware == [] and KeyError not in state.handlers
    assert state.events == {"on_startup": [], "on_shutdown": []}


def test_warnings_and_startup_handlers_alone_are_not_a_change_to_the_app() -> None:
    # `any` says whether the OpenAPI schema has to be made again.
    assert not Changes(warnings=["w"], startup=[print], lifespan=True).any
    assert Changes(routes=1).any and Changes(rebuilt=1).any and Changes(middleware=True).any
