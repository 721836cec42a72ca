"""Memory over many edits: redefine a model, a dependency and the route using both, probe, repeat.

One edit cycle is three cells (sent with JupyterLab-style cell ids), then a POST to the route
that checks the answer reflects the edit. The kernel's resident memory (VmRSS) is read every
`SAMPLE_EVERY` cycles; growth per cycle is the least-squares slope over the cycles after the
first `WARMUP` (allocator arenas and caches filling up are not a leak).
The same cells also run in a kernel without kernel_ext, where `app` is a stand-in whose `post`
decorator returns the function unchanged: IPython keeps every cell's source (its input history,
`_i<N>`, the line cache for tracebacks), about 1 KB per cell in any notebook. kernel_ext's
figure is the difference; the total is in the notes.
Target: < 2 KB per cycle for kernel_ext, over 2,000 cycles.
Usage: .venv/bin/python -m bench.bench_memory [--cycles N] [--json PATH]
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench._common import Row, check, cli, kernel, log

CYCLES = 2000
WARMUP = 200
SAMPLE_EVERY = 50
SETUP = "from fastapi import FastAPI, Depends\nfrom pydantic import BaseModel\napp = FastAPI()"
STAND_IN = (
    "from fastapi import Depends\nfrom pydantic import BaseModel\n"
    "class StandIn:\n    def post(self, path, **options):\n        return lambda function: function\n"
    "app = StandIn()"
)
MODEL = "class Item(BaseModel):\n    name: str\n    version: int = {i}\n    tags: list[str] = []"
DEPENDENCY = "def paging(limit: int = {i}):\n    return {{'limit': limit}}"
ROUTE = (
    (
        "@app.post('/items')\ndef create(item: Item, page: dict = Depends(paging)) -> Item:\n"
        "    return Item(name=item.name, version=page['limit'])"
    )
    .replace("{", "{{")
    .replace("}", "}}")
)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def slope(points: list[tuple[int, int]]) -> float:
    """Least-squares KB per cycle."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in points)
    variance = sum((x - mean_x) ** 2 for x, _ in points)
    return covariance / variance if variance else 0.0


def cycles(with_extension: bool, count: int) -> tuple[list[tuple[int, int]], int]:
    """(cycle, RSS KB) samples, and the number of failed probes."""
    samples: list[tuple[int, int]] = []
    failures = 0
    with kernel() as k:
        pid = k.pid
        if with_extension:
            check(k, "%load_ext kernel_ext")
        check(k, SETUP if with_extension else STAND_IN)
        connection = None
        if with_extension:
            url = urlsplit(k.value("__import__('kernel_ext').base_url()"))
            connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        for i in range(1, count + 1):
            for cell_id, code in (("model", MODEL), ("dependency", DEPENDENCY), ("route", ROUTE)):
                reply = k.run(code.format(i=i), cell_id=cell_id)
                if reply.status != "ok":
                    raise RuntimeError(f"bench cell failed:\n{code}\n{reply.traceback}")
            if connection is not None:
                connection.request(
                    "POST", "/items", body=b'{"name": "x"}', headers={"content-type": "application/json"}
                )
                answer = connection.getresponse()
                body = answer.read()
                if answer.status != 200 or json.loads(body) != {"name": "x", "version": i, "tags": []}:
                    failures += 1
            if i % SAMPLE_EVERY == 0:
                samples.append((i, rss_kb(pid)))
            if i % 500 == 0:
                name = "kernel_ext" if with_extension else "plain"
                log(f"{name}: {i} cycles, RSS {samples[-1][1] / 1024:.1f} MB")
    return samples, failures


def run(args: argparse.Namespace) -> list[Row]:
    count = 300 if args.quick else args.cycles
    started = time.perf_counter()
    ours, failures = cycles(True, count)
    took = time.perf_counter() - started
    plain, _ = cycles(False, count)
    warm = [p for p in ours if p[0] > min(WARMUP, count // 4)]
    warm_plain = [p for p in plain if p[0] > min(WARMUP, count // 4)]
    total, ipython = slope(warm), slope(warm_plain)
    ours_only = total - ipython
    first, last = ours[0][1] / 1024, ours[-1][1] / 1024
    return [
        Row(
            "memory",
            f"kernel_ext's RSS growth per edit cycle (model + dependency + route, probed), {count:,} cycles",
            ours_only,
            "KB",
            target="< 2 KB",
            passed=ours_only < 2 and failures == 0,
            note=f"{total:.2f} KB per cycle in all (RSS {first:.1f} -> {last:.1f} MB), of which IPython's "
            f"own history of the same cells without kernel_ext {ipython:.2f} KB; {failures} wrong probes; "
            f"{took / count * 1000:.0f} ms per cycle",
        )
    ]


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cycles", type=int, default=CYCLES)


if __name__ == "__main__":
    cli(__doc__.splitlines()[0], run, rounds=1, options=options)
