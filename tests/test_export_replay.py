"""The proof's comparison: what counts as the same answer, and that differences are reported."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.export_replay import Answer, Exchange, Recording, WsExchange, _ws_answer, compare
from tests.support.export_replay_ws import WsEvent, event_record

JSON = [("content-type", "application/json")]


def answer(status: int, body: object) -> Answer:
    if isinstance(body, bytes):
        return Answer(status, [("content-type", "text/plain")], body)
    return Answer(status, JSON, json.dumps(body).encode())


def check(before: Answer, after: Answer | None, got: Answer) -> list[str]:
    exchange = Exchange(1, "GET", "/x", [], b"", before, after)
    recording = Recording([exchange], base_url="http://127.0.0.1:8000")
    return compare(recording, {1: got}, "http://127.0.0.1:9000", None)


def test_a_stable_answer_must_be_repeated_exactly() -> None:
    same = answer(200, {"a": 1, "b": [1, 2]})
    assert check(same, same, answer(200, {"b": [1, 2], "a": 1})) == []
    assert check(same, same, answer(200, {"a": 2, "b": [1, 2]})) == [
        'GET /x: notebook 200 \'{"a": 1, "b": [1, 2]}\', gunicorn 200 \'{"a": 2, "b": [1, 2]}\''
    ]
    assert check(same, same, answer(201, {"a": 1, "b": [1, 2]})) != []


def test_the_server_url_in_a_body_is_not_a_difference() -> None:
    mine = answer(200, {"next": "http://127.0.0.1:8000/items?page=2"})
    theirs = answer(200, {"next": "http://127.0.0.1:9000/items?page=2"})
    assert check(mine, mine, theirs) == []


def test_an_answer_that_changed_in_the_notebook_needs_one_of_its_forms() -> None:
    old, new = answer(200, {"q": "x"}), answer(200, {"item_id": 1})
    assert check(old, new, answer(200, {"item_id": 7})) == []  # like the final app
    assert check(old, new, answer(200, {"q": "y"})) == []  # like the first answer
    assert check(old, new, answer(200, {"other": 1})) != []
    assert check(old, new, answer(404, {"q": "x"})) != []


def test_an_error_after_a_teardown_is_not_an_excuse() -> None:
    ok, broken = answer(201, {"id": 1}), answer(500, b"Internal Server Error")
    assert check(ok, broken, answer(201, {"id": 1})) == []
    assert check(ok, broken, answer(500, b"Internal Server Error")) != []


def test_openapi_is_compared_by_its_route_table() -> None:
    def schema(default: int, paths: dict) -> Answer:
        return answer(200, {"paths": paths, "components": {"schemas": {"Item": {"d": default}}}})

    exchange = Exchange(
        1, "GET", "/openapi.json", [], b"", schema(10, {"/a": {"get": {}}}), schema(10, {"/a": {"get": {}}})
    )
    recording = Recording([exchange])
    assert compare(recording, {1: schema(100, {"/a": {"get": {}}})}, "", None) == []
    assert compare(recording, {1: schema(10, {"/b": {"get": {}}})}, "", None) != []


def test_two_live_versions_of_a_notebook_class_count_as_one_schema() -> None:
    from tests.support.export_replay import _schema_outline

    kernel = {"components": {"schemas": {"__main____Item__1": {}, "__main____Item__2": {}, "Order": {}}}}
    exported = {"components": {"schemas": {"Item": {}, "Order": {}}}}
    assert _schema_outline(kernel) == _schema_outline(exported)


def ws_check(before: tuple[int, bytes], after: tuple[int, bytes] | None, got: tuple[int, bytes]) -> list[str]:
    event = WsEvent(3, 1, "recv", "/ws/1")
    exchange = WsExchange(event, _ws_answer(before), _ws_answer(after) if after else None)
    return compare(Recording([], websockets=[exchange]), {3: _ws_answer(got)}, "", None)


def test_a_websocket_message_must_be_one_the_notebook_received() -> None:
    hello = (1, b"Client #1 says: Hello")
    assert ws_check(hello, hello, hello) == []
    assert ws_check(hello, hello, (0, b"nothing arrived")) == [
        "WS /ws/1 (connection 1) message received: notebook 'Client #1 says: Hello', gunicorn nothing arrived"
    ]
    echo = (1, b"You wrote: Hello")  # the route was edited later in the notebook
    assert ws_check(hello, echo, echo) == [] and ws_check(hello, echo, hello) == []
    assert ws_check(hello, echo, (1, b"other")) != []


def test_a_recording_reads_websocket_events_in_sequence(tmp_path: Path) -> None:
    records = [
        WsEvent(1, 1, "connect", "/ws/1", [("x-token", "t")], None, 101),
        WsEvent(2, 1, "send", data="Hello"),
        WsEvent(4, 1, "recv", data=b"\x00bytes"),
        WsEvent(5, 1, "close"),
    ]
    lines = [json.dumps(event_record(e)) for e in records]
    lines.insert(
        2,
        json.dumps(
            {"kind": "request", "seq": 3, "method": "GET", "target": "/x", "headers": [], "content": ""}
        ),
    )
    (tmp_path / "r.jsonl").write_text("\n".join(lines) + "\n")
    recording = Recording.load(tmp_path / "r.jsonl")
    assert [e.seq for e in recording.events()] == [1, 2, 3, 4, 5]
    connect, _, received, _ = recording.websockets
    assert connect.event.headers == [("x-token", "t")] and connect.answer is not None
    assert connect.answer.status == 101
    assert received.event.target == "/ws/1" and received.answer is not None
    assert received.answer.body == b"\x00bytes"


def _jwt(claims: dict, signature: str = "c2ln") -> str:
    import base64

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{signature}"


def test_a_token_issued_a_few_seconds_later_is_the_same_answer() -> None:
    """A notebook's two answers from one second, gunicorn's from the next (issue 14's flake)."""
    mine = answer(200, {"access_token": _jwt({"sub": "alice", "exp": 1_800_000_000}), "token_type": "bearer"})
    later = answer(
        200, {"access_token": _jwt({"sub": "alice", "exp": 1_800_000_003}, "b3RoZXI"), "token_type": "bearer"}
    )
    assert check(mine, mine, later) == []


def test_a_token_with_other_claims_or_far_off_times_differs() -> None:
    mine = answer(200, {"access_token": _jwt({"sub": "alice", "exp": 1_800_000_000})})
    bob = answer(200, {"access_token": _jwt({"sub": "bob", "exp": 1_800_000_000})})
    stale = answer(200, {"access_token": _jwt({"sub": "alice", "exp": 1_700_000_000})})
    assert check(mine, mine, bob) != []
    assert check(mine, mine, stale) != []
    assert check(mine, mine, answer(200, {"access_token": "not-a-token"})) != []
