"""Cells that fail: the user sees their own error, the last good state keeps serving, and the
extension adds nothing of its own (no frames, no warnings) to the error output."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.kernel import APP, Kernel, get, kernel_with_app, ok

OURS = re.compile(r"kernel_ext[/\\](?:_\w+|__init__)|kernel_ext:|kernel_ext\._")

GOOD = (
    APP
    + """
from fastapi import Depends

class Item(BaseModel):
    name: str
    price: float

def pricing() -> float:
    return 1.0

@app.post("/items")
def create_item(item: Item, factor: float = Depends(pricing)):
    return {"name": item.name, "price": item.price * factor}

@app.get("/v")
def read_version():
    return {"v": 1}
"""
)

BAD_CELLS = {
    "syntax error": (
        "SyntaxError",
        "@app.get('/v')\ndef read_version(:\n    return {'v': 2}\n",
    ),
    "exception mid-cell": (
        "ZeroDivisionError",
        "@app.get('/v')\ndef read_version():\n    return {'v': 2}\n1 / 0\n"
        "@app.get('/after')\ndef after_error():\n    return 'never'\n",
    ),
    "invalid route signature": (
        "FastAPIError",
        "class Opaque:\n    pass\n\n@app.get('/v')\ndef read_version(thing: Opaque):\n    return {'v': 2}\n",
    ),
    "pydantic schema error at class creation": (
        "PydanticSchemaGenerationError",
        "import threading\n\nclass Item(BaseModel):\n    name: str\n    lock: threading.Lock\n",
    ),
    "pydantic validator on a missing field": (
        "PydanticUserError",
        "from pydantic import field_validator\n\nclass Item(BaseModel):\n    name: str\n\n"
        "    @field_validator('nope')\n    @classmethod\n    def check(cls, v):\n        return v\n",
    ),
    "dependency that raises while defining": (
        "NameError",
        "def pricing() -> float:\n    return 2.0\nundefined_name\n",
    ),
}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Kernel, str]]:
    with kernel_with_app(GOOD) as kernel_and_url:
        yield kernel_and_url


def _state(url: str) -> tuple[int, object, object, int]:
    item = get(url + "/v"), get(url + "/openapi.json")
    created = httpx.post(url + "/items", json={"name": "a", "price": 2}, timeout=10)
    return item[0].status_code, item[0].json(), created.json(), item[1].status_code


@pytest.mark.parametrize("case", list(BAD_CELLS))
def test_bad_cell_shows_the_users_error_and_keeps_serving(served: tuple[Kernel, str], case: str) -> None:
    kernel, url = served
    ename, code = BAD_CELLS[case]
    before = _state(url)
    reply = kernel.run(code)
    assert reply.status == "error" and reply.error is not None
    assert reply.error["ename"] == ename
    # No frames or notes of ours. (The checkout's own folder may be called kernel_ext, and the
    # venv inside it shows in pydantic's frames: look for the package's modules and messages.)
    assert not OURS.search(reply.traceback), reply.traceback
    assert not OURS.search(reply.stderr + reply.stdout), reply.stderr
    if case == "exception mid-cell":
        # What ran before the error is live (last definition wins); nothing after it is.
        assert get(url + "/v").json() == {"v": 2}
        assert get(url + "/after").status_code == 404
        ok(kernel, "@app.get('/v')\ndef read_version():\n    return {'v': 1}")
    if case == "dependency that raises while defining":
        created = httpx.post(url + "/items", json={"name": "a", "price": 2}, timeout=10)
        assert created.json()["price"] == 4.0  # the new dependency, defined before the error
        ok(kernel, "def pricing() -> float:\n    return 1.0")
    assert _state(url) == before == (200, {"v": 1}, {"name": "a", "price": 2.0}, 200)
    assert kernel.run("1 + 1").status == "ok"
