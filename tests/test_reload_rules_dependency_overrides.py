"""kernel_ext/_reload/_rules/dependency_overrides.py on a bare FastAPI app: no IPython, no server."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from kernel_ext._reload._oldversions import OldVersions
from kernel_ext._reload._rules.dependency_overrides import point_old_versions_at_newest


def version(n: int) -> Any:
    def get_user() -> str:
        return f"v{n}"

    return get_user


def app_using(dependency: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    def me(user: str = Depends(dependency)) -> str:
        return user

    return app


def test_a_route_holding_the_old_version_reaches_the_newest() -> None:
    v1, v2, v3 = version(1), version(2), version(3)
    app = app_using(v1)
    old = OldVersions()
    old.add(v1, "get_user")
    point_old_versions_at_newest(app, ["get_user"], old, {"get_user": v2}, {id(v1): 1})
    old.add(v2, "get_user")
    point_old_versions_at_newest(app, ["get_user"], old, {"get_user": v3}, {id(v1): 1})
    # Not transitive in FastAPI: v1 maps straight to v3.
    assert app.dependency_overrides.reloaded[v1] is v3
    assert TestClient(app).get("/me").json() == "v3"


def test_the_users_own_overrides_are_kept_and_win() -> None:
    v1, v2 = version(1), version(2)
    app = app_using(v1)
    fake = version(99)
    app.dependency_overrides[v2] = fake
    old = OldVersions()
    old.add(v1, "get_user")
    point_old_versions_at_newest(app, ["get_user"], old, {"get_user": v2}, {id(v1): 1})
    assert dict(app.dependency_overrides) == {v2: fake}  # what the user put there, only
    assert TestClient(app).get("/me").json() == "v99"  # v1 -> v2 -> fake


def test_an_old_version_no_live_route_uses_is_left_unmapped() -> None:
    # Every route using v1 was re-run with v2: a request already matched to an old route then
    # finishes wholly in the old version.
    v1, v2 = version(1), version(2)
    app = app_using(v2)
    old = OldVersions()
    old.add(v1, "get_user")
    point_old_versions_at_newest(app, ["get_user"], old, {"get_user": v2}, {id(v1): 0})
    assert v1 not in app.dependency_overrides.reloaded


def test_an_app_not_seen_before_gets_every_mapping() -> None:
    v1, v2 = version(1), version(2)
    app = app_using(v1)
    old = OldVersions()
    old.add(v1, "get_user")
    point_old_versions_at_newest(app, [], old, {"get_user": v2}, {id(v1): 1})  # nothing rebound
    assert app.dependency_overrides.reloaded[v1] is v2


def test_a_name_rebound_to_something_not_callable_maps_nothing() -> None:
    v1 = version(1)
    app = app_using(v1)
    old = OldVersions()
    old.add(v1, "get_user")
    point_old_versions_at_newest(app, ["get_user"], old, {"get_user": 3}, {id(v1): 1})
    assert v1 not in app.dependency_overrides.reloaded
