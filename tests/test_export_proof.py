"""The proof: every notebook that builds an app, exported and served by gunicorn with the
worker count the export chose (two uvicorn workers, one for an app that keeps state in process
memory), answers the notebook's own requests and WebSocket exchanges as the notebook's server did.

How (kernel_ext/_export/_replay.py): the notebook runs under nbclient in a real kernel with a
recorder cell injected first (it wraps httpx's transports and websockets' sync client) and a
cell injected last that replays everything against the notebook's final app. The export then
serves under gunicorn, gets the same requests in the same order, each HTTP request on a fresh
connection, and its statuses, bodies and WebSocket messages are compared.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kernel_ext._export import ExportError
from kernel_ext._export._cells import read_notebook
from kernel_ext._export._plan import make_plan
from tests.support.export_replay import gunicorn, prove, spread
from tests.support.notebooks import write_notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
# Both the kernel and gunicorn get this, so a token the notebook was issued stays valid.
ENV = {"SECRET_KEY": "export-proof-secret-key-0123456789abcdef0123456789"}


# Notebooks whose app can't be exported as they stand, and why.
NOT_EXPORTED = {"04_modules.ipynb": "it writes the module its app imports, and deletes it at its end"}


def why_not(notebook: Path) -> str | None:
    if notebook.name in NOT_EXPORTED:
        return NOT_EXPORTED[notebook.name]
    cells = read_notebook(notebook)
    if not any("%load_ext kernel_ext" in cell.source for cell in cells):
        return "it does not load kernel_ext"
    try:
        make_plan(cells)
    except ExportError as exc:
        if "no cell defines `app`" in str(exc):
            return "it builds no app"
    return None


def check(notebook: Path, workdir: Path) -> None:
    proof = prove(notebook, workdir, env=ENV)
    assert not proof.problems, "\n".join(proof.problems)
    assert proof.recording.openapi is not None or proof.compared > 0
    if proof.workers == 2 and proof.compared >= 8:
        # A stateless claim is tested across both workers, not on one keep-alive connection.
        assert proof.workers_seen == 2, "every replayed request went to the same worker"
    # Plain Python imports it: no IPython, no kernel_ext.
    check = "import sys, app.main\nprint(sorted({'IPython', 'kernel_ext', 'ipykernel'} & set(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", check],
        cwd=proof.app_dir,
        env=proof.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip() == "[]", done.stderr


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_exported_notebook_serves_what_the_notebook_served(notebook: Path, tmp_path: Path) -> None:
    reason = why_not(notebook)
    if reason:
        pytest.skip(f"{notebook.name}: {reason}")
    check(notebook, tmp_path)


# --- our own notebooks, so the proof does not depend only on others' ----------------------------

LOAD = "%load_ext kernel_ext"
CLIENT = "import httpx\nimport kernel_ext\n\nclient = httpx.Client(base_url=kernel_ext.base_url())"
EDITS = [
    LOAD,
    CLIENT,
    "from typing import Annotated\n\nfrom fastapi import Depends, FastAPI, HTTPException\n"
    "from pydantic import BaseModel\n\napp = FastAPI()\nitems: dict[int, dict] = {}",
    "class Item(BaseModel):\n    name: str",
    "def paging(limit: int = 2):\n    return {'limit': limit}",
    "@app.post('/items/{item_id}')\ndef put(item_id: int, item: Item) -> Item:\n"
    "    items[item_id] = item.model_dump()\n    return item\n\n"
    "@app.get('/items')\ndef all_items(page: Annotated[dict, Depends(paging)]):\n"
    "    return list(items.values())[: page['limit']]\n\n"
    "@app.get('/items/{item_id}')\ndef one(item_id: int):\n"
    "    if item_id not in items:\n        raise HTTPException(404, 'no such item')\n"
    "    return items[item_id]",
    "for i, name in enumerate(['pen', 'ink', 'pad']):\n"
    "    assert client.post(f'/items/{i}', json={'name': name}).status_code == 200\n"
    "assert client.get('/items').json() == [{'name': 'pen'}, {'name': 'ink'}]\n"
    "assert client.get('/items/9').status_code == 404",
    "# live edits: a model, a dependency, a route\n"
    "class Item(BaseModel):\n    name: str\n    price: float = 1.5",
    "def paging(limit: int = 10):\n    return {'limit': limit}",
    "@app.get('/items/{item_id}')\ndef one(item_id: int):\n    return items.get(item_id, {})",
    "assert client.post('/items/7', json={'name': 'cap'}).json() == {'name': 'cap', 'price': 1.5}\n"
    "assert len(client.get('/items').json()) == 4\n"
    "assert client.get('/items/9').json() == {}\n"
    "r = client.post('/items/8', json={'price': 2})\nassert r.status_code == 422",
    ("%%http\nGET /items/7\n", []),
    ("client.get('/boom').raise_for_status()", ["raises-exception"]),
]
SECRET = [
    LOAD,
    CLIENT,
    "import secrets\n\nfrom fastapi import FastAPI, Header, HTTPException\n\napp = FastAPI()\n"
    "API_TOKEN = 'notebook-token'\n\n"
    "@app.get('/private')\ndef private(x_token: str = Header('')):\n"
    "    if not secrets.compare_digest(x_token.encode(), API_TOKEN.encode()):\n"
    "        raise HTTPException(401, 'bad token')\n    return {'ok': True}",
    "assert client.get('/private', headers={'x-token': 'notebook-token'}).json() == {'ok': True}\n"
    "assert client.get('/private', headers={'x-token': 'nope'}).status_code == 401",
]


@pytest.mark.parametrize(("name", "cells"), [("edits", EDITS), ("secret", SECRET)])
def test_our_notebooks(name: str, cells: list, tmp_path: Path) -> None:
    (tmp_path / "nb").mkdir()
    notebook = write_notebook(tmp_path / "nb" / f"{name}.ipynb", cells)
    check(notebook, tmp_path / "work")


def test_a_difference_is_reported(tmp_path: Path) -> None:
    """The proof can fail: a cell marked skip changes what the export serves."""
    cells = [
        LOAD,
        CLIENT,
        "from fastapi import FastAPI\napp = FastAPI()\n\n@app.get('/v')\ndef v():\n    return 1",
        ("@app.get('/v')\ndef v():\n    return 2", ["kernel_ext:skip"]),
        "assert client.get('/v').json() == 2",
    ]
    (tmp_path / "nb").mkdir()
    notebook = write_notebook(tmp_path / "nb" / "differs.ipynb", cells)
    proof = prove(notebook, tmp_path / "work", env=ENV)
    assert proof.problems == ["GET /v: notebook 200 '2', gunicorn 200 '1'"]


STORE = [
    LOAD,
    CLIENT,
    "from fastapi import FastAPI, HTTPException\napp = FastAPI()\nnames: dict[int, str] = {}\n\n"
    "@app.put('/names/{k}')\ndef put(k: int, name: str):\n    names[k] = name\n\n"
    "@app.get('/names/{k}')\ndef get(k: int):\n    if k not in names:\n        raise HTTPException(404)\n"
    "    return names[k]",
    "for k in range(12):\n    assert client.put(f'/names/{k}', params={'name': 'n'}).status_code == 200\n"
    "    assert client.get(f'/names/{k}').json() == 'n'",
]


def test_state_in_process_memory_runs_one_worker_and_two_would_fail(tmp_path: Path) -> None:
    """The export chose one worker for this app; the proof shows why two would not do."""
    (tmp_path / "nb").mkdir()
    notebook = write_notebook(tmp_path / "nb" / "store.ipynb", STORE)
    proof = prove(notebook, tmp_path / "one", env=ENV)
    assert (proof.workers, proof.problems) == (1, [])
    two = prove(notebook, tmp_path / "two", env=ENV, workers=2, recording=proof.recording)
    assert two.workers_seen == 2, "every replayed request went to the same worker"
    # A name stored through one worker is missing on the other.
    assert two.problems and all(p.startswith("GET /names/") for p in two.problems), two.problems
    # Should the replay reach one worker only, the stable GETs are sent again side by side until
    # both have answered: here on a server that saw no PUT, so each answer is a difference.
    with gunicorn(two.app_dir, two.env, workers=2) as served:
        seen, problems = spread(proof.recording, served, served.log_size(), workers=2)
    assert len(seen) == 2
    assert problems and all(
        p.startswith("GET /names/") and p.endswith("(sent again, side by side)") for p in problems
    )
