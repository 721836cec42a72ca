"""kernel_ext/_reload/_namespace.py on a plain dict namespace: no IPython, no server."""

from __future__ import annotations

import gc
from typing import Any

from fastapi import APIRouter, FastAPI

from kernel_ext._reload._namespace import NotebookNames, Rebinding


def rebind(
    names: NotebookNames, ns: dict[str, Any], users: dict[int, int] | None = None, **new: Any
) -> Rebinding:
    """A cell binding `new` in `ns`, tracked (its names known, as _boundnames finds them)."""
    before = {name: ns.get(name) for name in new}
    ns.update(new)
    return names.track(ns, before, False, 3, users or {})


def test_a_redefined_class_is_a_new_type_and_its_old_version_is_kept() -> None:
    names, ns = NotebookNames(), {}
    rebind(names, ns, Item=type("Item", (), {}))
    old = ns["Item"]
    rebinding = rebind(names, ns, Item=type("Item", (), {}))
    assert rebinding.names == ["Item"] and rebinding.new_types == {id(old)}
    assert names.defined_in == {"Item": 3}
    assert names.old_versions.versions("Item") == [old]
    assert names.current_versions(ns) == {id(old): ns["Item"]}


def test_a_redefined_function_is_a_new_dependency_only_if_a_route_uses_it() -> None:
    names, ns = NotebookNames(), {}
    rebind(names, ns, get_db=lambda: 1, helper=lambda: 1)
    used, unused = ns["get_db"], ns["helper"]
    rebinding = rebind(names, ns, {id(used): 1}, get_db=lambda: 2, helper=lambda: 2)
    assert rebinding.new_dependencies == {id(used)}
    assert id(unused) not in names.current_versions(ns)
    assert names.current_versions(ns) == {id(used): ns["get_db"]}


def test_routers_and_apps_bound_to_names_are_the_roots_to_walk() -> None:
    names, ns = NotebookNames(), {}
    router, app = APIRouter(), FastAPI()
    rebind(names, ns, router=router, app=app)
    assert names.routers == {"router": router, "app": app.router}
    assert names.apps == {"app": app}
    assert names.names == {id(router): "router", id(app): "app"}
    rebind(names, ns, router=1, app=None)
    assert names.routers == {} and names.apps == {}


def test_with_everything_the_whole_namespace_is_compared() -> None:
    names, ns = NotebookNames(), {"a": 1, "b": 2}
    before = dict(ns)
    ns["b"] = 3
    assert names.track(ns, before, True, 4, {}).names == ["b"]


def test_collected_old_versions_are_forgotten() -> None:
    names, ns = NotebookNames(), {}
    rebind(names, ns, Item=type("Item", (), {}))
    old_id = id(ns["Item"])
    rebind(names, ns, Item=type("Item", (), {}))  # nothing else holds the old one now
    gc.collect()
    assert names.forget_collected() == {old_id}
    assert names.stale_types == set() and names.current_versions(ns) == {}
