"""kernel_ext._explorer's model without widgets: inputs, forms, request building, sending, history."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from kernel_ext._explorer import ExplorerError, ExplorerModel
from kernel_ext._explorer._catalog import Catalog
from kernel_ext._explorer._inputs import Form, Input
from kernel_ext._explorer._schema import Operation, Param
from tests.support.explorer_app import demo_app
from tests.support.servers import serve

MODEL_MODULES = ("_model", "_inputs", "_auth", "_history", "_schema", "_catalog", "_codegen", "_websocket")


def operation(app: FastAPI, method: str, path: str) -> Operation:
    return next(op for op in Catalog().operations(app) if op.key == (method, path))


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FastAPI, str]]:
    app = demo_app()
    with serve(app) as url:
        yield app, url


@pytest.fixture
def model(server: tuple[FastAPI, str]) -> Iterator[ExplorerModel]:
    app, url = server
    model = ExplorerModel(lambda: app, url)
    model.refresh()
    yield model
    model.close()


def test_the_model_modules_import_no_widgets() -> None:
    folder = Path(__file__).resolve().parents[1] / "kernel_ext" / "_explorer"
    for name in MODEL_MODULES:
        tree = ast.parse((folder / f"{name}.py").read_text())
        imported = {
            alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not {m for m in imported if m.startswith("ipywidgets")}, name
        assert not imported & {"_view", "_widgets", "_panels"}, name


def test_an_input_ticks_when_edited_and_takes_raw_text_it_cannot_hold() -> None:
    item = Input(Param("limit", "query", False, {"type": "integer", "minimum": 1, "maximum": 100}))
    assert not item.enabled and item.get() is None and item.value == 1  # the example: the minimum
    item.value = 500  # what typing into the box does
    assert item.enabled and item.warning == "must be ≤ 100"
    assert item.request_values() == ["500"]
    item.set("many")
    assert item.raw and item.raw_text == "many" and item.warning is None
    item.set(7)
    assert not item.raw and item.get() == 7
    item.set(None)
    assert item.request_values() == []


def test_raw_mode_starts_from_the_typed_value_and_splits_lists() -> None:
    ids = Input(Param("ids", "query", True, {"type": "array", "items": {"type": "integer"}}))
    ids.set(["3", 4])  # cast as the list box casts
    assert ids.get() == [3, 4]
    ids.raw = True
    assert ids.raw_text == "3,4"
    ids.raw_text = "5, 6,"
    assert ids.request_values() == ["5", "6"]
    with pytest.raises(ExplorerError, match="no such file"):
        Input(Param("f", "form", True, {"type": "string", "format": "binary"})).set(Path("/nonexistent"))


def test_what_was_typed_survives_a_change_of_type() -> None:
    before = Input(Param("q", "query", False, {"type": "string"}))
    before.set("abc")
    after = Input(Param("q", "query", False, {"type": "integer"}))
    after.restore(before.snapshot())
    assert after.raw and after.get() == "abc"


def test_a_form_reuses_unchanged_inputs_and_an_untouched_body_follows_the_model() -> None:
    app = demo_app()
    read = Form(operation(app, "GET", "/items/{item_id}"))
    read.set(item_id=5, x_trace="t")  # a header answers to its Python spelling
    again = Form(operation(demo_app(), "GET", "/items/{item_id}"), previous=read)
    assert again.inputs[0] is read.inputs[0] and again.values()["x-trace"] == "t"
    with pytest.raises(ExplorerError, match=r"has no parameter 'nope' \(parameters: item_id, q"):
        read.set(nope=1)
    create = Form(operation(app, "POST", "/items"))
    assert create.get_body()["name"] == "string"
    create.set_body({"name": "pen"})
    assert Form(create.op, previous=create).get_body() == {"name": "pen"}  # typed: kept
    create.set_body("{broken")
    assert create.get_body() == "{broken"


def test_request_spec_gathers_inputs_headers_and_auth(model: ExplorerModel) -> None:
    model.select("GET", "/items/{item_id}")
    model.form.set(item_id=5, q="a b", ids=[1, 2], session="s")
    model.headers["X-Extra"] = "1"
    model.credentials.set_bearer("tok")
    spec = model.request_spec()
    assert spec.path == "/items/5"
    assert spec.params == [("q", "a b"), ("ids", "1"), ("ids", "2")]
    assert spec.cookies == {"session": "s"}
    assert spec.headers == {"X-Extra": "1", "Authorization": "Bearer tok"}
    assert model.headers_text == "X-Extra: 1"


def test_send_records_history_and_resend_diff_and_code_read_it(model: ExplorerModel) -> None:
    model.select("POST", "/items")
    model.form.set_body({"name": "pen", "price": 2.5})
    outcome = model.send()
    assert outcome.response is not None and outcome.response.status_code == 201
    assert model.response is outcome.response and len(model.history) == 1
    again = model.resend(0).response
    assert again is not None and again.json()["name"] == "pen"
    assert not model.diff()  # the same reply twice
    assert '--data-raw \'{"name": "pen", "price": 2.5}\'' in model.code("curl")
    assert "assert response.status_code == 201" in model.code("test")


def test_fetch_token_sets_bearer(model: ExplorerModel) -> None:
    assert model.credentials.token_url == "token"
    assert model.fetch_token("bob", "secret") == "token-bob"
    assert model.credentials.mode == "bearer" and model.credentials.token == "token-bob"
    assert model.fetch_token("bob", "wrong") is None


def test_failures_are_outcomes_and_mistakes_raise(model: ExplorerModel) -> None:
    with pytest.raises(ExplorerError, match="Did you mean: POST /items"):
        model.select("GET", "/items")
    model.select("WS", "/ws/{room}")
    with pytest.raises(ExplorerError, match="use ws_connect"):
        model.send()
    model.select("GET", "/slow")
    model.form.set(seconds=2.0)
    model.timeout = 0.3
    outcome = model.send()
    assert outcome.response is None and outcome.error.startswith("Timed out after 0.3 s")
    assert model.history[-1].error == outcome.error


def test_refresh_follows_the_app_and_keeps_what_was_typed() -> None:
    apps: list[FastAPI | None] = [None]
    model = ExplorerModel(lambda: apps[-1], "http://127.0.0.1:9")
    assert not model.refresh() and model.operations == [] and model.selected is None
    apps.append(demo_app())
    assert model.refresh() and model.selected == model.sorted_operations()[0].key
    model.select("GET", "/items/{item_id}").set(item_id=3)
    apps.append(demo_app())
    model.refresh()
    assert model.selected == ("GET", "/items/{item_id}") and model.form.values()["item_id"] == 3


def test_the_model_runs_where_ipywidgets_cannot_be_imported() -> None:
    code = (
        "import sys\n"
        "sys.modules['ipywidgets'] = None  # any import of it fails\n"
        "from kernel_ext._explorer import ExplorerModel\n"
        "from tests.support.explorer_app import demo_app\n"
        "model = ExplorerModel(demo_app, 'http://127.0.0.1:9')\n"
        "model.refresh()\n"
        "model.select('GET', '/items/{item_id}').set(item_id=4)\n"
        "print(model.request_spec().path)\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "/items/4"
