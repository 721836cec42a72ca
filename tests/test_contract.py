"""The contract diff under a cell, in a real IPython shell with the real server."""

from __future__ import annotations

import pytest

import kernel_ext
from kernel_ext._changes._contract import Shapes, compare, index
from tests.support.shell import Shell

APP = """\
from fastapi import FastAPI
from pydantic import BaseModel
app = FastAPI()
class Item(BaseModel):
    name: str
    price: float = 0
    note: str | None = None
@app.get("/items/{item_id}")
def read_item(item_id: int) -> Item:
    return Item(name="x", price=1)
@app.post("/items")
def create_item(item: Item) -> Item:
    return item
"""


def test_a_cell_that_changes_the_api_shows_what_changed(
    shell: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.ok(APP)
    assert kernel_ext.last_diff().added == ["GET /items/{item_id}", "POST /items"]
    capsys.readouterr()
    shell.ok("class Item(BaseModel):\n    name: str\n    price: float")  # note removed, price required
    shown = capsys.readouterr().out
    assert "API changed by In [" in shown and "request body field price: became required" in shown
    diff = kernel_ext.last_diff()
    breaking = {(c.operation, c.where, c.kind) for c in diff.breaking}
    assert breaking == {
        ("GET /items/{item_id}", "response 200 field note", "removed"),
        ("POST /items", "response 200 field note", "removed"),
        ("POST /items", "request body field price", "became required"),
    }
    assert shell.post("/items", json={"name": "a"}).status_code == 422  # and it serves already


def test_cells_that_change_nothing_print_nothing(shell: Shell, capsys: pytest.CaptureFixture[str]) -> None:
    shell.ok(APP)
    first = kernel_ext.last_diff()
    capsys.readouterr()
    shell.ok("x = 1")
    shell.ok('@app.get("/items/{item_id}")\ndef read_item(item_id: int) -> Item:\n    return Item(name="y")')
    assert "API changed" not in capsys.readouterr().out
    assert kernel_ext.last_diff() is first
    assert shell.get("/items/1").json()["name"] == "y"


def test_a_renamed_route_and_a_changed_status(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok(
        '@app.get("/products/{item_id}")\ndef read_item(item_id: int) -> Item:\n    return Item(name="x")'
    )
    moved = kernel_ext.last_diff()
    assert [(c.kind, c.detail) for c in moved] == [
        ("operation moved", "GET /items/{item_id} → GET /products/{item_id}")
    ]
    assert moved.removed == ["GET /items/{item_id}"] and moved.breaking
    shell.ok('@app.post("/items", status_code=201)\ndef create_item(item: Item) -> Item:\n    return item')
    assert [(c.kind, c.detail) for c in kernel_ext.last_diff()] == [("success status changed", "200 → 201")]


def test_diff_off_and_on(shell: Shell, capsys: pytest.CaptureFixture[str]) -> None:
    shell.ok(APP)
    before = kernel_ext.last_diff()
    shell.ok("%api diff off")
    capsys.readouterr()
    shell.ok('@app.get("/quiet")\ndef quiet(): return 1')
    assert "API changed" not in capsys.readouterr().out and kernel_ext.last_diff() is before
    shell.ok("%api diff on")
    shell.ok('@app.get("/loud")\ndef loud(): return 1')
    assert kernel_ext.last_diff().added == ["GET /loud"]  # /quiet was before "on"
    result = shell.ok("%api diff")
    assert result.result is kernel_ext.last_diff()
    assert not shell.run("%api diff sideways").success


def test_a_new_app_shows_its_operations_gone(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok("app = FastAPI()")
    assert sorted(kernel_ext.last_diff().removed) == ["GET /items/{item_id}", "POST /items"]


def test_a_failing_diff_never_breaks_the_cell(
    shell: Shell, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import kernel_ext._changes._contract as contract

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(contract, "compare", broken)
    result = shell.run(APP)
    assert result.success
    assert "the contract diff failed (RuntimeError: boom)" in capsys.readouterr().err
    assert shell.get("/items/1").status_code == 200


def test_only_changed_routes_are_described(shell: Shell) -> None:
    shell.ok(APP + "\nfor i in range(50):\n    app.get(f'/r{i}')(lambda: 1)")
    app = shell.ns["app"]
    shapes = Shapes()
    before = index(app)
    assert compare(before, index(app), shapes).changes == []
    assert shapes._cache == {}  # nothing generated for unchanged routes
    shell.ok("class Item(BaseModel):\n    name: str")
    after = index(shell.ns["app"])
    assert len(compare(before, after, shapes)) > 0
    assert len(shapes._cache) == 4  # the two rebuilt routes, before and after


def test_a_change_between_cells_goes_to_the_request_log(
    shell: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    # As `%api watch` reloading a saved module does: no cell runs, so no cell can show it.
    shell.ok(APP)
    capsys.readouterr()

    def late() -> int:
        return 1

    shell.ns["app"].get("/late")(late)
    shell.session._notify()
    assert "API changed: 1 change" in shell.session.request_log.text()
    assert "+ GET /late" in shell.session.request_log.text()
    assert kernel_ext.last_diff().added == ["GET /late"] and kernel_ext.last_diff().cell is None
    assert "API changed" not in capsys.readouterr().out
