"""Which apps keep state in process memory (each gunicorn worker would have its own copy)."""

from __future__ import annotations

import ast

import pytest

from kernel_ext._export._state import per_worker_state


def state(source: str) -> list[str]:
    return per_worker_state(ast.parse(source).body)


ROUTE = "@app.get('/x')\ndef x():\n"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "items = {}\n@app.post('/x')\ndef put(k: str):\n    items[k] = 1\n" + ROUTE + "    return items",
            ["`items`, a dict"],
        ),
        (
            "seen = set()\n" + ROUTE + "    seen.add(1)\n    return len(seen)",
            ["`seen`, a set"],
        ),
        (
            "counts = defaultdict(int)\n" + ROUTE + "    counts['x'] += 1\n    return counts",
            ["`counts`, a defaultdict"],
        ),
        (
            "hits = 0\n" + ROUTE + "    global hits\n    hits += 1\n    return hits",
            ["`hits`, rebound with `global`"],
        ),
        (
            "class Manager:\n    def __init__(self):\n        self.active = []\n"
            "    async def connect(self, ws):\n        self.active.append(ws)\n"
            "manager = Manager()\n"
            "@app.websocket('/ws')\nasync def ws(websocket):\n    await manager.connect(websocket)",
            ["`manager`, an object of class Manager"],
        ),
        (
            "ITEMS = {}\ndef get_store():\n    return ITEMS\n"
            "@app.post('/x')\ndef put(k: str, store: dict = Depends(get_store)):\n    store[k] = 1",
            ["`ITEMS`, a dict"],
        ),
        ("engine = create_engine('sqlite://')", ["an in-memory SQLite database"]),
        (
            "engine = create_engine('sqlite:///:memory:', poolclass=StaticPool)",
            ["an in-memory SQLite database"],
        ),
    ],
)
def test_state_each_worker_would_hold(source: str, expected: list[str]) -> None:
    assert state(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        # read only: every worker has the same
        "fake_items_db = {'a': 1}\n" + ROUTE + "    return fake_items_db['a']",
        # written, never read back by the app
        "done = []\ndef task(name):\n    done.append(name)",
        # filled by the lifespan: every worker runs it and gets the same
        "ml_models = {}\n@asynccontextmanager\nasync def lifespan(app):\n    ml_models['m'] = 1\n    yield\n"
        "    ml_models.clear()\n" + ROUTE + "    return ml_models['m']",
        # a local of the same name
        "items = {}\n" + ROUTE + "    items = {}\n    items['a'] = 1\n    return items",
        # changed at import only
        "items = {}\nitems['a'] = 1\n" + ROUTE + "    return items",
        # a class whose methods only read
        "class Repo:\n    def __init__(self):\n        self.rows = [1]\n    def all(self):\n        return self.rows\n"
        "repo = Repo()\n" + ROUTE + "    return repo.all()",
        "engine = create_engine('sqlite:///./app.db')",
        # handed out, but nobody changes what a dependency gives them
        "ITEMS = {}\ndef get_store():\n    return ITEMS\n" + ROUTE + "    return get_store()",
    ],
)
def test_no_state(source: str) -> None:
    assert state(source) == []
