"""Modules: saving an imported file, with `%api watch`, vs `uvicorn --reload` on the same file;
and what noticing module reloads adds to a cell that changes nothing.

Save to live: the same file `bench_app.py` (an APIRouter with GET /version, included by an app)
is saved with a new body. In a kernel, the notebook imports the router into its own app and runs
`%api watch`; the kernel is idle. uvicorn runs `bench_app:app --reload` (watchfiles). A poller
in this process GETs /version in a tight loop; the clock starts when the file has been written.
On both sides the first save warms up and is not counted. Target (issue 16): ≥ 20x faster.

No-op cost: an in-process IPython shell with kernel_ext and `%autoreload 2`, a package of 20
modules each serving a router and a model; a cell `pass`. Timed: the module check kernel_ext
runs per cell (the AST transformer after %autoreload's hook, and again after the cell).
Target: ≤ 1 ms.
Usage: .venv/bin/python -m bench.bench_modules [--rounds N] [--json PATH]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import (
    APP,
    Poller,
    Row,
    check,
    cli,
    free_port,
    kernel,
    log,
    median,
    spread,
    uvicorn_process,
)

MODULE = """\
from fastapi import APIRouter

router = APIRouter()
# {pad}


@router.get("/version")
async def read_version():
    return "v{n}"


app.include_router(router)
"""


def source(n: int) -> str:
    # A different length each save: bytecode is validated by whole-second mtime and size.
    return APP + MODULE.format(n=n, pad="." * n)


def in_kernel(rounds: int) -> list[float]:
    times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, kernel() as k:
        path = Path(tmp) / "bench_app.py"
        path.write_text(source(0))
        check(k, f"import sys\nsys.path.insert(0, {tmp!r})")
        check(k, "%load_ext kernel_ext")
        check(k, "from fastapi import FastAPI\nimport bench_app\n\napp = FastAPI()")
        check(k, "app.include_router(bench_app.router)")
        check(k, f"%api watch {tmp}")
        url = k.value("__import__('kernel_ext').base_url()")
        with Poller(url + "/version") as poller:
            poller.wait_for('"v0"')
            for n in range(1, rounds + 2):  # round 1 warms up and is not counted
                time.sleep(0.5)
                path.write_text(source(n))
                saved = time.perf_counter()
                seen = poller.wait_for(f'"v{n}"')
                if n > 1:
                    times.append((seen - saved) * 1000)
    return times


def with_uvicorn_reload(rounds: int) -> list[float]:
    times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench_app.py"
        with uvicorn_process(source(0), Path(tmp), "--reload") as url, Poller(url + "/version") as poller:
            poller.wait_for('"v0"', timeout=60)
            for n in range(1, rounds + 2):
                time.sleep(0.5)
                path.write_text(source(n))
                saved = time.perf_counter()
                seen = poller.wait_for(f'"v{n}"', timeout=60)
                if n > 1:
                    times.append((seen - saved) * 1000)
    return times


def noop_cost(rounds: int, modules: int = 20) -> list[float]:
    import os

    from IPython.testing.globalipapp import start_ipython

    os.environ["KERNEL_EXT_PORT"] = str(free_port())
    tmp = Path(tempfile.mkdtemp())
    package = tmp / "benchshop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for i in range(modules):
        (package / f"m{i}.py").write_text(
            "from fastapi import APIRouter\nfrom pydantic import BaseModel\n\nrouter = APIRouter()\n\n\n"
            f"class Item{i}(BaseModel):\n    name: str\n\n\n"
            f"@router.get('/m{i}')\ndef read() -> Item{i}:\n    return Item{i}(name='x')\n"
        )
    sys.path.insert(0, str(tmp))
    shell = start_ipython()
    shell.run_cell("%load_ext kernel_ext")
    shell.run_cell("%load_ext autoreload")
    shell.run_cell("%autoreload 2")
    imports = "\n".join(
        f"from benchshop import m{i}\napp.include_router(m{i}.router)" for i in range(modules)
    )
    shell.run_cell("from fastapi import FastAPI\napp = FastAPI()\n" + imports)
    from kernel_ext._session import Session

    watch = Session.current.modules
    spent = [0.0]
    original = watch.settle

    def timed() -> Any:
        start = time.perf_counter()
        try:
            return original()
        finally:
            spent[0] += time.perf_counter() - start

    watch.settle = timed  # both calls per cell go through it
    assert len(watch._tracked) >= modules, "the package's modules are tracked"
    for _ in range(20):  # warm-up
        shell.run_cell("pass", store_history=True)
    costs: list[float] = []
    for _ in range(rounds):
        spent[0] = 0.0
        shell.run_cell("pass", store_history=True)
        costs.append(spent[0] * 1000)
    shell.run_cell("%unload_ext kernel_ext")
    return costs


def run(args: argparse.Namespace) -> list[Row]:
    rounds = args.rounds
    kernel_times = in_kernel(rounds)
    log(f"%api watch: {[round(t, 1) for t in kernel_times]} ms")
    reload = with_uvicorn_reload(rounds)
    log(f"uvicorn --reload: {[round(t) for t in reload]} ms")
    ratio = median(reload) / median(kernel_times)
    noop = noop_cost(max(rounds * 40, 200))
    return [
        Row(
            "modules",
            "save an imported module -> new response (%api watch)",
            median(kernel_times),
            "ms",
            baseline=median(reload),
            ratio=ratio,
            target=">= 20x faster",
            passed=ratio >= 20,
            note=f"kernel {spread(kernel_times, ' ms')}; uvicorn --reload {spread(reload, ' ms')}",
        ),
        Row(
            "modules",
            "module check per cell that changes nothing (20 modules, %autoreload 2)",
            median(noop),
            "ms",
            target="<= 1 ms",
            passed=median(noop) <= 1,
            note=spread(noop, " ms"),
        ),
    ]


if __name__ == "__main__":
    cli(__doc__.splitlines()[0], run, rounds=7)
