"""Contract diff: what the diff under a cell costs, after the cell's changes already serve.

In-process IPython shell with kernel_ext loaded (its real server running), an app of N
operations (each with a query parameter, a body model or a response model). Timed: the
contract watch's post_run_cell callback, which runs after the session's own hooks have made the
change live, for a cell that changes one route's contract, one that redefines a model two routes
use, and one that redefines a route without changing its contract (nothing is printed).
Target (issue 15): <= 20 ms for 200 operations. The note gives the thread's CPU time too: on a
busy machine the wall-clock figure mostly measures waiting for a core.
Usage: .venv/bin/python -m bench.bench_contract_diff [--rounds N] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from bench._common import Row, cli, free_port, log, median, spread

SIZES = tuple(int(n) for n in os.environ.get("BENCH_DIFF_SIZES", "200,1000").split(","))
BUILD = """\
from fastapi import FastAPI
from pydantic import BaseModel
app = FastAPI()
class Item(BaseModel):
    name: str
    price: float = 0
class Other(BaseModel):
    name: str
def _add(i):
    if i % 3 == 0:
        def endpoint(item_id: int, q: str | None = None) -> Other: return Other(name="x")
        app.get(f"/r{{i}}/{{{{item_id}}}}")(endpoint)
    elif i % 3 == 1:
        def endpoint(body: Other) -> Other: return body
        app.post(f"/r{{i}}")(endpoint)
    else:
        def endpoint(q: int = 0): return q
        app.delete(f"/r{{i}}")(endpoint)
    endpoint.__name__ = f"endpoint_{{i}}"
for _i in range({n} - 2):
    _add(_i)
@app.post("/items")
def create_item(item: Item) -> Item:
    return item
@app.get("/items/{{item_id}}")
def read_item(item_id: int) -> Item:
    return Item(name="x")
"""
CASES = {
    "one route's contract changed": (
        '@app.get("/items/{{item_id}}")\ndef read_item(item_id: int, v{i}: int = 0) -> Item:\n'
        '    return Item(name="x")\n'
    ),
    "a model two routes use redefined": "class Item(BaseModel):\n    name: str\n    price: float = {i}\n",
    "a route redefined, contract unchanged": (
        '@app.get("/items/{{item_id}}")\ndef read_item(item_id: int, v: int = 0) -> Item:\n'
        '    return Item(name="{i}")\n'
    ),
}


class Timed:
    """Wraps the contract watch's callback in the shell's post_run_cell list with a timer."""

    def __init__(self, shell: Any, session: Any) -> None:
        self.shell, self.watch = shell, session.contract
        self.last = 0.0
        self.cpu = 0.0  # this thread's CPU time: what the diff costs, whatever else the box runs
        self.shown = False

    def __enter__(self) -> Timed:
        callbacks = self.shell.events.callbacks["post_run_cell"]
        callbacks[callbacks.index(self.watch.after_cell)] = self._timed
        return self

    def __exit__(self, *exc: object) -> None:
        callbacks = self.shell.events.callbacks["post_run_cell"]
        callbacks[callbacks.index(self._timed)] = self.watch.after_cell

    def _timed(self, result: Any) -> None:
        before = self.watch.last
        start, cpu = time.perf_counter(), time.thread_time()
        self.watch.after_cell(result)
        self.last, self.cpu = time.perf_counter() - start, time.thread_time() - cpu
        self.shown = self.watch.last is not before

    def run(self, code: str) -> tuple[float, float, bool]:
        result = self.shell.run_cell(code, store_history=True)
        if not result.success:
            raise RuntimeError(f"bench cell failed: {result.error_in_exec or result.error_before_exec}")
        return self.last * 1000, self.cpu * 1000, self.shown


def measure(shell: Any, session: Any, n: int, rounds: int) -> dict[str, tuple[list[float], list[float]]]:
    """Per case: wall-clock and CPU milliseconds of the diff, one per round."""
    shell.run_cell(BUILD.format(n=n), store_history=True)
    results: dict[str, tuple[list[float], list[float]]] = {}
    with Timed(shell, session) as timed:
        for name, cell in CASES.items():
            timed.run(cell.format(i=rounds))  # warm-up
            wall, cpu = [], []
            for i in range(rounds):
                ms, cpu_ms, shown = timed.run(cell.format(i=i))
                assert shown == ("unchanged" not in name), (name, shown)
                wall.append(ms)
                cpu.append(cpu_ms)
            results[name] = (wall, cpu)
    return results


def run(args: argparse.Namespace) -> list[Row]:
    import io
    from contextlib import redirect_stdout

    from IPython.testing.globalipapp import start_ipython

    os.environ["KERNEL_EXT_PORT"] = str(free_port())
    shell = start_ipython()
    shell.run_line_magic("load_ext", "kernel_ext")
    from kernel_ext._session import current_session

    session = current_session()
    assert session is not None and session.running
    rows = []
    for n in SIZES:
        with redirect_stdout(io.StringIO()):  # the diffs themselves, printed under each cell
            results = measure(shell, session, n, max(args.rounds, 5))
        log(f"{n} operations: " + ", ".join(f"{k} {median(v[0]):.2f} ms" for k, v in results.items()))
        for name, (figures, cpu) in results.items():
            value = median(figures)
            budget = n <= 200
            rows.append(
                Row(
                    "contract diff",
                    f"{name}, {n} operations",
                    value,
                    "ms",
                    target="<= 20 ms" if budget else "",
                    passed=value <= 20 if budget else None,
                    note=f"{spread(figures, ' ms')}; CPU time {median(cpu):.1f} ms; after the change serves",
                )
            )
    return rows


if __name__ == "__main__":
    cli(__doc__.splitlines()[0], run, rounds=20)
