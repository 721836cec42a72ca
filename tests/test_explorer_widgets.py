"""kernel_ext._explorer._widgets: the right input for each parameter, kept across refreshes."""

from __future__ import annotations

from typing import Annotated

import ipywidgets as widgets
from fastapi import FastAPI, Query
from pydantic import BaseModel

from kernel_ext._explorer import Explorer
from kernel_ext._explorer._widgets import ParamInput
from tests.support.explorer_app import demo_app


def explorer(app: FastAPI) -> Explorer:
    return Explorer(lambda: app, "http://127.0.0.1:9")


def test_each_kind_of_parameter_gets_its_widget() -> None:
    ex = explorer(demo_app())
    form = ex.select("GET", "/items/{item_id}")
    kinds = {item.param.name: type(item.typed) for item in form.inputs}
    assert kinds == {
        "item_id": widgets.IntText,
        "q": widgets.Text,
        "limit": widgets.IntText,
        "color": widgets.Dropdown,
        "flag": widgets.Dropdown,
        "ids": widgets.IntsInput,
        "x-trace": widgets.Text,
        "session": widgets.Text,
    }
    assert [v for _, v in form.find("color").typed.options] == ["red", "blue"]
    assert form.find("limit").typed.value == 10  # the default, shown but not sent
    assert not form.find("limit").enabled.value and form.find("item_id").enabled.value
    assert "1 ≤ x ≤ 100" in form.find("limit").hint.value
    assert form.find("x_trace") is form.find("x-trace")  # Python spelling of a header name
    login = ex.select("POST", "/login")
    assert isinstance(login.find("password").typed, widgets.Password)


def test_list_and_float_parameters() -> None:
    app = FastAPI()

    @app.get("/f")
    def f(
        ratio: Annotated[float, Query(gt=0)] = 0.5,
        names: Annotated[list[str], Query()] = [],  # noqa: B006
        weights: Annotated[list[float], Query()] = [],  # noqa: B006
    ) -> None: ...

    form = explorer(app).select("GET", "/f")
    assert isinstance(form.find("ratio").typed, widgets.FloatText)
    assert isinstance(form.find("names").typed, widgets.TagsInput)
    assert isinstance(form.find("weights").typed, widgets.FloatsInput)
    form.set(names=["a", "b"], ratio=2)
    assert form.find("names").request_values() == ["a", "b"]
    assert form.find("ratio").request_values() == ["2.0"]


def test_raw_toggle_swaps_in_a_text_box() -> None:
    ex = explorer(demo_app())
    item = ex.select("GET", "/items/{item_id}").find("item_id")
    assert item.widget.children[2] is item.typed
    item.raw_toggle.value = True
    assert item.widget.children[2] is item.raw_text
    item.raw_text.value = "1e3"
    assert item.request_values() == ["1e3"]
    item.raw_toggle.value = False
    assert item.request_values() == ["0"]


def test_strings_have_no_raw_toggle() -> None:
    item = explorer(demo_app()).select("GET", "/items/{item_id}").find("q")
    assert item.raw_toggle is None
    item.set(17)
    assert item.request_values() == ["17"]


def test_set_then_snapshot_restore_round_trip() -> None:
    ex = explorer(demo_app())
    source = ex.select("GET", "/items/{item_id}").find("limit")
    source.set("many")
    copy = ParamInput(source.param)
    copy.restore(source.snapshot())
    assert copy.raw and copy.get() == "many" and copy.enabled.value


class Before(BaseModel):
    name: str


class After(BaseModel):
    name: str
    size: int = 1


def versioned_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    def read(item_id: int, q: str | None = None) -> dict[str, int]:
        return {"item_id": item_id}

    @app.post("/things")
    def create(thing: Before) -> Before:
        return thing

    @app.get("/gone")
    def gone() -> None: ...

    return app


def replace_route(app: FastAPI, path: str, method: str, endpoint: object) -> None:
    """What a re-run cell leaves behind: a new route object in the old one's place."""
    index = next(
        i
        for i, r in enumerate(app.router.routes)
        if getattr(r, "path", None) == path and method in getattr(r, "methods", ())
    )
    app.add_api_route(path, endpoint, methods=[method])  # type: ignore[arg-type]
    app.router.routes[index] = app.router.routes.pop()
    app.router._mark_routes_changed()


def test_refresh_keeps_what_was_typed_for_routes_that_still_exist() -> None:
    app = versioned_app()
    ex = explorer(app)
    form = ex.select("GET", "/items/{item_id}")
    ex.set(item_id=7, q="typed")
    kept = form.find("q")

    def read(item_id: int, q: str | None = None, extra: int = 3) -> dict[str, int]:
        return {"item_id": item_id}

    replace_route(app, "/items/{item_id}", "GET", read)
    ex.refresh()
    assert ex.values == {"item_id": 7, "q": "typed", "extra": None}
    assert ex.form.find("q") is kept  # an unchanged parameter keeps its very widgets
    assert ex.form_box.children == (ex.form.widget,)


def test_refresh_keeps_an_edited_body_and_follows_the_model_otherwise() -> None:
    app = versioned_app()
    ex = explorer(app)
    ex.select("POST", "/things")
    assert ex.body == {"name": "string"}

    def create(thing: After) -> After:
        return thing

    replace_route(app, "/things", "POST", create)
    ex.refresh()
    assert ex.body == {"name": "string", "size": 1}  # untouched: the new example
    ex.body = {"name": "mine"}

    def create_again(thing: Before) -> Before:
        return thing

    replace_route(app, "/things", "POST", create_again)
    ex.refresh()
    assert ex.body == {"name": "mine"}  # typed by the user: kept


def test_refresh_drops_removed_routes_and_lists_new_ones() -> None:
    app = versioned_app()
    ex = explorer(app)
    ex.select("GET", "/gone")
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", "") != "/gone"]
    app.router._mark_routes_changed()

    @app.get("/new")
    def new() -> None: ...

    ex.refresh()
    keys = [key for _, key in ex.picker.options]
    assert ("GET", "/gone") not in keys and ("GET", "/new") in keys
    assert ex.operation is not None and ex.operation.key != ("GET", "/gone")


def test_unchanged_refresh_keeps_the_same_form() -> None:
    app = versioned_app()
    ex = explorer(app)
    form = ex.select("GET", "/items/{item_id}")
    options = ex.picker.options
    ex.refresh()
    assert ex.form is form and ex.picker.options == options


def test_a_new_app_object_is_picked_up() -> None:
    apps = [versioned_app()]
    ex = Explorer(lambda: apps[-1], "http://127.0.0.1:9")
    ex.select("GET", "/items/{item_id}")
    ex.set(item_id=3)
    apps.append(versioned_app())
    ex.refresh()
    assert ex.values["item_id"] == 3
