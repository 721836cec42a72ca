"""Response diffs: the rules on plain responses, then the explorer and %%http in a real shell."""

from __future__ import annotations

import httpx
import pytest

from kernel_ext._changes._responsediff import BodyChange, diff_json, diff_responses
from kernel_ext._explorer import Explorer, ExplorerError
from tests.support.shell import Shell


def response(
    status: int = 200, json: object = None, text: str | None = None, **headers: str
) -> httpx.Response:
    if text is not None:
        return httpx.Response(status, text=text, headers=headers)
    return httpx.Response(status, json=json, headers=headers)


def test_json_bodies_compare_path_by_path() -> None:
    before = {"name": "a", "price": 1, "tags": ["x", "y"], "owner": {"id": 1}}
    after = {"name": "a", "price": 1.5, "tags": ["x"], "owner": {"id": 1, "email": "e"}, "new": True}
    assert diff_json(before, after) == [
        BodyChange("price", "changed", 1, 1.5),
        BodyChange("tags[1]", "removed", "y"),
        BodyChange("owner.email", "added", None, "e"),
        BodyChange("new", "added", None, True),
    ]
    assert diff_json({"a": 1}, {"a": 1}) == []
    assert diff_json(1, True) == [BodyChange("", "changed", 1, True)]  # 1 == True, but not the same


def test_status_headers_and_body_together() -> None:
    before = response(200, {"id": 1, "note": "n"}, **{"x-version": "1", "date": "then"})
    after = response(201, {"id": 1}, **{"x-version": "2", "x-new": "y", "date": "now"})
    diff = diff_responses("POST /items", before, after, since=4, now=9)
    assert diff.status == (200, 201)
    assert diff.headers == {"x-new": (None, "y"), "x-version": ("1", "2")}  # date is ignored
    assert diff.body == [BodyChange("note", "removed", "n")]
    text = repr(diff)
    assert text.splitlines()[0] == "POST /items: response changed since In [4]"
    assert "status 200 → 201" in text and "body - note" in text and "header x-new added: y" in text
    assert "since In [4]" in diff._repr_html_()


def test_same_response_and_text_bodies() -> None:
    same = diff_responses("GET /", response(json={"a": 1}), response(json={"a": 1}))
    assert not same and repr(same) == "GET /: same response"
    text = diff_responses("GET /t", response(text="one\ntwo"), response(text="one\nthree"))
    assert text.body == [] and "-two" in text.text_diff and "+three" in text.text_diff


APP = """\
from fastapi import FastAPI
from pydantic import BaseModel
app = FastAPI()
class Item(BaseModel):
    name: str
    note: str = "n"
@app.get("/items/{item_id}")
def read_item(item_id: int) -> Item:
    return Item(name=f"item{item_id}")
"""


def test_explorer_shows_what_changed_when_a_request_is_resent_after_an_edit(shell: Shell) -> None:
    shell.ok(APP)
    shell.ok(
        "import kernel_ext\nex = kernel_ext.explore()\nex.select('GET', '/items/{item_id}')\nex.set(item_id=3)"
    )
    ex: Explorer = shell.ns["ex"]
    send_count = shell.ok("ex.send()").execution_count
    assert ex.history[-1].count == send_count
    assert f"In [{send_count}]" in ex.history[-1].label(0)
    ex.send()  # no cell ran in between: nothing to compare under the response
    assert "response changed" not in ex.output_text and "same response" not in ex.output_text
    assert not ex.diff()  # but the data is there
    shell.ok("class Item(BaseModel):\n    name: str")  # note removed
    ex.resend(-1)
    assert f"since In [{send_count}]" in ex.output_text and "body - note" in ex.output_text
    diff = ex.diff()
    assert diff.since == send_count and diff.body[0].path == "note" and diff.body[0].kind == "removed"
    assert [c.path for c in ex.diff(0, -1).body] == ["note"]


def test_explorer_diff_needs_two_responses_to_the_same_request(shell: Shell) -> None:
    shell.ok(APP)
    ex = shell.ok("import kernel_ext\nkernel_ext.explore()").result
    with pytest.raises(ExplorerError, match="Send a request first"):
        ex.diff()
    ex.select("GET", "/items/{item_id}")
    ex.send()
    with pytest.raises(ExplorerError, match="was sent once"):
        ex.diff()
    with pytest.raises(ExplorerError, match="no entries or two"):
        ex.diff(0)
    with pytest.raises(ExplorerError, match="No history entry 5"):
        ex.diff(0, 5)


def test_http_diff_compares_a_named_request_with_its_last_response(shell: Shell) -> None:
    shell.ok(APP)
    first = shell.ok("%%http --diff\n# @name item\nGET /items/1\n")
    assert first.result.diffs[0].note.startswith("the first response")
    shell.ok(
        "@app.get('/items/{item_id}')\ndef read_item(item_id: int) -> Item:\n    return Item(name='renamed')"
    )
    second = shell.ok("%%http --diff\n# @name item\nGET /items/1\n")
    diff = second.result.diffs[0]
    assert diff.since == first.execution_count and diff.now == second.execution_count
    assert [(c.path, c.before, c.after) for c in diff.body] == [("name", "item1", "renamed")]
    assert f"item: GET /items/1: response changed since In [{first.execution_count}]" in repr(second.result)
    assert not shell.run("%%http --diff\nGET /items/1\n").success  # nothing named: a usage error
