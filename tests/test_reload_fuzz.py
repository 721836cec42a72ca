"""Hypothesis generates edit sequences; after every step the live app must equal a fresh run.

Fast profile (in `make test`): a few derandomized sequences. Long profile (`make fuzz-reload`,
KERNEL_EXT_FUZZ=long): many random ones; divergences are collected and printed rather than
stopping the run. Every divergence found is a named test in tests/test_reload_regressions.py.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.support.reload_harness import KNOWN, FreshRuns, Notebook, known_as, report, restart

LONG = os.environ.get("KERNEL_EXT_FUZZ") == "long"
EXAMPLES = int(os.environ.get("KERNEL_EXT_FUZZ_EXAMPLES", "100" if LONG else "6"))
STEPS = int(os.environ.get("KERNEL_EXT_FUZZ_STEPS", "20" if LONG else "10"))

SETUP = """\
from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

app = FastAPI()
"""
USERS_MODULE = """\
from fastapi import APIRouter

router = APIRouter()


@router.get("/users/")
def list_users():
    return ["alice"]
"""
MODULE = "fuzz_users"

PROVIDERS = frozenset({"setup", "model", "dep", "exc", "router"})
SLOTS = st.integers(0, 2)
METHODS = st.sampled_from(["get", "post", "put", "delete"])
PATHS = st.sampled_from(["/a", "/b", "/items/{item_id}"])
STATUS = st.sampled_from([200, 201, 202])
VALUES = st.integers(0, 3)
USES = st.sampled_from(["none", "dep", "model"])


def route_source(slot: int, method: str, path: str, status: int, value: int, uses: str) -> str:
    params = ["item_id: int"] if "{item_id}" in path else []
    extra = ""
    if uses == "dep":
        params.append("d: int = Depends(get_value)")
        extra = ', "d": d'
    elif uses == "model" and method != "get":
        params.append("item: Item")
        extra = ', "item": item.model_dump()'
    return (
        f'@app.{method}("{path}", status_code={status})\n'
        f"def ep_{slot}({', '.join(params)}):\n"
        f'    return {{"cell": {slot}, "v": {value}{extra}}}\n'
    )


class Stats:
    sequences = 0
    steps = 0
    fresh_runs = 0
    seconds = 0.0
    divergences: dict[str, list[str]] = {}


class ReloadMachine(RuleBasedStateMachine):
    def __init__(self, ip: Any, workdir: Path, fresh: FreshRuns) -> None:
        super().__init__()
        self.nb = Notebook(ip, workdir, fresh)
        self.cells: dict[str, str] = {}
        self.history: list[str] = []
        Stats.sequences += 1

    # --- cells ----------------------------------------------------------------------------------

    def _run(self, cell_id: str, source: str, note: str = "") -> None:
        self.history.append(f"run {cell_id}{note}: {source!r}")
        self.nb.run(cell_id, source)
        self.cells[cell_id] = source
        Stats.steps += 1

    def _first_run(self, cell: str, provider: str) -> bool:
        """Whether `cell` first ran before `provider` (so a fresh run runs it first)."""
        order = [run.cell_id for run in self.nb.session.cells.current()]
        return cell in order and order.index(cell) < order.index(provider)

    @initialize()
    def setup(self) -> None:
        self._run("setup", SETUP)

    @rule(slot=SLOTS, method=METHODS, path=PATHS, status=STATUS, value=VALUES, uses=USES)
    def route(self, slot: int, method: str, path: str, status: int, value: int, uses: str) -> None:
        # A cell using a name that only a cell first run after it defines would fail in a fresh
        # run: a real difference (check explains it), but not one the engine can remove.
        provider = {"dep": "dep", "model": "model"}.get(uses)
        if provider is not None and (provider not in self.cells or self._first_run(f"route{slot}", provider)):
            uses = "none"
        self._run(f"route{slot}", route_source(slot, method, path, status, value, uses))

    @rule(slot=SLOTS, first=st.booleans())
    def route_raises_partway(self, slot: int, first: bool) -> None:
        cell = f"route{slot}" if not first else f"broken{slot}"
        source = route_source(slot, "get", "/partway", 200, slot, "none")
        self._run(
            cell,
            source
            + f'raise RuntimeError("partway")\n\n@app.get("/after{slot}")\ndef after_{slot}():\n    return 1\n',
        )

    @rule(
        fields=st.lists(
            st.sampled_from(["price: float = 0", "qty: int = 1", "tags: list[str] = []"]), unique=True
        )
    )
    def model(self, fields: list[str]) -> None:
        body = "".join(f"    {f}\n" for f in ["name: str = 'n'", *fields])
        self._run("model", f"class Item(BaseModel):\n{body}")

    @rule(version=VALUES, use_yield=st.booleans(), sub=st.booleans())
    def dependency(self, version: int, use_yield: bool, sub: bool) -> None:
        head = f"def get_sub(q: int = {version}):\n    return q\n\n\n"
        param = "s: int = Depends(get_sub)" if sub else f"s: int = {version}"
        give = "yield" if use_yield else "return"
        self._run("dep", head + f"def get_value({param}):\n    {give} s + {version}\n")

    @rule(value=st.none() | VALUES)
    def middleware(self, value: int | None) -> None:
        if value is None:
            self._run("mw", "# the middleware was edited away\n")
            return
        self._run(
            "mw",
            '@app.middleware("http")\nasync def tag(request, call_next):\n'
            f'    response = await call_next(request)\n    response.headers["x-tag"] = "{value}"\n    return response\n',
        )

    @rule(value=st.none() | VALUES)
    def not_found_handler(self, value: int | None) -> None:
        if value is None:
            self._run("h404", "# the handler was edited away\n")
            return
        self._run(
            "h404",
            "@app.exception_handler(404)\nasync def not_found(request, exc):\n"
            f'    return JSONResponse({{"nf": {value}}}, status_code=404)\n',
        )

    @rule()
    def exception_class(self) -> None:
        self._run("exc", "class Boom(Exception):\n    pass\n")

    @precondition(lambda self: "exc" in self.cells)
    @rule(value=VALUES)
    def boom_handler(self, value: int) -> None:
        self._run(
            "hboom",
            "@app.exception_handler(Boom)\nasync def on_boom(request, exc):\n"
            f'    return JSONResponse({{"boom": {value}}}, status_code=418)\n',
        )

    @rule()
    def boom_route(self) -> None:
        self._run("boom", '@app.get("/boom")\ndef boom():\n    raise Boom()\n')

    @rule(value=VALUES)
    def named_router(self, value: int) -> None:
        self._run("router", f'r1 = APIRouter()\n\n\n@r1.get("/x")\ndef r1x():\n    return {value}\n')

    @precondition(lambda self: "router" in self.cells)
    @rule(prefix=st.sampled_from(["/n", "/m"]))
    def include_named(self, prefix: str) -> None:
        self._run("include", f'app.include_router(r1, prefix="{prefix}")\n')

    @rule(prefix=st.sampled_from(["/u", "/v"]))
    def include_attribute(self, prefix: str) -> None:
        self._run(
            "users", f'import {MODULE} as users\n\napp.include_router(users.router, prefix="{prefix}")\n'
        )

    @rule(value=VALUES)
    def mount(self, value: int) -> None:
        self.nb.extra_paths.add(("GET", "/sub/s"))
        self._run(
            "mount",
            f'sub = FastAPI()\n\n\n@sub.get("/s")\ndef s():\n    return {value}\n\n\napp.mount("/sub", sub)\n',
        )

    @rule(value=VALUES)
    def startup(self, value: int) -> None:
        self._run(
            "startup",
            f'STATE = {{}}\n\n\n@app.on_event("startup")\ndef fill():\n    STATE["v"] = {value}\n\n\n'
            '@app.get("/state")\ndef state():\n    return STATE\n',
        )

    @precondition(lambda self: len(self.cells) > 1)
    @rule(data=st.data())
    def rerun(self, data: st.DataObject) -> None:
        cell = data.draw(st.sampled_from(sorted(c for c in self.cells if c != "setup")))
        self._run(cell, self.cells[cell], " again")

    @precondition(lambda self: any(c not in PROVIDERS for c in self.cells))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        # Not a cell whose names others use: a fresh run of what is left would fail on them.
        cell = data.draw(st.sampled_from(sorted(c for c in self.cells if c not in PROVIDERS)))
        self.history.append(f"delete {cell}")
        self.nb.delete(cell)
        del self.cells[cell]
        Stats.steps += 1

    # --- the oracle -----------------------------------------------------------------------------

    @invariant()
    def live_equals_a_fresh_run(self) -> None:
        found = self.nb.compare()
        divergences = [d for d in found if known_as(d) is None]
        for divergence in found:
            signature = known_as(divergence) or f"{divergence.what} | {divergence.detail.split(',')[0]}"
            if signature not in Stats.divergences:
                Stats.divergences[signature] = list(self.history)
                if LONG:
                    steps = "\n         ".join(self.history)
                    print(f"\nDIVERGENCE {divergence}\n  after: {steps}", flush=True)
        if not divergences or LONG:
            return
        steps = "\n".join(f"  {i + 1}. {h}" for i, h in enumerate(self.history))
        raise AssertionError(
            f"the live app differs from a fresh run:\n{report(divergences)}\nafter:\n{steps}"
        )

    def teardown(self) -> None:
        self.nb.close()


def test_live_app_equals_a_fresh_run_after_every_edit(harness: tuple[Any, Path, FreshRuns]) -> None:
    ip, workdir, fresh = harness

    (workdir / f"{MODULE}.py").write_text(USERS_MODULE)

    def machine() -> ReloadMachine:
        restart(ip, (MODULE,))  # each sequence imports the module beside the kernel afresh
        return ReloadMachine(ip, workdir, fresh)

    started = time.perf_counter()
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=not LONG,
            database=None,
            suppress_health_check=list(HealthCheck),
            print_blob=LONG,
        ),
    )
    Stats.seconds = time.perf_counter() - started
    Stats.fresh_runs = fresh.runs
    if LONG:
        print(
            f"\nfuzz-reload: {Stats.sequences} sequences, {Stats.steps} steps, {Stats.fresh_runs} fresh runs, "
            f"{len(Stats.divergences)} distinct divergences, {Stats.seconds:.0f} s"
        )
        for signature in Stats.divergences:
            print(f"  {signature}{' (known: a regression test pins it)' if signature in KNOWN else ''}")


def test_the_oracle_sees_a_stale_route_and_its_responses(harness: tuple[Any, Path, FreshRuns]) -> None:
    ip, workdir, fresh = harness
    restart(ip)
    nb = Notebook(ip, workdir, fresh)
    try:
        nb.run("setup", SETUP)
        nb.run("r", '@app.get("/a")\ndef a():\n    return 1\n')
        assert nb.compare() == []
        ip.user_ns["app"].get("/ghost")(lambda: 2)  # hidden state: registered by no cell
        found = [str(d) for d in nb.compare()]
        assert any(d.startswith("GET /ghost: stale route") for d in found), found
        assert any(d.startswith("GET /ghost: live status 200, fresh run 404") for d in found), found
    finally:
        nb.close()


def test_a_broken_cells_earlier_routes_are_expected_as_check_reports_them(
    harness: tuple[Any, Path, FreshRuns],
) -> None:
    ip, workdir, fresh = harness
    restart(ip)
    nb = Notebook(ip, workdir, fresh)
    try:
        nb.run("setup", SETUP)
        nb.run("r", '@app.get("/a")\ndef a():\n    return 1\n\n\n@app.get("/b")\ndef b():\n    return 2\n')
        nb.run("r", '@app.get("/a")\ndef a():\n    return 1\n\n\nraise RuntimeError("partway")\n')
        assert nb.compare() == []  # a broken cell changes nothing that served: intended
    finally:
        nb.close()
