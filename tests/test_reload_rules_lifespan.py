"""kernel_ext/_reload/_rules/lifespan.py on bare FastAPI apps: no IPython, no server."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from kernel_ext._reload._rules.lifespan import LifespanInputs


def app_with_lifespan() -> tuple[FastAPI, Any, dict[str, Any]]:
    namespace: dict[str, Any] = {"ml_models": {}, "unrelated": 1}
    code = "async def lifespan(app):\n    ml_models['m'] = 1\n    yield\n    ml_models.clear()\n"
    exec(code, namespace)
    function = namespace["lifespan"]
    return FastAPI(lifespan=asynccontextmanager(function)), function, namespace


def test_rebinding_a_global_the_lifespan_reads_changes_it() -> None:
    app, _, namespace = app_with_lifespan()
    before = dict(namespace)
    namespace["ml_models"] = {}
    assert LifespanInputs().changed(app, before, namespace, ["ml_models"])


def test_rebinding_another_name_does_not() -> None:
    app, _, namespace = app_with_lifespan()
    before = dict(namespace)
    namespace["unrelated"] = 2
    inputs = LifespanInputs()
    assert not inputs.changed(app, before, namespace, ["unrelated"])
    assert not inputs.changed(app, before, namespace, ["unrelated"])  # from its cache


def test_redefining_the_lifespan_function_puts_the_new_one_on_the_app() -> None:
    app, old, namespace = app_with_lifespan()
    before = dict(namespace)
    exec("async def lifespan(app):\n    yield\n", namespace)
    assert LifespanInputs().changed(app, before, namespace, ["lifespan"])
    assert app.router.lifespan_context.__wrapped__ is namespace["lifespan"]
    assert namespace["lifespan"] is not old


def test_an_app_without_a_lifespan_function_has_nothing_to_change() -> None:
    assert not LifespanInputs().changed(FastAPI(), {}, {"x": 1}, ["x"])
