"""kernel_ext/_reload/_rules/app_registrations.py on bare FastAPI apps: no IPython, no server."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.middleware.gzip import GZipMiddleware

from kernel_ext._reload._rules.app_registrations import AppRegistrations
from kernel_ext._reload._rules.records import AppState, CellRecord


def run_cell(
    registrations: AppRegistrations, served: FastAPI, *apps: FastAPI, add: FastAPI
) -> tuple[CellRecord, bool]:
    """A cell adding GZip middleware to `add`, settled over `apps`."""
    before = {id(app): AppState.of(app) for app in apps}
    add.middleware_stack = None  # as the reloader leaves it before a cell
    add.add_middleware(GZipMiddleware)
    record = CellRecord()
    changed = registrations.settle(apps, served, before, record, set(), dict, False)
    return record, changed


def test_a_change_to_the_served_app_is_reported_for_the_gateway_to_rebuild() -> None:
    registrations, served, sub = AppRegistrations(), FastAPI(), FastAPI()
    record, changed = run_cell(registrations, served, served, sub, add=served)
    assert changed
    assert record.middleware == [(served, served.user_middleware[0])]


def test_a_sub_apps_stack_is_reset_so_it_builds_the_new_one() -> None:
    registrations, served, sub = AppRegistrations(), FastAPI(), FastAPI()
    sub.get("/")(lambda: "ok")
    record, changed = run_cell(registrations, served, served, sub, add=sub)
    assert not changed  # the served app's stack is as it was
    TestClient(sub).get("/")  # builds the sub-app's stack, with GZip
    assert sub.middleware_stack is not None
    assert not registrations.drop_previous([served, sub], served, record, CellRecord())  # cell deleted
    assert sub.middleware_stack is None and sub.user_middleware == []


def test_dropping_what_a_deleted_cell_added_to_the_served_app_reports_it() -> None:
    registrations, served = AppRegistrations(), FastAPI()
    record, _ = run_cell(registrations, served, served, add=served)
    assert registrations.drop_previous([served], served, record, CellRecord())
    assert served.user_middleware == []
    assert not registrations.drop_previous([served], served, record, CellRecord())  # nothing left
