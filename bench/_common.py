"""Shared by the bench scripts: result rows, a kernel, a poller, wrk (or an httpx fallback).

Every figure is a median over rounds; ratios compare with plain uvicorn measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tests.support.kernel import Kernel, start_kernel
from tests.support.ports import free_port
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent

PYTHON = sys.executable
# This sandbox sets PYTHONDONTWRITEBYTECODE, so every kernel would re-compile kernel_ext from
# source (~60 ms of a warm start). A user's install caches .pyc files: measure that.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# A quickstart-like app: a model, a path parameter, a query parameter, a response model.
APP = """\
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


ITEMS = {i: Item(name=f"item{i}", price=i * 1.5, tags=["a", "b"]) for i in range(100)}


@app.get("/")
async def root():
    return {"message": "Hello World"}


@app.get("/items/{item_id}", response_model=Item)
async def read_item(item_id: int, q: str | None = None):
    return ITEMS[item_id % 100]
"""


@dataclass
class Row:
    """One line of bench/RESULTS.md."""

    bench: str
    name: str
    value: float
    unit: str
    baseline: float | None = None  # the plain-uvicorn figure measured alongside
    ratio: float | None = None
    target: str = ""
    passed: bool | None = None  # None: a figure with no target
    note: str = ""


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], unit: str = "") -> str:
    return f"{len(values)} runs, {min(values):.3g}..{max(values):.3g}{unit}"


def cli(
    description: str,
    run: Callable[[argparse.Namespace], list[Row]],
    rounds: int = 5,
    options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """Standard entry point: `--rounds N`, `--json PATH` (for run_all), a printed table."""
    parser = argparse.ArgumentParser(description=description)
    if options is not None:
        options(parser)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds (smoke run)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    if args.quick:
        args.rounds = min(args.rounds, 2)
    rows = run(args)
    for row in rows:
        print(format_row(row))
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))


def format_row(row: Row) -> str:
    verdict = {True: "ok", False: "MISSED", None: ""}[row.passed]
    extra = f" (uvicorn {row.baseline:.4g}, ratio {row.ratio:.3g}x)" if row.ratio is not None else ""
    target = f" target {row.target}" if row.target else ""
    return f"{row.bench:<12} {row.name:<52} {row.value:10.4g} {row.unit:<6}{extra}{target} {verdict}"


def log(message: str) -> None:
    print(f"  · {message}", file=sys.stderr, flush=True)


# --- kernels and servers ----------------------------------------------------------------------


@contextmanager
def kernel(port: int | None = None, env: dict[str, str] | None = None) -> Iterator[Kernel]:
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        k = start_kernel(port)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    try:
        yield k
    finally:
        k.shutdown()


def check(k: Kernel, code: str, timeout: float = 120) -> None:
    reply = k.run(code, timeout=timeout)
    if reply.status != "ok":
        raise RuntimeError(f"bench cell failed:\n{code}\n{reply.traceback}")


@contextmanager
def uvicorn_process(
    app_source: str, workdir: Path, *extra: str, pids: dict[str, int] | None = None
) -> Iterator[str]:
    """`uvicorn bench_app:app` (uvloop, httptools) in its own process; yields its URL (and
    records its pid in `pids`, by URL)."""
    (workdir / "bench_app.py").write_text(app_source)
    port = free_port()
    command = [PYTHON, "-m", "uvicorn", "bench_app:app", "--port", str(port)]
    command += ["--loop", "uvloop", "--http", "httptools", *extra]
    process = subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    if pids is not None:
        pids[url] = process.pid
    try:
        wait_for(lambda: status(url + "/") == 200, timeout=60, step=0.001, what=url)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc): unlike req/s on a shared machine,
    CPU time per request does not depend on how busy the other cores are."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status(url: str) -> int | None:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        connection.request("GET", parts.path or "/")
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


class Poller:
    """GETs one URL in a tight loop on a keep-alive connection; notes when each body first appears."""

    def __init__(self, url: str) -> None:
        from urllib.parse import urlsplit

        self.parts = urlsplit(url)
        self.first_seen: dict[str, float] = {}
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def wait_for(self, body: str, timeout: float = 30) -> float:
        wait_for(lambda: body in self.first_seen, timeout, step=0.0005)
        return self.first_seen[body]

    def _run(self) -> None:
        import http.client

        connection: http.client.HTTPConnection | None = None
        while not self._stop.is_set():
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(self.parts.hostname, self.parts.port, timeout=5)
                connection.request("GET", self.parts.path)
                body = connection.getresponse().read().decode()
                self.first_seen.setdefault(body, time.perf_counter())
            except (OSError, http.client.HTTPException):
                self.errors += 1
                if connection is not None:
                    connection.close()
                connection = None
                time.sleep(0.001)


# --- load -------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors plus non-2xx responses
    tool: str


def load(url: str, connections: int, seconds: float) -> LoadResult:
    """Drive `url` from a separate process: wrk if installed, else an httpx client process."""
    if shutil.which("wrk"):
        return _wrk(url, connections, seconds)
    return _httpx_load(url, connections, seconds)


def _wrk(url: str, connections: int, seconds: float) -> LoadResult:
    duration = f"-d{max(1, round(seconds))}s"  # wrk takes whole seconds
    command = ["wrk", "-t1", f"-c{connections}", duration, "--latency", "--timeout", "5s", url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.M))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors += int(non_2xx.group(1)) if non_2xx else 0
    return LoadResult(rps, _ms(latency["50"]), _ms(latency["99"]), errors, "wrk")


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _httpx_load(url: str, connections: int, seconds: float) -> LoadResult:
    command = [PYTHON, "-m", "bench._common", "httpx-load", url, str(connections), str(seconds)]
    output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return LoadResult(**json.loads(output.strip().splitlines()[-1]))


async def _httpx_clients(url: str, connections: int, seconds: float) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                response = await http.get(url)
                if response.status_code >= 300:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - start)

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=5) as http:
        await asyncio.gather(*(client(http) for _ in range(connections)))
    latencies.sort()
    return {
        "rps": len(latencies) / seconds,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": errors,
        "tool": "httpx",
    }


if __name__ == "__main__" and sys.argv[1:2] == ["httpx-load"]:
    _, _, target, conns, secs = sys.argv
    print(json.dumps(asyncio.run(_httpx_clients(target, int(conns), float(secs)))))
