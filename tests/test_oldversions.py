"""Replaced definitions are held weakly: a model, a dependency and a route replaced by an edit are
collected once nothing in the notebook holds them, and the override chain keeps an old version's
mapping only while something still calls it. Against a real IPython shell and server."""

from __future__ import annotations

import gc
import weakref

from kernel_ext._reload._oldversions import OldVersions
from kernel_ext._reload._overrides import ChainedOverrides
from tests.support.shell import Shell

APP = "from fastapi import FastAPI, Depends\nfrom pydantic import BaseModel\napp = FastAPI()"
MODEL = "class Item(BaseModel):\n    name: str\n    v: int = {i}"
DEPENDENCY = "def paging(limit: int = {i}):\n    return limit"
ROUTE = (
    "@app.post('/items')\ndef create(item: Item, limit: int = Depends(paging)) -> Item:\n"
    "    return Item(name=item.name, v=limit)"
)


def edit(shell: Shell, i: int) -> None:
    """One edit cycle: the model, the dependency, the route using both; then a probe."""
    shell.ok(MODEL.format(i=i), cell_id="model")
    shell.ok(DEPENDENCY.format(i=i), cell_id="dependency")
    shell.ok(ROUTE, cell_id="route")
    assert shell.post("/items", json={"name": "x"}).json() == {"name": "x", "v": i}


def versions(shell: Shell) -> list[weakref.ref]:
    route = next(r for r in shell.ns["app"].router.routes if getattr(r, "path", None) == "/items")
    return [weakref.ref(obj) for obj in (shell.ns["Item"], shell.ns["paging"], shell.ns["create"], route)]


def test_replaced_model_dependency_and_route_are_collected(shell: Shell) -> None:
    shell.ok(APP)
    edit(shell, 1)
    first = versions(shell)
    for i in range(2, 5):
        edit(shell, i)
    gc.collect()
    assert [ref() for ref in first] == [None] * 4
    shell.ok("pass")  # each cell forgets what was collected since the last one
    assert len(shell.session.reloader._notebook.old_versions) <= 3  # the last edit's old versions, at most


def test_a_model_edited_on_its_own_goes_once_the_route_cell_is_rerun(shell: Shell) -> None:
    """The route is rebuilt with a copy of `create` that names the new class. The notebook's own
    `create` still names the old one in its annotations: that is the notebook holding it."""
    shell.ok(APP)
    edit(shell, 1)
    old = weakref.ref(shell.ns["Item"])
    shell.ok(MODEL.format(i=2), cell_id="model")
    assert shell.post("/items", json={"name": "x"}).json() == {"name": "x", "v": 1}
    gc.collect()
    assert old() is shell.ns["create"].__annotations__["item"]
    shell.ok(ROUTE, cell_id="route")
    gc.collect()
    assert old() is None


def test_an_old_version_the_notebook_still_holds_stays_until_let_go(shell: Shell) -> None:
    shell.ok(APP)
    edit(shell, 1)
    shell.ok("kept = paging")
    old = weakref.ref(shell.ns["paging"])
    edit(shell, 2)
    gc.collect()
    assert old() is not None
    shell.ok("del kept")
    edit(shell, 3)
    gc.collect()
    assert old() is None


def test_the_override_chain_keeps_a_mapping_only_while_the_old_version_is_called(shell: Shell) -> None:
    """A route on a router hot reload does not see keeps `Depends(old)`, so its mapping stays,
    and serves the newest version once that router is included; an old version nothing calls
    has no mapping."""
    shell.ok(APP + "\nfrom fastapi import APIRouter\ndef dep():\n    return 'v1'\nrouters = {}")
    shell.ok(
        "routers['a'] = APIRouter()\n@routers['a'].get('/late')\ndef late(v=Depends(dep)):\n    return v"
    )
    shell.ok("def dep():\n    return 'v2'")
    v2 = weakref.ref(shell.ns["dep"])
    shell.ok("def dep():\n    return 'v3'")
    reloaded = shell.ns["app"].dependency_overrides.reloaded
    gc.collect()
    assert len(reloaded) == 1 and v2() is None  # v1, which /late calls; v2 was never called
    shell.ok("app.include_router(routers['a'])")
    assert shell.get("/late").json() == "v3"
    assert len(reloaded) == 1


def test_old_versions_forget_what_was_collected() -> None:
    versions = OldVersions()

    def make() -> object:
        def dep() -> None:
            return None

        return dep

    kept, dropped = make(), make()
    versions.add(kept, "dep")
    versions.add(dropped, "dep")
    gone = id(dropped)
    del dropped
    gc.collect()
    assert versions.collected() == [gone]
    assert versions.versions("dep") == [kept] and gone not in versions and id(kept) in versions
    assert versions.name_of(id(kept)) == "dep"


def test_an_unhashable_or_unweakrefable_old_version_still_maps() -> None:
    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self) -> str:
            return "old"

    overrides = ChainedOverrides()
    old, plain = Unhashable(), len  # builtins take no weak references
    overrides.reloaded[old] = overrides.reloaded[plain] = "new"
    assert overrides.get(old) == overrides.get(plain) == "new"
    assert overrides.get(print, print) is print
