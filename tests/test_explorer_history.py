"""kernel_ext._explorer._history: what was sent, re-sent on demand."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from kernel_ext._explorer import Explorer, ExplorerError
from tests.support.explorer_app import demo_app
from tests.support.servers import serve


@pytest.fixture
def ex() -> Iterator[Explorer]:
    app = demo_app()
    hits: list[int] = []

    @app.get("/count")
    def count() -> int:
        hits.append(1)
        return len(hits)

    with serve(app) as url:
        explorer = Explorer(lambda: app, url)
        yield explorer
        explorer.close()


def test_every_send_is_recorded(ex: Explorer) -> None:
    ex.select("GET", "/items/{item_id}")
    ex.set(item_id=1)
    ex.send()
    ex.set(item_id="bad")
    ex.send()
    entries = ex.history.entries
    assert [(e.spec.path, e.status_code) for e in entries] == [("/items/1", 200), ("/items/bad", 422)]
    labels = [label for label, _ in ex.history.select.options]
    assert labels[0].startswith("#1 ") and "GET /items/bad → 422" in labels[0]  # newest first


def test_resend_repeats_the_exact_request(ex: Explorer) -> None:
    ex.select("GET", "/count")
    assert ex.send().json() == 1
    ex.select("GET", "/items/{item_id}")
    ex.set(item_id=9)
    ex.send()
    assert ex.resend(0).json() == 2
    assert ex.resend(-2).json()["item_id"] == 9
    assert len(ex.history) == 4


def test_resend_button_uses_the_selected_entry(ex: Explorer) -> None:
    ex.select("GET", "/count")
    ex.send()
    ex.select("GET", "/text")
    ex.send()
    ex.history.select.value = 0
    ex.history.resend_button.click()
    assert ex.response.json() == 2


def test_resend_errors_are_clear(ex: Explorer) -> None:
    with pytest.raises(ExplorerError, match="Nothing has been sent yet"):
        ex.resend()
    ex.select("GET", "/text")
    ex.send()
    with pytest.raises(ExplorerError, match="No history entry 5; there are 1"):
        ex.resend(5)


def test_clear(ex: Explorer) -> None:
    ex.select("GET", "/text")
    ex.send()
    ex.history.clear_button.click()
    assert len(ex.history) == 0 and ex.history.select.options == ()


def test_history_is_bounded(ex: Explorer, monkeypatch: pytest.MonkeyPatch) -> None:
    from kernel_ext._explorer import _history

    monkeypatch.setattr(_history, "MAX_ENTRIES", 3)
    ex.select("GET", "/count")
    for _ in range(5):
        ex.send()
    assert [e.response.json() for e in ex.history.entries] == [3, 4, 5]


def test_errors_are_recorded_too() -> None:
    app: FastAPI = demo_app()
    ex = Explorer(lambda: app, "http://127.0.0.1:9")
    ex.select("GET", "/text")
    ex.timeout = 0.5
    ex.send()
    assert ex.history[-1].response is None and ex.history[-1].status_code is None
    assert "→ error" in ex.history[-1].label(0)
