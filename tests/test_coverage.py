"""API coverage: counting in the request path, matching to operations when asked."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI

import kernel_ext
from kernel_ext._changes._coverage import CoverageError, Hits, coverage
from tests.support.shell import Shell


def make_app() -> FastAPI:
    app = FastAPI()
    router = APIRouter(prefix="/users")

    @router.get("/{user_id}")
    def read_user(user_id: int) -> dict:
        return {}

    app.include_router(router)

    @app.get("/items/{item_id}", responses={404: {"description": "missing"}, "5XX": {"description": "down"}})
    def read_item(item_id: int) -> dict:
        return {}

    @app.post("/items", status_code=201)
    def create_item() -> dict:
        return {}

    return app


def test_requests_are_matched_to_operations_including_included_routers() -> None:
    hits = Hits()
    for method, path, status in [
        ("GET", b"/users/1", 200),
        ("GET", b"/users/2", 200),
        ("GET", b"/items/x", 422),
        ("GET", b"/items/7", 503),
        ("GET", b"/docs", 200),
        ("DELETE", b"/items/7", 405),
    ]:
        hits.add(method, path, status)
    report = coverage(make_app(), hits.snapshot())
    assert [op.operation for op in report] == ["GET /users/{user_id}", "GET /items/{item_id}", "POST /items"]
    assert report["GET /users/{user_id}"].hits == 2 and report["GET /users/{user_id}"].statuses == {200: 2}
    assert report["GET /items/{item_id}"].never_seen == ["200", "404"]  # 422 seen, 5XX by 503
    assert report["POST /items"].hits == 0 and report["POST /items"].never_seen == ["201"]
    assert report.missed == ["POST /items"]
    assert report.other_requests == 2
    assert round(report.percent, 1) == 66.7
    assert report.headline() == "API coverage: 2 of 3 operations hit (66.7%)"
    assert "POST /items" in repr(report) and "color:#c62828" in report._repr_html_()


def test_fail_under() -> None:
    report = coverage(make_app(), {("POST", b"/items", 201): 1})
    assert report.fail_under(30) is report
    with pytest.raises(CoverageError, match=r"33.3% is under 50%; never requested: GET /users/\{user_id\}"):
        report.fail_under(50)
    assert coverage(FastAPI(), {}).percent == 100.0  # nothing to cover


def test_hits_are_bounded() -> None:
    import kernel_ext._changes._coverage as module

    hits = Hits()
    for i in range(module.MAX_PATHS + 5):
        hits.add("GET", b"/%d" % i, 200)
    hits.add("GET", b"/0", 200)
    assert len(hits.counts) == module.MAX_PATHS and hits.counts[("GET", b"/0", 200)] == 2


APP = """\
from fastapi import FastAPI, HTTPException
app = FastAPI()
@app.get("/items/{item_id}")
def read_item(item_id: int):
    if item_id > 10:
        raise HTTPException(404)
    return {"id": item_id}
@app.delete("/items/{item_id}")
def delete_item(item_id: int):
    return None
"""


def test_the_served_requests_are_counted_in_a_real_shell(shell: Shell) -> None:
    shell.ok(APP)
    assert shell.get("/items/1").status_code == 200
    assert shell.get("/items/99").status_code == 404
    assert shell.get("/items/%31").status_code == 200  # percent-encoded: still /items/1
    report = kernel_ext.coverage()
    assert report["GET /items/{item_id}"].statuses == {200: 2, 404: 1}
    assert report["DELETE /items/{item_id}"].hits == 0
    assert report.percent == 50.0
    shown = shell.ok("%api coverage")
    assert shown.result.percent == 50.0
    failed = shell.run("%api coverage --fail-under 60")
    assert isinstance(failed.error_in_exec, CoverageError)
    assert "never requested: DELETE /items/{item_id}" in str(failed.error_in_exec)
    with pytest.raises(CoverageError):
        kernel_ext.coverage(fail_under=51)
    assert not shell.run("%api coverage --fail-under many").success
